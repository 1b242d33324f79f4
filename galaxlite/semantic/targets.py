"""Resolving the column of a ``SEMANTIC_MATCH`` / ``SEMANTIC_SCORE`` call to its *source*.

The front end (``transpile.semantic``) noted the FROM items of the enclosing SELECTs the
column may come from (innermost scope first). The column resolves to a *source*: a table read
now, a table read ``AT VERSION``, or a view / plain table. A source's candidate values are the
DISTINCT values of the column there; a rowid table read directly is matched by rowid instead,
so that SQLite fetches the matching rows by key. A source read AT VERSION a committed past
never changes (``Target.immutable``).

A column is either text (its values are embedded) or ``VECTOR(n)`` (its values are the
vectors); a column of another declared type (by SQLite's affinity rules: INT, REAL, FLOA,
DOUB, BLOB, or a NUMERIC-like name) cannot be searched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import apsw

from galaxlite import errors as E
from galaxlite import storage
from galaxlite.semantic import vectors as V
from galaxlite.storage import clock
from galaxlite.transpile import plan as P
from galaxlite.transpile import quote_identifier as q

_TXN_WRITE = apsw.mapping_txn_state["SQLITE_TXN_WRITE"]
# Declared types SQLite gives numeric (or BLOB) affinity: by substring, then by whole name
NUMERIC_TYPES = ("INT", "REAL", "FLOA", "DOUB", "BLOB")
NUMERIC_NAMES = frozenset({"NUMERIC", "DECIMAL", "BOOLEAN", "BOOL", "DATE", "DATETIME"})

Fail = Callable[..., E.Error]  # fail(message, cls=SemanticError): the error to raise


@dataclass(frozen=True, slots=True)
class Target:
    """What a SEMANTIC_* column refers to, resolved against the schema."""

    table: str  # the table (or view) name, for the embedder record and messages
    column: str
    kind: str  # "text" | "vector"
    dim: int | None  # VECTOR(n): n
    key: tuple  # identifies the source's candidate values
    values_sql: str  # SELECT [rowid,] <column> FROM ... (distinct values are kept in Python)
    immutable: bool  # the candidate values can never change (AT VERSION a committed past)
    rowid: str | None = None  # a rowid table read directly: match rows by this rowid name

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}"


def in_write_txn(conn: apsw.Connection) -> bool:
    """Whether ``conn`` has a write transaction open (what it reads may still roll back)."""
    return conn.txn_state("main") == _TXN_WRITE


def declared_types(conn: apsw.Connection, schema: str | None, table: str) -> list[tuple[str, str]]:
    """(name, declared type or '') of each column of ``schema.table`` (none: no such table)."""
    return [
        (name, decl or "")
        for name, decl in conn.execute(
            "SELECT name, type FROM pragma_table_xinfo(?, ?)", (table, schema or "main")
        )
    ]


def column_kind(decl: str, label: str, fail: Fail) -> tuple[str, int | None]:
    """("vector", n) for a ``VECTOR(n)`` column, ("text", None) for one of text affinity;
    ``fail`` for a column of numeric or BLOB affinity or a bad VECTOR(n)."""
    try:
        dim = V.parse_vector_type(decl)
    except ValueError as exc:
        raise fail(f"column {label}: {exc}") from None
    if dim is not None:
        return "vector", dim
    upper = decl.strip().upper()
    if any(k in upper for k in NUMERIC_TYPES) or upper.split("(")[0].strip() in NUMERIC_NAMES:
        raise fail(
            f"column {label} is {decl}: SEMANTIC_MATCH and SEMANTIC_SCORE need a text or "
            "VECTOR(n) column"
        )
    return "text", None


def resolve(
    conn: apsw.Connection, call: P.SemanticCall, versions: list[int], subqueries: list[str],
    fail: Fail,
) -> tuple[P.SourceItem, Target]:
    """The FROM item and source of the call's column (SemanticError if not found)."""
    item = _find_item(conn, call, versions, fail)
    return item, _target(conn, call, item, versions, subqueries, fail)


def _find_item(
    conn: apsw.Connection, call: P.SemanticCall, versions: list[int], fail: Fail
) -> P.SourceItem:
    col = call.column
    if call.qualifier:
        for scope in call.scopes:
            found = [i for i in scope if _qualifies(i, call.qualifier)]
            if len(found) > 1:
                raise fail(f"ambiguous table name {'.'.join(call.qualifier)!r}")
            if found:
                return found[0]
        raise fail(f"no such column: {call.column_sql}")
    for scope in call.scopes:
        opaque = [i for i in scope if i.kind != "table"]
        found = [i for i in scope if i.kind == "table" and _has_column(conn, i, col, versions)]
        if len(found) > 1:
            names = ", ".join(i.exposed for i in found)
            raise fail(
                f"ambiguous column name {col!r} (it is in {names}): qualify it, e.g. "
                f"{found[0].exposed}.{col}"
            )
        if found:
            return found[0]
        if opaque:
            return opaque[0]
    raise fail(f"no such column: {col}")


