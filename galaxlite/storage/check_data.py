"""The data side of ``galaxlite check``: row versions that contradict each other, rows gone
without history, and snapshot storage.

SQLite triggers cannot tell a row a versioning trigger inserts from one a plain client
inserts directly with the same values: a history row forged with the clock's current
version as ``valid_to`` passes the guard. Such a row contradicts the real ones, which is
what ``overlapping_versions`` finds: per key, the closed versions ``[valid_from, valid_to)``
never overlap each other nor the current row's version (``valid_from`` onwards). A forged
row for a key with no other version contradicts nothing and is not found.
"""

from __future__ import annotations

import apsw

from galaxlite.storage import declarations, guards
from galaxlite.storage.snapshot_catalog import all_snapshots
from galaxlite.storage.table_versions import TableVersion
from galaxlite.storage.triggers import companion_keys, valid_from_sql
from galaxlite.transpile import quote_identifier as q


def history_keys(tv: TableVersion) -> list[str] | None:
    """The history columns that hold a row's key (None: a key column has none)."""
    if tv.rowid_table:
        return ["_gl_rowid"]
    cols = [tv.history_column(k) for k in tv.key_columns]
    return None if None in cols else cols


def overlapping_versions(conn: apsw.Connection, tv: TableVersion) -> int:
    """How many row versions overlap an earlier version of the same key, or the current
    row's (see the module docstring)."""
    keys = history_keys(tv)
    if keys is None:
        return 0
    h = q(tv.history)
    part = ", ".join(keys)
    (among,) = next(conn.execute(
        f"SELECT count(*) FROM (SELECT valid_from, lag(valid_to) OVER (PARTITION BY {part} "
        f"ORDER BY valid_from, valid_to) AS before FROM {h}) WHERE valid_from < before"
    ))
    ckeys, key_exprs = companion_keys(tv)
    match = " AND ".join(f"{k} = t.{e}" for k, e in zip(ckeys, key_exprs, strict=True))
    on = " AND ".join(f"x.k{i} = t.{e}" for i, e in enumerate(key_exprs))
    (current,) = next(conn.execute(
        f"SELECT count(*) FROM (SELECT {', '.join(f'{k} AS k{i}' for i, k in enumerate(keys))}, "
        f"max(valid_to) AS last FROM {h} GROUP BY {part}) AS x JOIN {q(tv.name)} AS t ON {on} "
        f"WHERE {valid_from_sql(tv, 't.', match)} < x.last"
    ))
    return among + current


def rows_gone_without_history(conn: apsw.Connection, tv: TableVersion, ranges: bool = True) -> int:
    """Rows that had a version and are gone from the table, their version never closed in
    history: companion rows without a current row, and (rowid tables, with ``ranges``) bulk
    ranges none of whose rows is either current or in history. (Only meaningful once the
    table's versioning triggers are missing: with them, a companion row left behind is a
    plain REPLACE's, whose version did reach history, and a range can lose all its rows
    legitimately, e.g. rows a whole-table UPDATE versioned as one range and a REPLACE
    deleted in that same version, which no one saw.)"""
    keys, key_exprs = companion_keys(tv)
    match = " AND ".join(f"t.{e} = c.{k}" for k, e in zip(keys, key_exprs, strict=True))
    (gone,) = next(conn.execute(
        f"SELECT count(*) FROM {q(tv.companion)} AS c WHERE NOT EXISTS "
        f"(SELECT 1 FROM {q(tv.name)} AS t WHERE {match})"
    ))
    if tv.rowid_table and ranges:
        rowid = tv.key_columns[0]
        (empty,) = next(conn.execute(
            f"SELECT count(*) FROM {q(tv.ranges)} AS r WHERE NOT EXISTS (SELECT 1 FROM {q(tv.name)} "
            f"WHERE {rowid} BETWEEN r.lo AND r.hi) AND NOT EXISTS (SELECT 1 FROM {q(tv.history)} "
            "AS h WHERE h._gl_rowid BETWEEN r.lo AND r.hi AND h.valid_from >= r.valid_from)"
        ))
        gone += empty
    return gone


def snapshot_problems(conn: apsw.Connection) -> list[tuple[str, str | None]]:
    """(problem, repair or None) of the snapshots' storage: each storage table is there with
    the columns its snapshots read, and its read-only triggers as galaxlite makes them."""
    out: list[tuple[str, str | None]] = []
    have = guards.triggers(conn)
    seen: set[str] = set()
    for snap in all_snapshots(conn):
        where = f"snapshot {snap.name} (storage {snap.storage})"
        if not snap.storage or not conn.table_exists("main", snap.storage):
            out.append((f"{where}: its storage table is missing (dropped or renamed outside "
                        "galaxlite): the snapshot cannot be read", None))
            continue
        columns = {r[1].lower() for r in conn.execute("SELECT * FROM pragma_table_info(?)", (snap.storage,))}
        wanted = [c.physical for c in snap.columns]
        if snap.mode == "CSS":
            wanted += ["_gl_rid", *snap.flags, *(m for m, _ in snap.masks)]
        gone = [c for c in wanted if c.lower() not in columns]
        if gone:
            out.append((f"{where}: column(s) {', '.join(gone)} of its storage are gone (changed "
                        "outside galaxlite): the snapshot cannot be read", None))
        if snap.storage in seen:
            continue
        seen.add(snap.storage)
        expected = guards.read_only_triggers(snap.storage)
        bad = [n for n in expected if n not in have or not guards.same_sql(have[n], expected[n])]
        if bad:
            out.append((f"{where}: read-only triggers missing or changed: {', '.join(bad)} "
                        "(its rows may have been written since)", "make them again"))
    return out


def repair_snapshots(conn: apsw.Connection) -> None:
    """Make the missing or changed read-only triggers of snapshot storage again."""
    have = guards.triggers(conn)
    for storage in {s.storage for s in all_snapshots(conn) if s.storage}:
        if conn.table_exists("main", storage):
            expected = guards.read_only_triggers(storage)
            bad = [n for n in expected if n not in have or not guards.same_sql(have[n], expected[n])]
            guards.remake_triggers(conn, expected, bad)


# ---------------------------------------------------------------------- embedding declarations


def embedding_history_problems(conn: apsw.Connection) -> list[tuple[str, str]]:
    """(problem, repair): the declarations in force by the history are not the catalog's."""
    differ = declarations.out_of_step(conn)
    if not differ:
        return []
    return [(f"catalog galaxlite_embedding_history is out of step with galaxlite_embedding_columns "
             f"for {', '.join(differ)} (changed outside galaxlite): exports of older tags may use "
             "other declarations than at tag time", "record the declarations of now from now on")]


def repair_embedding_history(conn: apsw.Connection, version: int) -> None:
    """Record the declarations of now from ``version`` on (inside ``guards.catalog_writer``)."""
    if declarations.out_of_step(conn):
        declarations.sync(conn, version)
