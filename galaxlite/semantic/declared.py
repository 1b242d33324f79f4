"""Embedding columns in the catalog: declared ones (``EMBEDDING [MODEL 'name'] [DIM n]``) and
those recorded on first use, and how many of their values are embedded.

``galaxlite_embedding_columns`` holds one row per column that carries embeddings: its
embedder and dimension, and ``declared`` (1: declared with an EMBEDDING clause, whose model
is then the column's embedder whatever the session's default; 0: recorded by the first
SEMANTIC_MATCH or ``Database.embed``). A column with a row is exported as the vectors of its
embedder under its own name, its text beside it as ``<col>__text``
(``galaxlite.exports.layout``). The declaration follows the column through RENAME and goes
with DROP COLUMN / DROP TABLE (``follow_schema_change``).

``galaxlite_embedding_history`` keeps every row the catalog has had with the versions it was
in force: each write here brings it in step (``galaxlite.storage.declarations``);
``records_at`` reads the declarations in force at a version, which an export of a tag uses
(``galaxlite.exports.plan``).

``health`` counts, per column, the non-NULL text values and how many of them have a vector
of the column's embedder in the file's cache (``galaxlite_embeddings``); the rest are
embedded, in batches, when an export, a search or ``Database.embed`` needs them.
"""

from __future__ import annotations

from dataclasses import dataclass

import apsw

from galaxlite import storage
from galaxlite.semantic.cache import cached_vectors, text_hash
from galaxlite.storage import declarations
from galaxlite.storage.declarations import HISTORY
from galaxlite.transpile import quote_identifier as q


@dataclass(frozen=True, slots=True)
class ColumnRecord:
    """One row of ``galaxlite_embedding_columns``."""

    table: str
    column: str
    embedder: str
    dim: int
    declared: bool


@dataclass(frozen=True, slots=True)
class EmbeddingHealth:
    """How far the embeddings of one column are: ``values`` non-NULL text values now (rows),
    ``embedded`` of them with a cached vector of ``model``; ``missing`` = the rest."""

    table: str
    column: str
    model: str
    dim: int
    declared: bool
    values: int
    embedded: int

    @property
    def missing(self) -> int:
        return self.values - self.embedded


def _has_declared(conn: apsw.Connection) -> bool:
    # a file of an older galaxlite that no writer has opened since: nothing is declared
    return any(r[1] == "declared" for r in conn.execute(
        "SELECT * FROM pragma_table_info('galaxlite_embedding_columns')"))


def records(conn: apsw.Connection, table: str | None = None) -> list[ColumnRecord]:
    """The embedding columns (of ``table`` if given), by table and column name."""
    declared = "declared" if _has_declared(conn) else "0"
    where, args = ("WHERE table_name = ?", (table,)) if table is not None else ("", ())
    return [
        ColumnRecord(t, c, e, d, bool(flag))
        for t, c, e, d, flag in conn.execute(
            f"SELECT table_name, column_name, embedder, dim, {declared} "
            f"FROM galaxlite_embedding_columns {where} ORDER BY table_name, column_name", args,
        )
    ]


def records_at(conn: apsw.Connection, table: str, version: int) -> list[ColumnRecord]:
    """The embedding columns of ``table`` (its name now) as they were at ``version``: the
    declarations in force then, whatever was declared, dropped or switched since. (A file of
    an older galaxlite that no writer has opened since has no history: its declarations now.)"""
    if not conn.table_exists("main", HISTORY):
        return records(conn, table)
    return [ColumnRecord(t, c, e, d, bool(flag)) for t, c, e, d, flag in declarations.in_force(conn, table, version)]


def record(conn: apsw.Connection, table: str, column: str) -> ColumnRecord | None:
    """The row of ``table.column``, or None."""
    found = [r for r in records(conn, table) if r.column.lower() == column.lower()]
    return found[0] if found else None


def declare(conn: apsw.Connection, table: str, column: str, embedder: str, dim: int) -> None:
    """Record ``table.column`` as declared EMBEDDING MODEL ``embedder`` (inside the caller's
    transaction)."""
    conn.execute(
        "INSERT OR REPLACE INTO galaxlite_embedding_columns "
        "(table_name, column_name, embedder, dim, declared) VALUES (?, ?, ?, ?, 1)",
        (table, column, embedder, dim),
    )
    in_history(conn, table, column)


