"""galaxlite's own writes without per-row triggers: the set-based path.

The versioning triggers (``triggers``) version every client's writes one row at a time.
For galaxlite's own statements the engine can do the same work once per statement, with
the connection's triggers switched off (``SQLITE_DBCONFIG_ENABLE_TRIGGER``, a setting of
this connection only: other clients keep theirs):

* UPDATE / DELETE: before the statement runs, the old versions of the rows its WHERE
  selects go to history with one ``INSERT ... SELECT`` and the companion is brought up to
  date with one more statement (an UPDATE of every row of a rowid table: one range row,
  as a bulk insert writes); then the statement runs as written.
* a one-row INSERT: after it, one companion row for the new rowid.

The result is row for row what the triggers would have written (the property test
``tests/test_set_based_writes.py`` compares the two paths).
"""

from __future__ import annotations

import json

import apsw

from galaxlite.params import Params
from galaxlite.storage.table_versions import TableVersion
from galaxlite.storage.triggers import companion_keys, valid_from_sql
from galaxlite.transpile import plan as P
from galaxlite.transpile import quote_identifier as q


def version_changes(
    conn: apsw.Connection, tv: TableVersion, shape: P.ChangeRows, params: Params, version: int
) -> None:
    """Close, at ``version``, the versions of the rows that UPDATE / DELETE ``shape`` is
    about to change, as its triggers would have (run it right after, triggers off)."""
    ref = shape.ref
    where = f"WHERE {shape.where}" if shape.where is not None else "WHERE 1"
    source = f"FROM {shape.target} {where}"
    keys, key_exprs = companion_keys(tv)
    match = " AND ".join(f"{k} = {ref}.{e}" for k, e in zip(keys, key_exprs, strict=True))
    values = ", ".join(f"{ref}.{q(n)}" for n, _ in tv.columns)
    rowid = f"{ref}.{tv.key_columns[0]}" if tv.rowid_table else "NULL"
    v = int(version)
    (mark,) = next(conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {q(tv.history)}"))
    valid_from = valid_from_sql(tv, ref + ".", match, bulk_ranges(conn, tv))
    conn.execute(
        f"INSERT INTO {q(tv.history)} ({', '.join(h for _, h in tv.columns)}, _gl_rowid, "
        f"valid_from, valid_to) SELECT {values}, {rowid}, "
        f"coalesce({valid_from}, {v}), {v} {source}",
        params,
    )
    # Rows written earlier in this same version were never seen by anyone: no history.
    # (Filtering them in the INSERT would evaluate their valid_from twice.)
    conn.execute(f"DELETE FROM {q(tv.history)} WHERE rowid > ? AND valid_from >= ?", (mark, v))
    selected = ", ".join(f"{ref}.{e}" for e in key_exprs)
    if shape.where is None and tv.rowid_table:
        # Every row changes: one range row versions them all (see ``bulk``), as a bulk
        # insert's does, instead of a companion row each.
        conn.execute(f"DELETE FROM {q(tv.companion)}")
        if shape.verb == "UPDATE":
            conn.execute(
                f"INSERT INTO {q(tv.ranges)} (lo, hi, valid_from) SELECT min({rowid}), max({rowid}), "
                f"{v} FROM {shape.target} HAVING count(*) > 0"
            )
    elif shape.verb == "UPDATE":
        conn.execute(
            f"INSERT INTO {q(tv.companion)} ({', '.join(keys)}, valid_from) SELECT {selected}, {v} "
            f"{source} ON CONFLICT ({', '.join(keys)}) DO UPDATE SET valid_from = excluded.valid_from",
            params,
        )
    else:
        conn.execute(
            f"DELETE FROM {q(tv.companion)} WHERE ({', '.join(keys)}) IN (SELECT {selected} {source})",
            params,
        )
    # The stash only ever holds a plain client's pending replacements; rows changed here
    # must not be taken for replaced by a later plain insert.
    conn.execute(f"DELETE FROM {q(tv.stash)}")


MAX_INLINE_RANGES = 64  # beyond this, a per-row probe of the ranges table instead


def bulk_ranges(conn: apsw.Connection, tv: TableVersion) -> list[tuple[int, int, int]] | None:
    """The ranges table's rows (lo, hi, valid_from), if few enough to inline; else None."""
    if not tv.rowid_table:
        return None
    rows = conn.execute(f"SELECT lo, hi, valid_from FROM {q(tv.ranges)} LIMIT ?", (MAX_INLINE_RANGES + 1,)).fetchall()
    return rows if len(rows) <= MAX_INLINE_RANGES else None


RANGE_MIN_ROWS = 256


def version_appended_rows(conn: apsw.Connection, tv: TableVersion, rowids: list[int], version: int) -> None:
    """Version the rows one-row INSERTs appended to rowid table ``tv`` in this transaction
    at ``version`` (triggers off), as the insert trigger would have, in one or two statements.

    Rowids no longer there (a ROLLBACK TO undid their insert) are skipped. When the rows are
    exactly the rows of one rowid interval of at least ``RANGE_MIN_ROWS``, they get one range
    row (as a bulk insert's), else a companion row each: ranges stay few, as reading the past
    inlines them. (A companion row left in that interval by a plain client's REPLACE would
    take precedence over the range: it goes. So do the stash's notes there: the insert
    triggers, off here, would have dropped them, and a note left by another client would
    let a range row's version move, as a new row's may: versioned.sql, companion_guards.)
    """
    lo, hi = min(rowids), max(rowids)
    distinct = len(set(rowids))
    v = int(version)
    if hi - lo + 1 == distinct >= RANGE_MIN_ROWS:
        (present,) = next(conn.execute(
            f"SELECT count(*) FROM {q(tv.name)} WHERE {tv.key_columns[0]} BETWEEN ? AND ?", (lo, hi)))
        if present == distinct:
            conn.execute(f"DELETE FROM {q(tv.companion)} WHERE _gl_k0 BETWEEN ? AND ?", (lo, hi))
            conn.execute(f"DELETE FROM {q(tv.stash)} WHERE _gl_k0 BETWEEN ? AND ?", (lo, hi))
            conn.execute(f"INSERT INTO {q(tv.ranges)} (lo, hi, valid_from) VALUES (?, ?, ?)", (lo, hi, v))
            return
    conn.execute(
        f"INSERT INTO {q(tv.companion)} (_gl_k0, valid_from) SELECT t.{tv.key_columns[0]}, ? "
        f"FROM {q(tv.name)} AS t WHERE t.{tv.key_columns[0]} IN (SELECT value FROM json_each(?)) "
        "ON CONFLICT (_gl_k0) DO UPDATE SET valid_from = excluded.valid_from",
        (v, json.dumps(rowids)),
    )


def version_inserted_row(conn: apsw.Connection, tv: TableVersion, rowid: int, version: int) -> None:
    """The companion row of a row just inserted into rowid table ``tv`` (triggers off)."""
    conn.execute(
        f"INSERT INTO {q(tv.companion)} (_gl_k0, valid_from) VALUES (?, ?) "
        "ON CONFLICT (_gl_k0) DO UPDATE SET valid_from = excluded.valid_from",
        (rowid, version),
    )
