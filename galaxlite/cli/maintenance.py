"""Commands that look after a database file: ``galaxlite check`` and ``galaxlite backup``
(``galaxlite verify``, of the training exports, is in ``galaxlite.cli.exporting``).

They add themselves to the click group of ``galaxlite.cli.commands`` (imported for it by
``galaxlite.cli``), as any command module would.
"""

from __future__ import annotations

import re
import sys

import click

from galaxlite.cli.commands import EXISTING_DB, cli, debug_option, exports_options, open_db
from galaxlite.transpile import quote_identifier

_BARE = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")  # a table name SQL may give unquoted


@cli.command()
@click.argument("db", type=EXISTING_DB)
@click.option("--repair", is_flag=True, help="Mend what can be mended without inventing history first.")
@exports_options
@debug_option
def check(db: str, repair: bool) -> None:
    """Check the versioning of DB: every versioned table has its triggers, companion, ranges
    and history, consistent with its recorded schema; the catalogs are intact; the file
    passes PRAGMA integrity_check. One line per problem; exit status 1 if there is any.

    \b
    Example:
      galaxlite check shop.db
      galaxlite check shop.db --repair
    """
    with open_db(db) as database:
        problems = database.check(repair=repair)
        plain = database.unversioned_tables()
        tables = len(database.versioned_tables())
    for finding in problems:
        click.echo(str(finding))
    for name in plain:
        sql_name = name if _BARE.fullmatch(name) else quote_identifier(name)
        click.echo(f"note: table {name} is not versioned (ALTER TABLE {sql_name} ENABLE VERSIONING)")
    if problems:
        sys.exit(1)
    click.echo(f"ok: {tables} versioned table(s), catalogs intact, integrity_check ok")


@cli.command()
@click.argument("db", type=EXISTING_DB)
@click.argument("dest", type=click.Path(path_type=str))
@exports_options
@debug_option
def backup(db: str, dest: str) -> None:
    """Copy DB to DEST (a file, or a directory database) while other connections keep
    working: tags, history, snapshots and catalogs in one file, plus the training exports.

    \b
    Example:
      galaxlite backup shop.db /backups/shop-2026-12-07.db

    With --exports LOCATION, the exports copied are those there; exports on an object store
    stay where they are (open the copy with the same --exports).
    """
    with open_db(db) as database:
        click.echo(database.backup(dest))
