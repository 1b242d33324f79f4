"""galaxlite's front end: SQL text → plans the engine can run.

>>> [p.kind for p in parse_script("CREATE VERSION TAG 'v1'; SELECT * FROM t AT VERSION 'v1'")]
['create_tag', 'read']
"""

from __future__ import annotations

from functools import lru_cache

from galaxlite.transpile.errors import (
    PastIsReadOnly,
    SqlSyntaxError,
    TranspileError,
    UnsupportedSyntax,
    describe_position,
    line_col,
)
from galaxlite.transpile.lexer import Statement, split_statements, tokenize
from galaxlite.transpile.plan import Plan
from galaxlite.transpile.rules import PRECISIONS, analyze, quote_identifier
from galaxlite.transpile.semantic import parameter_columns

__all__ = [
    "PRECISIONS",
    "PastIsReadOnly",
    "Plan",
    "SqlSyntaxError",
    "Statement",
    "TranspileError",
    "UnsupportedSyntax",
    "describe_position",
    "line_col",
    "parse_script",
    "parameter_columns",
    "parse_statement",
    "quote_identifier",
    "split_statements",
    "tokenize",
]


@lru_cache(maxsize=4096)
def parse_script(sql: str) -> tuple[Plan, ...]:
    """Plans for every statement of ``sql`` (cached by text: plans are immutable)."""
    return tuple(analyze(stmt) for stmt in split_statements(sql))


@lru_cache(maxsize=4096)
def parse_statement(sql: str) -> Plan | None:
    """The plan of a single statement; None for empty SQL (only comments or whitespace).

    Raises SqlSyntaxError when ``sql`` holds more than one statement.
    """
    statements = split_statements(sql)
    if not statements:
        return None
    if len(statements) > 1:
        raise SqlSyntaxError(
            "you can only execute one statement at a time (use executescript for several)",
            sql,
            statements[1].start,
        )
    return analyze(statements[0])
