"""The trigger-free path of a bulk insert: version all appended rows with one range row.

A rowid table's ranges table (``_gl_r<id>``, see ``galaxlite.storage.tables``) records
``(lo, hi, valid_from)`` for a run of rowids appended at once, so a bulk insert writes no
companion row per inserted row and fires no per-row trigger.

Two ways in: ``bulk_append`` drops the table's insert triggers for the insert (any other
trigger still fires, so the new rows are counted afterwards); a caller that ran the insert
with the connection's triggers off, into a table with no user trigger and no conflict
clause, knows that each row it inserted added one row and nothing else changed, and asks
``appended_span`` with what it knows of the rowids it gave (no scan of the new rows).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import apsw

from galaxlite.storage.guards import catalog_writer
from galaxlite.storage.table_versions import MAX_VERSION, TableVersion
from galaxlite.storage.triggers import exec_section
from galaxlite.transpile import quote_identifier as q

# What a caller knows of the lowest rowid its insert gave (``appended_span``'s ``lowest``):
NO_ROWIDS = None  # it gave none (SQLite picked every rowid)
UNKNOWN_ROWIDS = -math.inf  # it cannot tell (the rows are then counted)


def old_maximum(conn: apsw.Connection, tv: TableVersion) -> tuple[bool, int | None]:
    """(can new rows be versioned by a range, the table's highest rowid before they come).

    Not when the table is WITHOUT ROWID, nor when its highest rowid is the largest one
    (SQLite would then pick random rowids, below it)."""
    if not tv.rowid_table:
        return False, None
    (high,) = next(conn.execute(f"SELECT max({tv.key_columns[0]}) FROM {q(tv.name)}"))
    return high is None or high < MAX_VERSION, high


def appended_span(
    conn: apsw.Connection, tv: TableVersion, high: int | None, inserted: int,
    lowest: float | None = UNKNOWN_ROWIDS, trusted: bool = False,
) -> tuple[int, int] | None:
    """(lowest, highest rowid) of the ``inserted`` rows just appended above ``high`` (the old
    maximum; None: the table was empty, any rowids), or None when a range cannot version
    them: not all of them are there (explicit low rowids, REPLACE or UPSERT hits, a trigger
    adding rows), or a companion row among them is stale.

    ``trusted``: every inserted row added exactly one row and nothing else changed the
    table (triggers off, no conflict clause). Then the rows are not counted when ``lowest``,
    the lowest rowid the insert gave (``NO_ROWIDS``: it gave none, SQLite picked each as the
    highest + 1), shows them all above ``high``.
    """
    rowid, table = tv.key_columns[0], q(tv.name)
    above, args = (f"WHERE {rowid} > ?", (high,)) if high is not None else ("", ())
    (top,) = next(conn.execute(f"SELECT max({rowid}) FROM {table}"))
    if trusted and inserted and top < MAX_VERSION and (high is None or lowest is None or lowest > high):
        appended = inserted
        (low,) = next(conn.execute(f"SELECT min({rowid}) FROM {table} {above}", args))
    else:
        appended, low, top = next(
            conn.execute(f"SELECT count(*), min({rowid}), max({rowid}) FROM {table} {above}", args)
        )
    if appended != inserted:
        return None
    # A companion row among the new rowids would be stale (left by a plain client's
    # REPLACE without recursive triggers) and would shadow the range: use the triggers.
    (stale,) = next(conn.execute(
        f"SELECT EXISTS (SELECT 1 FROM {q(tv.companion)} {above.replace(rowid, '_gl_k0')})", args
    ))
    return None if stale else (low, top)


def add_range(conn: apsw.Connection, tv: TableVersion, span: tuple[int, int] | None, version: int) -> None:
    """Version the rows ``span`` (from ``appended_span``; None: no row) as of ``version``."""
    if span is None or span[0] is None:
        return
    last_rowid = conn.last_insert_rowid()
    with catalog_writer(conn):  # (only galaxlite adds ranges: versioned.sql)
        conn.execute(f"INSERT INTO {q(tv.ranges)} (lo, hi, valid_from) VALUES (?, ?, ?)", (*span, version))
        # a stash note another client left for a rowid the range now versions would let that
        # row's version move, as a new row's may (the insert triggers, when they ran, dropped
        # their own notes; an untriggered insert leaves the stash as it was)
        conn.execute(f"DELETE FROM {q(tv.stash)} WHERE _gl_k0 BETWEEN ? AND ?", span)
    conn.set_last_insert_rowid(last_rowid)


def bulk_append(
    conn: apsw.Connection, tv: TableVersion, version: int, run_insert: Callable[[], int]
) -> bool:
    """Run ``run_insert`` with the insert trigger removed, then version all the new rows at
    once: one row ``(lowest new rowid, highest new rowid, version)`` in the ranges table.

    Works for rowid tables when every inserted row got a rowid above the old maximum (the
    normal case), or the table was empty (any rowids). Returns False, with nothing changed,
    when that did not hold (explicit low rowids, REPLACE or UPSERT hits): the caller then
    inserts through the triggers instead, which gives the same result.
    """
    possible, high = old_maximum(conn, tv)
    if not possible:
        return False
    conn.execute("SAVEPOINT _gl_bulk")
    try:
        exec_section(conn, "drop_insert_trigger", tv)
        inserted = run_insert()
        span = appended_span(conn, tv, high, inserted)
        ok = span is not None
        if ok:
            add_range(conn, tv, span, version)
            exec_section(conn, "insert_trigger", tv)
    except apsw.ConstraintError:
        ok = False
    except BaseException:
        conn.execute("ROLLBACK TO _gl_bulk")
        conn.execute("RELEASE _gl_bulk")
        raise
    if not ok:
        conn.execute("ROLLBACK TO _gl_bulk")
    conn.execute("RELEASE _gl_bulk")
    return ok
