"""The narrator of ``galaxlite demo``: steps, SQL and results, printed as they run.

``Demo`` prints each step's title, its SQL, then what galaxlite answered (with
``galaxlite.cli.output``, as ``galaxlite query`` prints); ``run_plain`` runs SQL with Python's
``sqlite3`` in another process, a plain SQLite client of the same file.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import click

from galaxlite import Database, errors
from galaxlite.cli.output import table_lines, write_result


class Demo:
    """Prints steps, SQL and results while running them on one database."""

    def __init__(self, db: Database, out: TextIO):
        self.db = db
        self.out = out
        self.steps = 0

    def echo(self, text: str = "", **style: Any) -> None:
        click.secho(text, file=self.out, **style)

    def step(self, title: str, why: str) -> None:
        self.steps += 1
        self.echo()
        self.echo(f"{self.steps}. {title}", bold=True)
        self.echo(f"   {why}", dim=True)

    def show_sql(self, sql: str, note: str | None = None) -> None:
        lines = sql.splitlines()
        self.echo(f"sql> {lines[0]}", fg="cyan")
        for line in lines[1:]:
            self.echo(f"...> {line}", fg="cyan")
        if note:
            self.echo(f"     -- {note}", dim=True)

    def sql(self, sql: str, params: Sequence[Any] | None = None, note: str | None = None) -> Any:
        """Show ``sql``, run it, show its result; returns the first value of the first row."""
        self.show_sql(sql, note)
        result = self.db.execute(sql, params)
        description = result.description
        rows = result.fetchall() if description is not None else []
        if description is not None:
            for line in table_lines([d[0] for d in description], rows):
                self.echo(line)
        else:
            write_result(self.out, result, "table")
        return rows[0][0] if rows else None

    def many(self, sql: str, rows: list[tuple], note: str) -> None:
        """Show ``sql``, run it once per row (one version), show the count."""
        self.show_sql(sql, note)
        result = self.db.executemany(sql, rows)
        n = result.rowcount
        self.echo(f"{n} row{'' if n == 1 else 's'} changed")



# A plain SQLite client in its own process: two SQLite libraries in one process (apsw's and
# sqlite3's) do not see each other's POSIX locks (https://sqlite.org/howtocorrupt.html).
PLAIN_CLIENT = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
for row in conn.execute(sys.argv[2]):
    print(*row)
conn.close()
"""


def run_plain(demo: Demo, sql: str, note: str) -> None:
    """Show ``sql``, run it with Python's sqlite3 in another process, show its rows."""
    demo.show_sql(sql, note=note)
    done = subprocess.run(
        [sys.executable, "-c", PLAIN_CLIENT, demo.db.filename, sql],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise errors.OperationalError(f"the plain sqlite3 client failed: {done.stderr.strip()}")
    for line in done.stdout.splitlines():
        demo.echo(line)


