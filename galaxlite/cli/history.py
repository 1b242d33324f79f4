"""Commands on a database's history: ``galaxlite diff`` and ``galaxlite gc``.

They add themselves to the click group of ``galaxlite.cli.commands`` (imported for it by
``galaxlite.cli``), as any command module would; each is one call of ``Database``.
"""

from __future__ import annotations

import sys

import click

from galaxlite import Database
from galaxlite.cli.commands import EXISTING_DB, cli, debug_option, exports_options, open_db
from galaxlite.cli.output import FORMATS, human_size, table_lines, write_rows


def _version(text: str) -> str | int:
    """A tag name, or a µs timestamp when the text is all digits."""
    return int(text) if text.isdigit() else text


@cli.command()
@click.argument("db", type=EXISTING_DB)
@click.argument("a")
@click.argument("b")
@click.option("--table", "table", help="Only this table.")
@click.option("--rows", is_flag=True, help="Also print the changed rows of each table.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@debug_option
def diff(db: str, a: str, b: str, table: str | None, rows: bool, fmt: str) -> None:
    """Show what changed in DB from version A to version B (tag names or µs timestamps):
    rows inserted, deleted and updated per table; with --rows, the rows (SELECT * FROM t
    CHANGES BETWEEN VERSION A AND VERSION B).

    \b
    Examples:
      galaxlite diff shop.db v1 v2
      galaxlite diff shop.db v1 v2 --table items --rows --format csv
    """
    va, vb = _version(a), _version(b)
    out = sys.stdout
    with Database(db) as database:
        summary = database.diff(va, vb).to_pylist()
        if table is not None:
            summary = [s for s in summary if s["table"].lower() == table.lower()]
            if not summary:
                raise click.BadParameter(f"no versioned table {table!r} at {a} or {b}", param_hint="--table")
        columns = ["table", "inserted", "deleted", "updated"]
        write_rows(out, columns, [tuple(s[c] for c in columns) for s in summary], fmt)
        if not rows:
            return
        for s in summary:
            changed = database.diff(va, vb, s["table"])
            if fmt == "table":
                out.write(f"\n{s['table']}:\n")
            write_rows(out, changed.column_names, zip(*(c.to_pylist() for c in changed.columns), strict=True), fmt)


@cli.command()
@click.argument("db", type=EXISTING_DB)
@click.option("--before", required=True, metavar="TAG",
              help="Keep what this version (a tag name or µs timestamp) and later ones see.")
@click.option("--table", "table", help="Only this table's history.")
@click.option("--vacuum", is_flag=True, help="Then VACUUM, giving the freed pages back to the file system.")
@exports_options
@debug_option
def gc(db: str, before: str, table: str | None, vacuum: bool) -> None:
    """Purge history of DB: PURGE HISTORY [OF TABLE] BEFORE VERSION TAG. Every tag, and
    every version from TAG on, reads the same afterwards; older versions can no longer be
    read. Prints the rows and bytes freed per table.

    \b
    Examples:
      galaxlite gc shop.db --before v3
      galaxlite gc shop.db --before v3 --vacuum
    """
    with open_db(db) as database:
        purged = database.purge_history(_version(before), table)
        lines = table_lines(["table", "rows freed", "bytes freed"],
                            [(p.table, p.rows, human_size(p.bytes)) for p in purged])
        for line in lines:
            click.echo(line)
        click.echo(f"freed {sum(p.rows for p in purged)} row versions, "
                   f"{human_size(sum(p.bytes for p in purged))}")
        if vacuum:
            database.execute("VACUUM")
            click.echo("vacuumed")
