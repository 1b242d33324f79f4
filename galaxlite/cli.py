"""The ``galaxlite`` command line: a thin skin over ``galaxlite.Database``.

    galaxlite DB "SQL"                      run SQL (the default command: ``query``)
    galaxlite query DB "SQL" --format csv   ... as table, csv, json or jsonl
    galaxlite shell DB                      interactive shell
    galaxlite tags | info | snapshots | lineage | export | demo

Errors print one line, ``galaxlite: error: <message>``, on stderr and exit non-zero
(1; 2 for a usage error); ``--debug`` adds the traceback.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

import click

from galaxlite import __version__, transpile
from galaxlite import errors as E
from galaxlite.database import Database, Result
from galaxlite.storage.snapshot_catalog import Snapshot

FORMATS = ("table", "csv", "json", "jsonl")
PRECISIONS = tuple(transpile.PRECISIONS)
MAX_CELL = 80  # characters of one table cell before it is cut with an ellipsis
MAX_SEED = 2**64 - 1


class _State:
    """What the error handler in ``main`` needs to know about the command line."""

    debug = bool(os.environ.get("GALAXLITE_DEBUG"))


STATE = _State()


# ------------------------------------------------------------------ output


def cell(value: Any) -> str:
    """One value as table text: NULL, numbers as SQLite shows them, blobs as hex."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        if len(value) <= 16:
            return "x'" + value.hex() + "'"
        return f"x'{value[:8].hex()}…' ({len(value)} bytes)"
    text = str(value).replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def table_lines(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """An aligned text table: a header, a rule, the rows (numbers right-aligned)."""
    texts = [[cell(v) for v in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in texts:
        for i, t in enumerate(row):
            widths[i] = max(widths[i], len(t))
    numeric = [
        all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) and bool(rows)
        for i in range(len(columns))
    ]

    def line(values: Sequence[str], header: bool = False) -> str:
        parts = [
            v.rjust(w) if num and not header else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return " " + " | ".join(parts).rstrip()

    rule = "-" + "-+-".join("-" * w for w in widths) + "-"
    return [line(columns, header=True), rule, *(line(r) for r in texts)]


def _json_value(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


def _csv_value(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


def write_rows(out: TextIO, columns: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str) -> int:
    """Write a result set to ``out`` in ``fmt``; returns the number of rows."""
    if fmt == "table":
        buffered = list(rows)
        for text in table_lines(columns, buffered):
            out.write(text + "\n")
        n = len(buffered)
        out.write(f"({n} row{'' if n == 1 else 's'})\n")
        return n
    n = 0
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_value(v) for v in row])
            n += 1
    elif fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(dict(zip(columns, map(_json_value, row), strict=True))) + "\n")
            n += 1
    elif fmt == "json":
        out.write("[")
        for row in rows:
            out.write(",\n " if n else "\n ")
            out.write(json.dumps(dict(zip(columns, map(_json_value, row), strict=True))))
            n += 1
        out.write("\n]\n" if n else "]\n")
    else:
        raise click.BadParameter(f"unknown format {fmt!r}")
    return n


def write_result(out: TextIO, result: Result, fmt: str) -> None:
    """A statement's rows (if it has a result set), or how many rows it changed (table)."""
    description = result.description
    if description is not None:
        write_rows(out, [d[0] for d in description], result, fmt)
    elif fmt == "table" and result.rowcount >= 0:
        n = result.rowcount
        out.write(f"{n} row{'' if n == 1 else 's'} changed\n")


def statements(sql: str) -> list[str]:
    """The statements of a script, each as its own text."""
    try:
        return [s.text for s in transpile.split_statements(sql)]
    except transpile.TranspileError as exc:
        raise E.from_transpile(exc) from None


def run_sql(db: Database, sql: str, fmt: str, out: TextIO) -> None:
    """Run every statement of ``sql`` in order (each commits on its own, as in the sqlite3
    shell, unless the SQL has its own BEGIN ... COMMIT) and write each result."""
    for text in statements(sql):
        write_result(out, db.execute(text), fmt)
        out.flush()


def when(version_us: int) -> str:
    """A µs version as UTC date and time."""
    moment = datetime.datetime.fromtimestamp(version_us / 1e6, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def tag_rows(db: Database) -> tuple[list[str], list[tuple]]:
    columns = ["name", "version", "created (UTC)", "for training", "precision", "seed"]
    rows = [
        (t.name, t.version, when(t.created_us)[:-4], "yes" if t.for_training else "no",
         t.precision or "", "" if t.seed is None else t.seed)
        for t in db.tags()
    ]
    return columns, rows


def print_listing(db: str, rows: Callable[[Database], tuple[list[str], list[tuple]]], fmt: str) -> None:
    """Print ``rows(database)`` (column names, rows) of database ``db`` in format ``fmt``."""
    with Database(db) as database:
        columns, found = rows(database)
        write_rows(sys.stdout, columns, found, fmt)


def snapshot_rows(db: Database) -> tuple[list[str], list[tuple]]:
    """The dataset snapshots as a table (``galaxlite snapshots``, the shell's .snapshots)."""
    columns = ["name", "parent", "mode", "rows", "published", "archived", "created (UTC)",
               "comment"]
    rows = [
        (s.name, s.parent or "", s.mode, s.row_count, "yes" if s.published else "no",
         "yes" if s.archived else "no", s.created[:19], s.comment or "")
        for s in db.snapshots()
    ]
    return columns, rows


def lineage_lines(chain: Sequence[Snapshot]) -> list[str]:
    """How each snapshot of a lineage (root first) was made, one block per snapshot."""
    lines = []
    for snap in chain:
        state = ", ".join(
            [f"from {snap.parent}" if snap.parent else "root", snap.mode,
             f"{snap.row_count} row{'' if snap.row_count == 1 else 's'}"]
            + (["published"] if snap.published else []) + (["archived"] if snap.archived else [])
        )
        lines.append(f"{snap.name}  ({state}; created {snap.created[:19]} UTC)")
        if snap.comment:
            lines.append(f"    -- {snap.comment}")
        lines += [f"    {text}" for text in snap.statements]
    return lines


# ------------------------------------------------------------------ the command group


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        STATE.debug = True


def debug_option(f):
    """``--debug`` on every command: show the traceback of an error."""
    return click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_debug,
        help="Show the full traceback of an error.",
    )(f)


class GalaxliteGroup(click.Group):
    """A click group whose default command is ``query``: ``galaxlite DB "SQL"``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        for i, arg in enumerate(args):
            if arg == "--":
                break
            if arg.startswith("-"):
                continue
            if arg not in self.commands:
                args = [*args[:i], "query", *args[i:]]
            break
        return super().parse_args(ctx, args)


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
DB_PATH = click.Path(dir_okay=True, path_type=str)
EXISTING_DB = click.Path(exists=True, dir_okay=True, path_type=str)


@click.group(cls=GalaxliteGroup, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="galaxlite")
@debug_option
def cli() -> None:
    """galaxlite: a single-file, versioned SQL database for ML training data.

    DB is a database file (shop.db) or a directory (./data, which holds galaxlite.db and
    the exports/ folder). Without a command, the arguments go to `query`.

    \b
    Examples:
      galaxlite shop.db "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"
      galaxlite shop.db "SELECT * FROM items AT VERSION 'v1'" --format json
      galaxlite shell shop.db
      galaxlite demo
    """


@cli.command()
@click.argument("db", type=DB_PATH)
@click.argument("sql", required=False)
@click.option("-f", "--file", "sql_file", type=click.File("r"), help="Read the SQL from FILE ('-': stdin).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="How to print result rows.")
@debug_option
def query(db: str, sql: str | None, sql_file: TextIO | None, fmt: str) -> None:
    """Run SQL on database DB and print the results.

    SQL may hold several statements separated by ';' (each commits on its own unless the
    SQL has its own BEGIN ... COMMIT). Give it as an argument, with -f FILE, or as '-' or
    nothing to read standard input. `galaxlite DB "SQL"` is short for this command.

    \b
    Examples:
      galaxlite query shop.db "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"
      galaxlite query shop.db "INSERT INTO items (name) VALUES ('apple'); CREATE VERSION TAG 'v1'"
      galaxlite query shop.db "SELECT * FROM items AT VERSION 'v1'" --format csv
      galaxlite query shop.db -f cleanup.sql
      echo "SELECT count(*) FROM items" | galaxlite query shop.db --format json
    """
    text = _sql_text(sql, sql_file)
    out = sys.stdout
    with Database(db) as database:
        run_sql(database, text, fmt, out)


def _sql_text(sql: str | None, sql_file: TextIO | None) -> str:
    if sql is not None and sql_file is not None:
        raise click.UsageError("give the SQL either as an argument or with -f FILE, not both")
    if sql_file is not None:
        return sql_file.read()
    if sql is None or sql == "-":
        stdin = sys.stdin
        if sql is None and stdin.isatty():
            raise click.UsageError("no SQL given (as an argument, with -f FILE, or on standard input)")
        return stdin.read()
    return sql


@cli.command()
@click.argument("db", type=DB_PATH)
@debug_option
def shell(db: str) -> None:
    """Interactive SQL shell on database DB.

    Statements end with ';' and may span lines; history is kept in ~/.galaxlite_history
    (or $GALAXLITE_HISTORY). Meta commands: .tables .schema [TABLE] .tags .snapshots
    .mode FORMAT .help .quit. With standard input not a terminal, it runs the statements
    read from it without prompts.

    \b
    Example:
      galaxlite shell shop.db
      galaxlite> SELECT count(*) FROM items
           ...> AT VERSION 'v1';
    """
    from galaxlite.shell import Shell

    with Database(db) as database:
        code = Shell(database).run()
    if code:
        sys.exit(code)


def listing_command(rows: Callable[[Database], tuple[list[str], list[tuple]]]):
    """Make the decorated function a command ``galaxlite NAME DB [--format F]`` that prints
    ``rows(database)``; the function gives the command its name and help text."""

    def decorate(described: Callable[[], None]) -> click.Command:
        @cli.command(name=described.__name__, help=described.__doc__)
        @click.argument("db", type=EXISTING_DB)
        @click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
        @debug_option
        def command(db: str, fmt: str) -> None:
            print_listing(db, rows, fmt)

        return command

    return decorate


@listing_command(tag_rows)
def tags() -> None:
    """List the version tags of database DB, oldest first.

    \b
    Example:
      galaxlite tags shop.db
      galaxlite tags shop.db --format json
    """


@listing_command(snapshot_rows)
def snapshots() -> None:
    """List the dataset snapshots (CREATE SNAPSHOT ...) of database DB, oldest first.

    \b
    Example:
      galaxlite snapshots shop.db
      galaxlite snapshots shop.db --format json
    """


@cli.command()
@click.argument("db", type=EXISTING_DB)
@click.argument("snapshot", metavar="NAME@VERSION")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text",
              show_default=True)
@debug_option
def lineage(db: str, snapshot: str, fmt: str) -> None:
    """Show how snapshot NAME@VERSION was made, from its root to it.

    NAME@VERSION is the snapshot's full name, written with the version delimiter in force
    (db4ai_snapshot_version_delimiter, '@' unless changed).

    \b
    Example:
      galaxlite lineage shop.db cars@1.0.0
      galaxlite lineage shop.db cars_train@2.0.0 --format json
    """
    with Database(db) as database:
        delimiter = database.query("SHOW db4ai_snapshot_version_delimiter")[0][0]
        name, sep, version = snapshot.rpartition(delimiter)
        if not sep or not name or not version:
            raise click.BadParameter(
                f"expected NAME{delimiter}VERSION, got {snapshot!r}", param_hint="NAME@VERSION"
            )
        chain = database.lineage(snapshot)
    if fmt == "json":
        fields = ("name", "parent", "mode", "row_count", "published", "archived", "created",
                  "comment", "commands", "statements")
        data = [{f: getattr(s, f) for f in fields} for s in chain]
        sys.stdout.write(json.dumps(data, indent=1) + "\n")
        return
    for line in lineage_lines(chain):
        sys.stdout.write(line + "\n")


@cli.command()
@click.argument("db", type=EXISTING_DB)
@click.argument("tag")
@click.option("--precision", type=click.Choice(PRECISIONS), default="float32", show_default=True,
              help="How vectors are stored in the exported datasets.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED),
              help="Shuffle the rows with this seed (default: primary-key order).")
@debug_option
def export(db: str, tag: str, precision: str, seed: int | None) -> None:
    """Create training tag TAG and export every versioned table as a Lance dataset.

    Same as `CREATE VERSION TAG 'TAG' FOR TRAINING WITH TRAINING PRECISION 'P' TRAINING
    SEED n`. The datasets go to the database's exports folder (DB/exports for a directory
    database, DB.exports for a file), one folder per tag; a progress bar shows on standard
    error and the datasets are listed on standard output. All or nothing: after an error
    there is no tag and no folder.

    \b
    Examples:
      galaxlite export ./data train-v1
      galaxlite export ./data train-v1-sq8 --precision sq8 --seed 42
    """
    if not tag:
        raise click.BadParameter("a tag name must not be empty", param_hint="TAG")
    bar = ExportProgress(f"exporting tag {tag!r} ({precision})")
    with Database(db) as database:
        try:
            version = database.create_training_snapshot(
                tag, seed=seed, precision=precision, progress=bar.update
            )
        finally:
            bar.close()
        done = [e for e in database.exports(tag) if e.version == version]
        order = "primary-key order" if seed is None else f"shuffled with seed {seed}"
        folder = f" to {Path(done[0].path).parent}" if done else ""
        click.echo(
            f"tag {tag!r} = version {version}: {len(done)} table{'' if len(done) == 1 else 's'} "
            f"exported ({precision}, {order}){folder}"
        )
        if done:
            rows = [(e.table, e.rows, Path(e.path).name) for e in done]
            for line in table_lines(["table", "rows", "dataset"], rows):
                click.echo(line)


class ExportProgress:
    """A click progress bar on stderr, fed by ``create_training_snapshot(progress=...)``; made
    at the first report, when the total is known (only its label shows when stderr is not a
    terminal)."""

    def __init__(self, label: str):
        self.label = label
        self.bar = None
        self.shown = 0

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr,
                                         show_pos=True, show_eta=True)
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def export_rows(db: Database, full: bool = False) -> tuple[list[str], list[tuple]]:
    """The training exports as a table, one row per exported table: short hashes and paths
    relative to the exports folder (``galaxlite info``), or in ``full`` (``galaxlite exports``)."""
    columns = ["tag", "table", "rows", "precision", "seed", "content hash", "dataset"]
    root = db.exports_dir.resolve() if db.exports_dir is not None else None
    rows = []
    for e in db.exports():
        path = Path(e.path)
        short = not full and root is not None and path.is_relative_to(root)
        rows.append((e.tag, e.table, e.rows, e.precision, "" if e.seed is None else e.seed,
                     e.content_hash if full else e.content_hash.split(":")[-1][:12],
                     str(path.relative_to(root)) if short else e.path))
    return columns, rows


@listing_command(lambda database: export_rows(database, full=True))
def exports() -> None:
    """List the training exports of database DB (one Lance dataset per table), oldest first.

    \b
    Example:
      galaxlite exports shop.db
      galaxlite exports shop.db --format json
    """


@cli.command()
@click.argument("db", type=EXISTING_DB)
@debug_option
def info(db: str) -> None:
    """Show sizes, tables with their history depth, tags and exports of DB.

    \b
    Example:
      galaxlite info shop.db
    """
    out = sys.stdout
    with Database(db) as database:
        for line in info_lines(database):
            out.write(line + "\n")


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _count(db: Database, table: str) -> int | str:
    try:
        return db.query(f"SELECT count(*) FROM {transpile.quote_identifier(table)}")[0][0]
    except E.Error:
        return "?"


def versioned_table_rows(db: Database) -> list[tuple]:
    """(table, current rows, history rows, schema versions) of every versioned table ever made."""
    catalog = db.query(
        "SELECT t.name, t.history, t.valid_to IS NULL, "
        "(SELECT count(*) FROM galaxlite_tables s WHERE s.table_id = t.table_id) "
        "FROM galaxlite_tables t WHERE t.valid_from = "
        "(SELECT max(valid_from) FROM galaxlite_tables s WHERE s.table_id = t.table_id) "
        "ORDER BY t.name COLLATE NOCASE, t.table_id"
    )
    return [
        (name if live else f"{name} (dropped)", _count(db, name) if live else "-",
         _count(db, history), schemas)
        for name, history, live, schemas in catalog
    ]


def plain_tables(db: Database) -> list[str]:
    """User tables that are not versioned (WITHOUT VERSIONING)."""
    versioned = {n.lower() for n in db.versioned_tables()}
    names = db.query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
        "AND name NOT LIKE '\\_gl\\_%' ESCAPE '\\' AND name NOT LIKE 'galaxlite\\_%' ESCAPE '\\' "
        "AND name <> 'db4ai_snapshot' ORDER BY name"
    )
    return [n for (n,) in names if n.lower() not in versioned]


def info_lines(db: Database) -> list[str]:
    """The report of ``galaxlite info``."""
    size, wal = _file_size(db.filename), _file_size(db.filename + "-wal")
    lines = [
        f"database  {os.path.abspath(db.filename)}",
        f"size      {human_size(size)} ({size:,} bytes); WAL {human_size(wal)}",
        f"version   {db.version}" + (f" ({when(db.version)})" if db.version else " (no writes yet)"),
    ]
    exports = db.exports_dir
    export_columns, exported = export_rows(db)
    if exports is None:
        lines.append("exports   none (in-memory database)")
    elif exported:
        n = len({e.version for e in db.exports()})
        lines.append(
            f"exports   {exports.resolve()} ({len(exported)} dataset{'s' if len(exported) != 1 else ''} "
            f"in {n} export{'s' if n != 1 else ''})"
        )
    else:
        lines.append(f"exports   {exports.resolve()} (none yet)")
    tables = versioned_table_rows(db)
    lines += ["", f"versioned tables: {len(tables)}"]
    if tables:
        lines += table_lines(["table", "rows", "history rows", "schema versions"], tables)
    plain = plain_tables(db)
    if plain:
        lines += ["", f"plain tables (not versioned): {len(plain)}"]
        lines += table_lines(["table", "rows"], [(n, _count(db, n)) for n in plain])
    columns, rows = tag_rows(db)
    lines += ["", f"tags: {len(rows)}"]
    if rows:
        lines += table_lines(columns[:3], [r[:3] for r in rows])
    if exported:
        lines += ["", f"training exports: {len(exported)} dataset{'s' if len(exported) != 1 else ''}"]
        lines += table_lines(export_columns, exported)
    columns, rows = snapshot_rows(db)
    if rows:
        lines += ["", f"dataset snapshots: {len(rows)}"]
        lines += table_lines(columns[:5], [r[:5] for r in rows])
    return lines


@cli.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=str))
@click.option("--fixtures", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder with the demo's data (default: the fixtures/demo folder of galaxlite).")
@debug_option
def demo(directory: str | None, fixtures: Path | None) -> None:
    """Build a demo database and show what galaxlite does, step by step.

    The database goes to DIRECTORY (default: a new temporary folder, printed). The demo
    loads documents with BULK INSERT, tags versions, updates and deletes rows, travels in
    time with AT VERSION, and changes the schema while the past stays readable.

    \b
    Examples:
      galaxlite demo
      galaxlite demo ./demo-db && galaxlite shell ./demo-db
    """
    from galaxlite.demo import run_demo

    run_demo(directory, fixtures, sys.stdout)


# ------------------------------------------------------------------ entry point


def _one_line(message: str) -> str:
    return " ".join(message.split())


def fail(message: str, code: int = 1) -> int:
    """Print the one-line error; return the exit code."""
    click.echo(f"galaxlite: error: {_one_line(message)}", err=True)
    return code


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: run the CLI, turn every error into one line and an exit code."""
    sys.exit(run(list(sys.argv[1:] if argv is None else argv)))


def run(argv: list[str]) -> int:
    """Run the CLI on ``argv``; returns the exit code."""
    try:
        result = cli.main(args=argv, prog_name="galaxlite", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.format_message() if hasattr(exc, "format_message") else str(exc))
        return 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        return fail("aborted", 130)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        return fail(exc.format_message() + hint, exc.exit_code)
    except click.ClickException as exc:
        return fail(exc.format_message(), exc.exit_code)
    except (E.Error, E.Warning) as exc:
        _traceback()
        return fail(str(exc))
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except KeyboardInterrupt:
        _traceback()
        return fail("interrupted", 130)
    except OSError as exc:
        _traceback()
        return fail(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
    except Exception as exc:  # noqa: BLE001 - the CLI's promise: one line, no traceback
        _traceback()
        return fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")


def _traceback() -> None:
    if STATE.debug:
        traceback.print_exc()


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so that flushing at exit is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    main()