def record_use(conn: apsw.Connection, table: str, column: str, embedder: str, dim: int) -> None:
    """Record that ``table.column`` is embedded with ``embedder`` (first use by SEMANTIC_MATCH
    or ``Database.embed``, or a switch to another embedder), in the caller's transaction."""
    conn.execute(
        "INSERT OR REPLACE INTO galaxlite_embedding_columns (table_name, column_name, embedder, dim) "
        "VALUES (?, ?, ?, ?)", (table, column, embedder, dim),
    )
    in_history(conn, table, column)


def in_history(conn: apsw.Connection, table: str, column: str | None = None) -> None:
    """Bring the history of ``table``'s (``table.column``'s) declarations in step with the
    catalog, at the version of this change."""
    declarations.sync(conn, declarations.change_version(conn), table, column)


def forget(conn: apsw.Connection, table: str, column: str | None = None) -> None:
    """Remove the row of ``table.column`` (every column of ``table`` when ``column`` is None)."""
    if column is None:
        conn.execute("DELETE FROM galaxlite_embedding_columns WHERE table_name = ?", (table,))
    else:
        conn.execute(
            "DELETE FROM galaxlite_embedding_columns WHERE table_name = ? AND column_name = ?",
            (table, column),
        )
    in_history(conn, table, column)


def follow_schema_change(
    conn: apsw.Connection, action: str, table: str, old: str | None = None, new: str | None = None
) -> None:
    """Keep the rows of ``table`` in step with ``ALTER TABLE`` ``action`` (rename_table,
    rename_column, drop_column) or ``drop_table``, in the caller's transaction.

    The history follows: its rows (past ones too) are renamed, so that the rows under a name
    are those of the table or column of that name now; a dropped one's go (no export of a tag
    that had it can be made, and a table or column given its name later is another one)."""
    catalogs = ["galaxlite_embedding_columns"] + ([HISTORY] if conn.table_exists("main", HISTORY) else [])
    if action == "drop_column":
        forget(conn, table, old)
    elif action == "drop_table":
        forget(conn, table)
    for catalog in catalogs[1:] if action.startswith("drop") else catalogs:
        if action == "rename_table":
            conn.execute(f"UPDATE {catalog} SET table_name = ? WHERE table_name = ?", (new, table))
        elif action == "rename_column":
            conn.execute(f"UPDATE {catalog} SET column_name = ? WHERE table_name = ? AND column_name = ?",
                         (new, table, old))
        elif action == "drop_column":
            conn.execute(f"DELETE FROM {catalog} WHERE table_name = ? AND column_name = ?", (table, old))
        elif action == "drop_table":
            conn.execute(f"DELETE FROM {catalog} WHERE table_name = ?", (table,))


def health(conn: apsw.Connection, declared_only: bool = False) -> list[EmbeddingHealth]:
    """Per embedding column (only the declared ones with ``declared_only``), how many of its
    text values are embedded with its model (one scan of the column)."""
    out = []
    for r in records(conn):
        if declared_only and not r.declared:
            continue
        if not conn.table_exists("main", r.table):
            continue
        tv = storage.current_version(conn, r.table)
        name = tv.name if tv is not None else r.table
        if not any(c.lower() == r.column.lower() for (c,) in conn.execute(
                "SELECT name FROM pragma_table_xinfo(?)", (name,))):
            continue  # dropped outside galaxlite (galaxlite check reports the table)
        counts: dict[str, int] = {}
        for (value,) in conn.execute(
            f"SELECT {q(r.column)} FROM main.{q(name)} WHERE typeof({q(r.column)}) = 'text'"
        ):
            counts[value] = counts.get(value, 0) + 1
        hashes = {text_hash(t): n for t, n in counts.items()}
        hit = cached_vectors(conn, r.embedder, r.dim, list(hashes))
        out.append(EmbeddingHealth(
            r.table, r.column, r.embedder, r.dim, r.declared,
            sum(counts.values()), sum(n for h, n in hashes.items() if h in hit),
        ))
    return out
