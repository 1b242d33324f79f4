"""Retention: ``PURGE HISTORY [OF t] BEFORE VERSION a`` and the purge horizon per table.

A history row ``[valid_from, valid_to)`` is seen by version ``v`` iff ``valid_from <= v <
valid_to``. Purging before ``a`` deletes the rows no version ``>= a`` sees (``valid_to <=
a``: found through the ``valid_to`` index) and no tag sees (a range probe of the tags'
``UNIQUE (version)`` index), nor a version a view or trigger definition reads (its SQL
names the version). Dataset snapshots keep rows of their own and need no history. The
history of embedding declarations is trimmed the same way (``declarations.purge``). Current
rows, companions and bulk ranges are untouched, so every tag and every version ``>= a``
reads the same before and after.

The horizon ``a`` is recorded per table in ``galaxlite_purges`` (guarded like the other
catalogs): reading the table at a version before it that is no tag's is a
``HistoryPurgedError``, never a silently wrong past.

History rows are append-only: a guard trigger refuses their deletion from any client. The
purge drops that one trigger inside its own transaction, deletes, and creates it again from
the same template (``schema/versioned.sql``), so no other connection ever sees it missing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import apsw

from galaxlite import errors as E
from galaxlite.storage import clock, declarations
from galaxlite.storage.table_versions import TableVersion, version_of_row
from galaxlite.storage.tags import no_tag_sees
from galaxlite.transpile import quote_identifier as q

PURGES = "galaxlite_purges"  # (a catalog: schema/catalog.sql)


@dataclass(frozen=True, slots=True)
class Purged:
    """What ``PURGE HISTORY`` removed from one table's history."""

    table: str
    rows: int
    bytes: int  # file pages freed (reusable, or given back by VACUUM) × page size
    horizon: int


def horizon(conn: apsw.Connection, table_id: int) -> int | None:
    """The purge horizon of the table (None: its history was never purged)."""
    if not conn.table_exists("main", PURGES):
        return None
    for (h,) in conn.execute(f"SELECT horizon FROM {PURGES} WHERE table_id = ?", (table_id,)):
        return h
    return None


def check_readable(conn: apsw.Connection, tv: TableVersion, version: int) -> None:
    """Raise HistoryPurgedError if ``tv``'s table cannot be read at ``version`` any more."""
    h = horizon(conn, tv.table_id)
    if h is None or version >= h:
        return
    (tagged,) = next(conn.execute("SELECT EXISTS (SELECT 1 FROM galaxlite_tags WHERE version = ?)", (version,)))
    if not tagged:
        raise E.HistoryPurgedError(
            f"the history of table {tv.name!r} before version {h} was purged (PURGE HISTORY): "
            f"version {version} can no longer be read; tags made before the purge still can"
        )


def _tables(conn: apsw.Connection, table_id: int | None) -> list[TableVersion]:
    """The latest schema of every table (dropped ones too: their history is kept), or of one."""
    one = "AND table_id = ?" if table_id is not None else ""
    rows = conn.execute(
        "SELECT table_id, name, valid_from, valid_to, history, companion, key_columns, columns "
        "FROM galaxlite_tables AS g WHERE valid_from = (SELECT max(valid_from) FROM "
        f"galaxlite_tables WHERE table_id = g.table_id) {one} ORDER BY name, table_id",
        (table_id,) if table_id is not None else (),
    )
    return [version_of_row(r) for r in rows]


_PINNED = re.compile(r"\bvalid_(?:to|from)\s*[<>]=?\s*(\d+)")


def pinned_versions(conn: apsw.Connection, tv: TableVersion) -> list[int]:
    """Versions that view and trigger definitions read this table at (AT VERSION or CHANGES
    BETWEEN in a CREATE VIEW / TRIGGER): SQLite runs their SQL again, so they keep them."""
    found: set[int] = set()
    for (sql,) in conn.execute(
        "SELECT sql FROM sqlite_master WHERE type IN ('view', 'trigger') AND instr(sql, ?) > 0",
        (q(tv.history),),
    ):
        found.update(int(n) for n in _PINNED.findall(sql))
    return sorted(found)


def purge(conn: apsw.Connection, before: int, table_id: int | None = None) -> list[Purged]:
    """Delete the history rows of one table (or all) that no version ``>= before``, no tag and
    no definition can see; record the horizon. Inside the caller's write transaction, with the
    catalog guards open (``catalog_writer``)."""
    conn.execute("INSERT OR REPLACE INTO galaxlite_meta (key, value) VALUES ('history_purged', 1)")
    (page_size,) = next(conn.execute("PRAGMA page_size"))
    now = clock.now_us()
    out = []
    for tv in _tables(conn, table_id):
        if not conn.table_exists("main", tv.history):
            continue
        (free_before,) = next(conn.execute("PRAGMA freelist_count"))
        pinned = json.dumps(pinned_versions(conn, tv))
        # (the caller's catalog_writer opens the history's delete guard)
        conn.execute(
            f"DELETE FROM {q(tv.history)} WHERE valid_to <= ? AND {no_tag_sees(q(tv.history))} "
            "AND NOT EXISTS (SELECT 1 FROM json_each(?) AS p WHERE p.value >= "
            f"{q(tv.history)}.valid_from AND p.value < {q(tv.history)}.valid_to)",
            (before, pinned),
        )
        rows = conn.changes()
        (free_after,) = next(conn.execute("PRAGMA freelist_count"))
        conn.execute(
            f"INSERT INTO {PURGES} (table_id, horizon, purged_us) VALUES (?, ?, ?) "
            "ON CONFLICT (table_id) DO UPDATE SET horizon = max(horizon, excluded.horizon), "
            "purged_us = excluded.purged_us",
            (tv.table_id, before, now),
        )
        out.append(Purged(tv.name, rows, max(0, free_after - free_before) * page_size,
                          max(before, horizon(conn, tv.table_id) or before)))
    if table_id is None:
        declarations.purge(conn, before)
    elif out:
        declarations.purge(conn, before, out[0].table)
    return out


@dataclass(frozen=True, slots=True)
class HistorySize:
    """One versioned table's history: closed row versions and the bytes they take (table
    and indexes), and its purge horizon."""

    table: str
    rows: int
    bytes: int
    horizon: int | None


def history_sizes(conn: apsw.Connection) -> list[HistorySize]:
    """The history size of every versioned table that exists now."""
    pages: dict[str, int] = {}
    try:
        for name, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            pages[name] = size
    except apsw.SQLError:  # an SQLite built without dbstat: rows only
        pass
    indexes: dict[str, list[str]] = {}
    for name, tbl in conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'"):
        indexes.setdefault(tbl, []).append(name)
    out = []
    for tv in _tables(conn, None):
        if tv.valid_to is not None or not conn.table_exists("main", tv.history):
            continue
        (rows,) = next(conn.execute(f"SELECT count(*) FROM {q(tv.history)}"))
        size = sum(pages.get(n, 0) for n in [tv.history, *indexes.get(tv.history, [])])
        out.append(HistorySize(tv.name, rows, size, horizon(conn, tv.table_id)))
    return out
