"""galaxlite's front end: SQL text → plans the engine can run.

It imports nothing from the engine. The modules, in the order they depend on each other:
``errors`` (TranspileError and its subclasses, positions), ``lexer`` (tokens, statements),
``plan`` (the plan records, PRECISIONS, MAX_SEED, MAX_VECTOR_DIM), ``cursor`` (the token cursor
and shared token helpers, quote_identifier), then one module per statement family or rewrite
pass (``statements``, ``versions``, ``snapshots`` with ``snapshot_refs`` and ``snapshot_using``,
``semantic``, ``vectors``, ``embeddings``, ``parameters``), and ``analysis``, whose ``analyze`` ties them
together; ``dialects`` translates PostgreSQL statements to SQLite's SQL before all of them. Plans are frozen, so ``parse_script`` and ``parse_statement`` cache them by text.

>>> [p.kind for p in parse_script("CREATE VERSION TAG 'v1'; SELECT * FROM t AT VERSION 'v1'")]
['create_tag', 'read']
"""

from __future__ import annotations

from functools import lru_cache

from galaxlite.transpile.analysis import analyze
from galaxlite.transpile.cursor import quote_identifier
from galaxlite.transpile.dialects import DIALECTS, split, translate
from galaxlite.transpile.errors import (
    PastIsReadOnly,
    SqlSyntaxError,
    TranspileError,
    UnsupportedSyntax,
    describe_position,
    line_col,
)
from galaxlite.transpile.lexer import Statement, split_statements, tokenize
from galaxlite.transpile.parameters import parameter_columns
from galaxlite.transpile.plan import MAX_SEED, MAX_VECTOR_DIM, PRECISIONS, Plan
from galaxlite.transpile.vectors import VectorCheckFailure, vector_check_failure

__all__ = [
    "DIALECTS",
    "MAX_SEED",
    "MAX_VECTOR_DIM",
    "PRECISIONS",
    "PastIsReadOnly",
    "Plan",
    "SqlSyntaxError",
    "Statement",
    "TranspileError",
    "UnsupportedSyntax",
    "VectorCheckFailure",
    "describe_position",
    "line_col",
    "parse_script",
    "parameter_columns",
    "parse_statement",
    "quote_identifier",
    "split",
    "split_statements",
    "tokenize",
    "translate",
    "vector_check_failure",
]


@lru_cache(maxsize=4096)
def parse_script(sql: str, dialect: str = "sqlite") -> tuple[Plan, ...]:
    """Plans for every statement of ``sql`` (cached by text: plans are immutable), read in
    ``dialect`` (``dialects``: "postgres" translates to SQLite's SQL first)."""
    return tuple(analyze(stmt) for stmt in split_statements(translate(sql, dialect)))


@lru_cache(maxsize=4096)
def parse_statement(sql: str, dialect: str = "sqlite") -> Plan | None:
    """The plan of a single statement; None for empty SQL (only comments or whitespace).

    Raises SqlSyntaxError when ``sql`` holds more than one statement.
    """
    statements = split_statements(translate(sql, dialect))
    if not statements:
        return None
    if len(statements) > 1:
        raise SqlSyntaxError(
            "you can only execute one statement at a time (use executescript for several)",
            sql,
            statements[1].start,
        )
    return analyze(statements[0])