def _has_column(conn: apsw.Connection, item: P.SourceItem, col: str, versions: list[int]) -> bool:
    if item.ref is not None:
        past = storage.version_at(conn, item.name, versions[item.ref])
        return past is not None and past.history_column(col) is not None
    return any(n.lower() == col.lower() for n, _ in declared_types(conn, item.schema, item.name))


def _target(
    conn: apsw.Connection, call: P.SemanticCall, item: P.SourceItem, versions: list[int],
    subqueries: list[str], fail: Fail,
) -> Target:
    if item.kind != "table":
        what = {"subquery": "a subquery", "cte": "a WITH clause", "function": "a table function"}
        raise fail(
            f"{call.function} needs a column of a table or view; {call.column_sql!r} comes "
            f"from {what[item.kind]} here"
        )
    if item.ref is not None:
        return _past_target(conn, call, item, versions[item.ref], subqueries[item.ref], fail)
    target = current_target(conn, item.schema, item.name, call.column, fail)
    return by_rowid(conn, item, target)


def by_rowid(conn: apsw.Connection, item: P.SourceItem, target: Target) -> Target:
    """For a rowid table read directly: the same source, matched by rowid, so that SQLite
    fetches the matching rows by key instead of comparing every row's value."""
    schema = item.schema or "main"
    for kind, without_rowid in conn.execute(
        "SELECT type, wr FROM pragma_table_list WHERE name = ? COLLATE NOCASE AND schema = ?",
        (item.name, schema),
    ):
        if kind != "table" or without_rowid:
            return target
        taken = {n.lower() for n, _ in declared_types(conn, item.schema, item.name)}
        alias = next((a for a in ("rowid", "_rowid_", "oid") if a not in taken), None)
        if alias is None:
            return target
        where = f"{q(item.schema)}." if item.schema else ""
        return replace(
            target,
            key=("rows", *target.key),
            values_sql=f"SELECT {alias}, {q(target.column)} FROM {where}{q(item.name)}",
            rowid=alias,
        )
    return target


def current_target(
    conn: apsw.Connection, schema: str | None, table: str, column: str, fail: Fail
) -> Target:
    """The source of ``table.column`` as it is now (versioned table, plain table, view)."""
    declared = declared_types(conn, schema, table)
    if not declared:
        raise fail(f"no such table: {table}")
    match = [(n, t) for n, t in declared if n.lower() == column.lower()]
    if not match:
        raise fail(f"no such column: {table}.{column}")
    name, decl = match[0]
    kind, dim = column_kind(decl, f"{table}.{name}", fail)
    tv = storage.current_version(conn, table) if (schema or "main").lower() == "main" else None
    if tv is not None:
        key = ("now", tv.table_id, tv.history_column(name))
        values_sql = f"SELECT {q(name)} FROM main.{q(tv.name)}"
        return Target(tv.name, name, kind, dim, key, values_sql, False)
    where = f"{q(schema)}." if schema else ""
    key = ("rel", (schema or "").lower(), table.lower(), name.lower())
    values_sql = f"SELECT {q(name)} FROM {where}{q(table)}"
    return Target(table, name, kind, dim, key, values_sql, False)


def _past_target(
    conn: apsw.Connection, call: P.SemanticCall, item: P.SourceItem, version: int,
    subquery: str, fail: Fail,
) -> Target:
    past = storage.version_at(conn, item.name, version)
    hcol = past.history_column(call.column) if past is not None else None
    if past is None or hcol is None:
        raise fail(f"no such column at version {version}: {item.name}.{call.column}")
    name = next(n for n, h in past.columns if h == hcol)
    decl = None
    now = storage.current_of(conn, past.table_id)
    if now is not None:
        now_name = next((n for n, h in now.columns if h == hcol), None)
        if now_name is not None:
            decl = dict((n.lower(), t) for n, t in declared_types(conn, None, now.name)).get(
                now_name.lower()
            )
    kind, dim = column_kind(decl or "", f"{past.name}.{name}", fail)
    immutable = version < clock.current(conn) and not in_write_txn(conn)
    key = ("past", past.table_id, hcol, version)
    values_sql = f"SELECT {q(name)} FROM {subquery}"
    return Target(past.name, name, kind, dim, key, values_sql, immutable)


def _qualifies(item: P.SourceItem, qualifier: tuple[str, ...]) -> bool:
    if len(qualifier) == 1:
        return item.exposed.lower() == qualifier[0].lower()
    schema, table = qualifier[0].lower(), qualifier[1].lower()
    return item.alias is None and item.name.lower() == table and (item.schema or "main").lower() == schema
