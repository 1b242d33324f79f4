"""Errors raised by the front end. The engine maps them onto galaxlite's exception classes."""

from __future__ import annotations


def line_col(sql: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``sql``.

    >>> line_col("SELECT 1;\\nSELEC 2", 10)
    (2, 1)
    """
    offset = max(0, min(offset, len(sql)))
    line = sql.count("\n", 0, offset) + 1
    col = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    return line, col


def describe_position(sql: str, offset: int) -> str:
    """``line L, column C near 'text'``: where in the SQL a problem is."""
    line, col = line_col(sql, offset)
    near = sql[offset : offset + 20].split("\n")[0]
    where = f"line {line}, column {col}"
    return f"{where} near {near!r}" if near else f"{where} (end of input)"


class TranspileError(Exception):
    """A problem found in SQL text, with the offset where it is."""

    def __init__(self, message: str, sql: str = "", position: int | None = None):
        self.message = message
        self.sql = sql
        self.position = position
        if position is not None and sql:
            message = f"{message} at {describe_position(sql, position)}"
        super().__init__(message)


class SqlSyntaxError(TranspileError):
    """The SQL is not well formed (galaxlite syntax or the lexical level)."""


class PastIsReadOnly(TranspileError):
    """A statement tries to write to a table read ``AT VERSION``."""


class SnapshotIsReadOnly(PastIsReadOnly):
    """A statement tries to write to a dataset snapshot (``m0@1.0.0``) or ``db4ai.snapshot``."""


class UnsupportedSyntax(TranspileError):
    """Well-formed SQL that galaxlite does not implement."""
