"""``galaxlite browse DB``: look at a database in Datasette, on 127.0.0.1.

Datasette and galaxlite's plugin for it (``galaxlite.datasette``) come with the optional
extra: ``pip install 'galaxlite[datasette]'``. The command adds itself to the click group of
``galaxlite.cli.commands`` (imported for it by ``galaxlite.cli``).
"""

from __future__ import annotations

import importlib.util
import os
import sys

import click

from galaxlite import Database
from galaxlite.cli.commands import EXISTING_DB, cli, debug_option

HOST = "127.0.0.1"  # never another interface: the database is yours, not the network's


@cli.command()
@click.argument("db", type=EXISTING_DB)
@click.option("-p", "--port", type=click.IntRange(0, 65535), default=8001, show_default=True,
              help="Port to serve on (0: any free port).")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a web browser.")
@debug_option
def browse(db: str, port: int, open_browser: bool) -> None:
    """Browse database DB in Datasette, at http://127.0.0.1:PORT (Ctrl-C stops it).

    Datasette lists your tables and snapshot views (galaxlite's own tables are hidden), and
    the page /-/galaxlite/DATABASE shows the tags with their times, each table as it was at
    each tag, the training exports and the snapshots with their lineage. Needs the extra:
    pip install 'galaxlite[datasette]'.

    \b
    Example:
      galaxlite browse shop.db
      galaxlite browse ./data --port 8080 --open
    """
    if importlib.util.find_spec("datasette") is None:
        raise click.ClickException(
            "galaxlite browse needs Datasette: pip install 'galaxlite[datasette]'"
        )
    with Database(db, read_only=True) as database:  # a galaxlite file? (changes nothing)
        filename = database.filename
    argv = [sys.executable, "-m", "datasette", "serve", filename, "--host", HOST,
            "--port", str(port), "--setting", "sql_time_limit_ms", "10000"]
    if open_browser:
        argv.append("--open")
    sys.stdout.flush()
    sys.stderr.flush()
    # this process becomes Datasette: Ctrl-C, a SIGTERM or the exit status are its own
    os.execv(sys.executable, argv)
