"""How the command line opens a database and runs a script: Ctrl-C stops a running
statement, errors say where they are in the whole script, and a script that leaves a
transaction open is an error.

Ctrl-C: while SQLite runs a statement, Python's SIGINT handler (which raises
``KeyboardInterrupt``) cannot run, since no Python code runs. ``interruptible`` sets a
progress handler that does nothing, every ``INTERRUPT_STEPS`` SQLite steps: while it runs,
Python runs the pending signal handler, and the ``KeyboardInterrupt`` it raises aborts the
statement (which is rolled back like any failed statement). Its cost is one Python call per
10,000 steps.
"""

from __future__ import annotations

from typing import TextIO

import click

from galaxlite import Database, errors, transpile
from galaxlite.cli.output import write_result

INTERRUPT_STEPS = 10_000
OPEN_TRANSACTION = ("the script left a transaction open: it was rolled back (end it with COMMIT "
                    "or ROLLBACK)")


class Interrupted(click.ClickException):
    """Ctrl-C stopped a statement (exit status 130, as for SIGINT)."""

    exit_code = 130

    def __init__(self) -> None:
        super().__init__("interrupted")


def _let_signals_run() -> bool:
    return False  # never aborts by itself: a pending Ctrl-C raises KeyboardInterrupt here


def interruptible(database: Database) -> Database:
    """``database``, whose statements Ctrl-C interrupts from now on."""
    database.set_progress_handler(_let_signals_run, INTERRUPT_STEPS)
    return database


def located(exc: errors.Error, text: str, start: int, source: str | None, offset: int) -> errors.Error:
    """``exc``, met running ``text`` (at ``start`` of the script), with its position counted
    from the start of ``source`` (the whole script or file; ``offset``: where the script
    starts in it)."""
    if source is not None and exc.position is not None and exc.sql == text:
        errors.relocate(exc, errors.bare_message(exc), source, offset + start + exc.position)
    return exc


def run_sql(db: Database, sql: str, fmt: str, out: TextIO, source: str | None = None,
            offset: int = 0) -> None:
    """Run every statement of ``sql`` in order (each commits on its own, as in the sqlite3
    shell, unless the SQL has its own BEGIN ... COMMIT) and write each result. An error's
    position counts from the start of ``source`` (default: ``sql``) plus ``offset``."""
    source = sql if source is None else source
    try:
        parts = _statements(sql, db.dialect)
    except transpile.TranspileError as exc:
        raise located(errors.from_transpile(exc), sql, 0, source, offset) from None
    for text, start in parts:
        try:
            write_result(out, db.execute(text), fmt)
        except errors.Error as exc:
            raise located(exc, text, start, source, offset) from None
        except KeyboardInterrupt:
            raise Interrupted() from None
        out.flush()


def _statements(sql: str, dialect: str) -> list[tuple[str, int]]:
    """(text, start in ``sql``) of each statement of ``sql``, cut as ``dialect`` reads them."""
    if dialect == "sqlite":
        return [(p.text, p.start) for p in transpile.split_statements(sql)]
    found, at = [], 0
    for text in transpile.split(sql, dialect):
        start = sql.find(text, at)
        found.append((text, max(start, 0)))
        at = start + len(text) if start >= 0 else at
    return found
