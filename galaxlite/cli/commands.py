"""The ``galaxlite`` command line: a thin skin over ``galaxlite.Database``.

    galaxlite DB "SQL"                      run SQL (the default command: ``query``)
    galaxlite query DB "SQL" --format csv   ... as table, csv, json or jsonl
    galaxlite shell DB                      interactive shell
    galaxlite tags | info | snapshots | lineage | export | check | backup | demo

Errors print one line, ``galaxlite: error: <message>``, on stderr and exit non-zero
(1; 2 for a usage error); ``--debug`` adds the traceback.

This module holds the click group ``cli``, its general commands and the options commands
share (``--debug``; ``--exports`` / ``--storage-option``, the exports location, with
``open_db``); ``galaxlite.cli`` runs it and turns what it raises into that one line. What the commands print comes from ``galaxlite.cli.output``,
the ``shell`` command's loop from ``galaxlite.cli.shell`` and the ``demo`` command's narration
from ``galaxlite.cli.demo``.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import click

from galaxlite import Database, __version__, transpile
from galaxlite.cli.demo import run_demo
from galaxlite.cli.output import (
    FORMATS,
    Listing,
    info_lines,
    lineage_lines,
    snapshot_rows,
    tag_rows,
    write_rows,
)
from galaxlite.cli.running import OPEN_TRANSACTION, interruptible, run_sql
from galaxlite.cli.shell import Shell
from galaxlite.storage.files import OBJECT_STORE_SCHEMES, is_uri


class _State:
    """What the error handler of ``galaxlite.cli.run`` needs to know about the command line."""

    debug = bool(os.environ.get("GALAXLITE_DEBUG"))
    dialect = "sqlite"  # --dialect: how query and shell read SQL
    exports: str | None = None  # --exports: the exports location (None: next to the database)
    storage_options: dict[str, str] = {}  # --storage-option KEY=VALUE, for an object store


STATE = _State()


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


def _set_exports(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None and is_uri(value):
        scheme = value.partition("://")[0]
        if scheme.lower() not in OBJECT_STORE_SCHEMES:
            raise click.BadParameter(
                f"{scheme}:// is not supported as an exports location (s3:// is, including "
                "S3-compatible servers with --storage-option aws_endpoint=URL; a folder needs no scheme)"
            )
    if value == "":
        raise click.BadParameter("the exports location must not be empty")
    STATE.exports = value


def _set_storage_options(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> None:
    options = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}")
        options[key.strip()] = value
    STATE.storage_options = options


def exports_options(f):
    """``--exports LOCATION`` and ``--storage-option KEY=VALUE`` (repeatable) on a command
    whose database's training exports matter: where they are (see ``open_db``)."""
    f = click.option(
        "--storage-option", "storage_options", metavar="KEY=VALUE", multiple=True, expose_value=False,
        callback=_set_storage_options,
        help="A Lance storage option for an object-store --exports (aws_access_key_id, "
        "aws_secret_access_key, aws_region, aws_endpoint, allow_http, ...); repeatable.",
    )(f)
    return click.option(
        "--exports", metavar="LOCATION", expose_value=False, callback=_set_exports,
        help="Where DB's training exports are: a folder, or an object store URI "
        "(s3://bucket/prefix). Default: DB/exports, or DB.exports for a file.",
    )(f)


def open_db(path: str, **options) -> Database:
    """``Database(path, **options)`` with the exports location given by ``--exports`` and
    ``--storage-option`` (``exports_options``)."""
    if STATE.storage_options and (STATE.exports is None or not is_uri(STATE.exports)):
        raise click.UsageError("--storage-option goes with an object store --exports LOCATION (s3://bucket/prefix)")
    return Database(path, exports=STATE.exports, storage_options=STATE.storage_options or None, **options)


