"""Runners of declared embedding columns: the EMBEDDING clause of CREATE TABLE / ADD COLUMN,
``ALTER TABLE t ALTER COLUMN c SET EMBEDDING ... | DROP EMBEDDING`` and ``SHOW EMBEDDING
HEALTH`` (the catalog side is ``galaxlite.semantic.declared``).

A clause is checked before anything runs (a text column, a known model, DIM equal to the
model's dimension), with errors at the clause's place in the SQL, so a refused statement
leaves the database unchanged; the declaration is written in the statement's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

import apsw

from galaxlite import errors as E
from galaxlite.engine.binding import statement_error
from galaxlite.engine.result import Result
from galaxlite.engine.session import Session
from galaxlite.params import Params
from galaxlite.semantic import declared
from galaxlite.semantic import embedders as EMB
from galaxlite.semantic import targets as T
from galaxlite.storage.guards import catalog_writer
from galaxlite.transpile import plan as P

Resolved = tuple[str, str, int]  # (column, model, dim)

HEALTH_COLUMNS = (
    ("table_name", "TEXT"), ("column_name", "TEXT"), ("model", "TEXT"), ("dim", "INTEGER"),
    ("declared", "INTEGER"), ("values", "INTEGER"), ("embedded", "INTEGER"), ("missing", "INTEGER"),
)


def resolve(
    session: Session, plan: P.Plan, table: str, clause: P.EmbeddingClause, decl: str | None = None,
) -> Resolved:
    """(column, model, dim) of ``clause`` on ``table``, or the error at its place in the SQL.

    ``decl``: the column's declared type (None: the existing column's, read now). MODEL left
    out: the column's embedder if it has one, else the session's default embedder.
    """

    def fail(message: str, cls: type[E.Error] = E.SemanticError, at: int = 0) -> E.Error:
        return E.sql_error(cls, message, plan.source, at or clause.position)

    column = clause.column
    if decl is None:  # ALTER COLUMN: the column exists, of a kind SEMANTIC_MATCH can search
        target = T.current_target(session.conn, None, table, column, fail)
        kind, column, table = target.kind, target.column, target.table
    else:
        kind, _ = T.column_kind(decl, f"{table}.{column}", fail)
    if kind == "vector":
        raise fail(f"column {table}.{column} is a VECTOR column: it holds its own vectors, "
                   "and EMBEDDING is for text columns whose values galaxlite embeds")
    model = clause.model
    if model is None:
        existing = declared.record(session.conn, table, column)
        model = existing.embedder if existing is not None else session.semantic.default
    try:
        emb = EMB.get_embedder(model)
    except E.EmbedderError as exc:
        raise E.placed(exc, plan.source, clause.model_position or clause.position) from None
    if clause.dim is not None and clause.dim != emb.dim:
        raise fail(f"DIM {clause.dim} does not match embedder {model!r}, which makes {emb.dim}-d "
                   f"vectors (leave DIM out, or write DIM {emb.dim})", at=clause.dim_position)
    return column, model, emb.dim


def resolve_all(
    session: Session, plan: P.Plan, table: str, clauses: Sequence[P.EmbeddingClause]
) -> list[Resolved]:
    """:func:`resolve` of every clause of a CREATE TABLE / ADD COLUMN."""
    return [resolve(session, plan, table, c, c.declared) for c in clauses]


def declare_all(conn: apsw.Connection, table: str, resolved: Sequence[Resolved]) -> None:
    """Record the resolved clauses of ``table`` (in the caller's transaction)."""
    for column, model, dim in resolved:
        declared.declare(conn, table, column, model, dim)


def stored_name(conn: apsw.Connection, table: str) -> str:
    """The name ``table`` is stored under in the main database (as written if none)."""
    for (name,) in conn.execute(
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND name = ? COLLATE NOCASE", (table,)
    ):
        return name
    return table


def run_set_embedding(session: Session, plan: P.Plan, params: Params) -> Result:
    """``ALTER TABLE t ALTER [COLUMN] c SET EMBEDDING [MODEL 'name'] [DIM n]`` / ``DROP EMBEDDING``."""
    d: P.EmbeddingChange = plan.detail
    session.check_not_internal(plan, d.table.name)
    if d.table.is_temp or (d.table.schema and d.table.schema.lower() != "main"):
        raise E.sql_error(E.NotSupportedError, "embedding declarations live in the main "
                          "database's catalog: ALTER COLUMN ... EMBEDDING names a table of it",
                          plan.source, d.position)
    conn = session.conn
    if d.clause is not None:
        column, model, dim = resolve(session, plan, d.table.name, d.clause)
        table = stored_name(conn, d.table.name)
    else:
        table, record = stored_name(conn, d.table.name), declared.record(conn, d.table.name, d.column)
        if record is None:
            raise E.sql_error(E.SemanticError, f"column {d.table.name}.{d.column} has no embeddings "
                              "to drop (it is not declared EMBEDDING and was never searched)",
                              plan.source, d.position)
    try:
        with session.writing(pin=False), catalog_writer(conn):
            if d.clause is not None:
                declared.declare(conn, table, column, model, dim)
            else:
                declared.forget(conn, table, record.column)
    except apsw.Error as exc:
        raise statement_error(exc, plan, plan.sql) from None
    session.semantic.cache.check_state()
    return Result(iter(()))


def health_rows(session: Session, declared_only: bool = False) -> list[tuple]:
    """One row per embedding column, as ``SHOW EMBEDDING HEALTH`` gives them."""
    return [
        (h.table, h.column, h.model, h.dim, int(h.declared), h.values, h.embedded, h.missing)
        for h in declared.health(session.conn, declared_only)
    ]


def run_show_health(session: Session, plan: P.Plan, params: Params) -> Result:
    """``SHOW EMBEDDING HEALTH``: per embedding column (declared, or recorded by a search), its
    model and how many of its values are embedded."""
    return Result(iter(health_rows(session)), HEALTH_COLUMNS)
