"""The history of embedding declarations: ``galaxlite_embedding_history``.

``galaxlite_embedding_columns`` says which embedder each column's embeddings come from now
(``galaxlite.semantic.declared`` writes it). Every row it has had is kept here with the
versions it was in force, ``[valid_from, valid_to)`` (``valid_to`` NULL: in force now), so
that an export of a tag uses the declarations of the tag's version. ``sync`` is called by
every write of the catalog, in its transaction (plain SQL triggers would not do: galaxlite's
set-based write path leaves its connection's triggers switched off between statements). A
change is at ``change_version``: the transaction's pinned version, else the one after the
last version handed out, which is later than every tag made before it and no later than any
tag made after it.

A file made before the history gets it when a writer opens it (``start``), each declaration
in force since version 0: what exports of its tags used until then. The row ``MARKER`` of
``galaxlite_meta`` says that the file has a history, so that a history dropped outside
galaxlite is damage, not a catalog to make again empty (``galaxlite.storage.guards``).
``PURGE HISTORY`` trims it as it trims the tables' histories (``purge``).
"""

from __future__ import annotations

import apsw

from galaxlite.storage.tags import no_tag_sees

HISTORY = "galaxlite_embedding_history"
MARKER = "embedding_history"  # galaxlite_meta key: the file keeps a history of declarations
_ROW = "embedder, dim, declared"


def change_version(conn: apsw.Connection) -> int:
    """The version a change of the declarations made now has (see the module docstring)."""
    return next(conn.execute("SELECT version + 1 - pinned FROM galaxlite_clock"))[0]


def sync(conn: apsw.Connection, version: int, table: str | None = None, column: str | None = None) -> None:
    """Bring the history's rows in force now (of ``table``, of ``table.column``) in step with
    ``galaxlite_embedding_columns``: a row no longer there or changed is closed at ``version``
    (deleted if it was opened at that version: never in force), a new or changed one opened
    at it (inside the caller's transaction and ``guards.catalog_writer``)."""
    if not conn.table_exists("main", HISTORY):
        return  # (a file of an older galaxlite opened read-only)
    where, args = "1", ()
    if table is not None:
        where, args = ("table_name = ?", (table,)) if column is None else \
            ("table_name = ? AND column_name = ?", (table, column))
    now = {(t.lower(), c.lower()): (t, c, *rest) for t, c, *rest in conn.execute(
        f"SELECT table_name, column_name, {_ROW} FROM galaxlite_embedding_columns WHERE {where}", args)}
    open_ = {(t.lower(), c.lower()): (rowid, tuple(rest), since) for rowid, t, c, since, *rest in conn.execute(
        f"SELECT rowid, table_name, column_name, valid_from, {_ROW} FROM {HISTORY} "
        f"WHERE valid_to IS NULL AND {where}", args)}
    for key, (rowid, row, since) in open_.items():
        if key not in now or tuple(now[key][2:]) != row:
            if since == version:
                conn.execute(f"DELETE FROM {HISTORY} WHERE rowid = ?", (rowid,))
            else:
                conn.execute(f"UPDATE {HISTORY} SET valid_to = ? WHERE rowid = ?", (version, rowid))
    for key, row in now.items():
        if key not in open_ or tuple(row[2:]) != open_[key][1]:
            conn.execute(f"INSERT INTO {HISTORY} (table_name, column_name, {_ROW}, valid_from) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (*row, version))


def out_of_step(conn: apsw.Connection) -> list[str]:
    """``table.column`` of each declaration whose row in force in the history is not the
    catalog's (nothing galaxlite writes: the file was changed outside it)."""
    if not {"galaxlite_embedding_columns", HISTORY} <= {
            n.lower() for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}:
        return []
    select = f"lower(table_name), lower(column_name), {_ROW}"
    now = set(conn.execute(f"SELECT {select} FROM galaxlite_embedding_columns"))
    open_ = set(conn.execute(f"SELECT {select} FROM {HISTORY} WHERE valid_to IS NULL"))
    return sorted({f"{t}.{c}" for t, c, *_ in now ^ open_})


def start(conn: apsw.Connection) -> None:
    """Give a file (a new one, or one of an older galaxlite) its history: the declarations
    it has in force since version 0, and ``MARKER`` (inside ``guards.catalog_writer``)."""
    have = {r[1] for r in conn.execute("SELECT * FROM pragma_table_info('galaxlite_embedding_columns')")}
    declared = "declared" if "declared" in have else "0"  # (added at open too: storage.check)
    conn.execute(
        f"INSERT INTO {HISTORY} (table_name, column_name, {_ROW}, valid_from) "
        f"SELECT table_name, column_name, embedder, dim, {declared}, 0 FROM galaxlite_embedding_columns"
    )
    conn.execute("INSERT OR REPLACE INTO galaxlite_meta (key, value) VALUES (?, 1)", (MARKER,))


def in_force(conn: apsw.Connection, table: str, version: int) -> list[tuple[str, str, str, int, int]]:
    """(table, column, embedder, dim, declared) of the declarations of ``table`` (its name
    now) in force at ``version``, by column name."""
    return list(conn.execute(
        f"SELECT table_name, column_name, {_ROW} FROM {HISTORY} WHERE table_name = ? AND valid_from <= ? "
        "AND (valid_to IS NULL OR valid_to > ?) ORDER BY column_name", (table, version, version)))


def purge(conn: apsw.Connection, before: int, table: str | None = None) -> int:
    """Delete the declarations (of ``table``, or of every table) that no version ``>= before``
    and no tag had in force: closed at or before ``before``, no tag in ``[valid_from,
    valid_to)``. Only exports of tags read this history, and every tag keeps its rows. Returns
    the rows deleted (inside ``PURGE HISTORY``'s transaction and ``guards.catalog_writer``)."""
    if not conn.table_exists("main", HISTORY):
        return 0
    one, args = ("AND table_name = ?", (before, table)) if table is not None else ("", (before,))
    conn.execute(f"DELETE FROM {HISTORY} WHERE valid_to <= ? {one} AND {no_tag_sees(HISTORY)}", args)
    return conn.changes()