def _set_dialect(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        STATE.dialect = value


class GalaxliteGroup(click.Group):
    """A click group whose default command is ``query``: ``galaxlite DB "SQL"``.

    A first word that is no command is a database only when it looks like one (it exists,
    or has a suffix or a folder: ``shop.db``, ``./data``); otherwise it is a mistyped command
    (``galaxlite infos shop.db``), refused before anything is created.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        for i, arg in enumerate(args):
            if arg == "--":
                break
            if arg.startswith("-") or (i > 0 and args[i - 1] == "--dialect"):
                continue
            if arg not in self.commands:
                if not looks_like_database(arg):
                    ctx.fail(no_such_command(arg, list(self.commands)))
                args = [*args[:i], "query", *args[i:]]
            break
        return super().parse_args(ctx, args)


def looks_like_database(arg: str) -> bool:
    """Is ``arg`` a database path rather than a word (``shop.db``, ``./data``, ``:memory:``)?"""
    path = Path(arg)
    return arg == ":memory:" or path.exists() or bool(path.suffix) or os.sep in arg or "/" in arg


def no_such_command(word: str, commands: list[str]) -> str:
    """The usage error for a first word that is neither a command nor a database path."""
    close = difflib.get_close_matches(word, commands, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return (f"no such command '{word}'{hint}; to run SQL on a new database, give its file name "
            f"with a suffix or a folder path: {word}.db, ./{word}")


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
DB_PATH = click.Path(dir_okay=True, path_type=str)
EXISTING_DB = click.Path(exists=True, dir_okay=True, path_type=str)


@click.group(cls=GalaxliteGroup, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="galaxlite")
@click.option("--dialect", type=click.Choice(transpile.DIALECTS), expose_value=False, is_eager=True,
              callback=_set_dialect, help="SQL dialect of query and shell (default sqlite: as written; "
              "postgres: translated by sqlglot).")
@debug_option
def cli() -> None:
    """galaxlite: a single-file, versioned SQL database for ML training data.

    DB is a database file (shop.db) or a directory (./data, which holds galaxlite.db and
    the exports/ folder). Without a command, the arguments go to `query`. Commands whose
    training exports matter take --exports LOCATION (a folder, or s3://bucket/prefix with
    --storage-option KEY=VALUE) for exports kept elsewhere.

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
@exports_options
@debug_option
def query(db: str, sql: str | None, sql_file: TextIO | None, fmt: str) -> None:
    """Run SQL on database DB and print the results.

    SQL may hold several statements separated by ';' (each commits on its own unless the
    SQL has its own BEGIN ... COMMIT; SQL that leaves a transaction open is rolled back and
    exits with status 1). Give it as an argument, with -f FILE, or as '-' or nothing to read
    standard input. Ctrl-C stops a running statement. `galaxlite DB "SQL"` is short for this
    command.

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
    with interruptible(open_db(db, dialect=STATE.dialect)) as database:
        run_sql(database, text, fmt, out)
        if database.in_transaction:
            raise click.ClickException(OPEN_TRANSACTION)


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
@exports_options
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
    with interruptible(open_db(db, dialect=STATE.dialect)) as database:
        code = Shell(database).run()
    if code:
        sys.exit(code)


def print_listing(db: str, rows: Callable[[Database], Listing], fmt: str) -> None:
    """Print ``rows(database)`` (column names, rows) of database ``db`` in format ``fmt``."""
    with open_db(db) as database:
        columns, found = rows(database)
        write_rows(sys.stdout, columns, found, fmt)


def listing_command(rows: Callable[[Database], Listing], exports: bool = False):
    """Make the decorated function a command ``galaxlite NAME DB [--format F]`` that prints
    ``rows(database)`` (with ``exports``: and takes ``exports_options``); the function gives
    the command its name and help text."""

    def decorate(described: Callable[[], None]) -> click.Command:
        @click.argument("db", type=EXISTING_DB)
        @click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
        @debug_option
        def command(db: str, fmt: str) -> None:
            print_listing(db, rows, fmt)

        return cli.command(name=described.__name__, help=described.__doc__)(
            exports_options(command) if exports else command)

    return decorate

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
@exports_options
@debug_option
def info(db: str) -> None:
    """Show sizes, tables with their history depth, tags and exports of DB.

    \b
    Example:
      galaxlite info shop.db
    """
    out = sys.stdout
    with open_db(db, dialect=STATE.dialect) as database:
        for line in info_lines(database):
            out.write(line + "\n")


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
    run_demo(directory, fixtures, sys.stdout)
