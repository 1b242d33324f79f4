"""The trigger-free path of a bulk insert: version all appended rows with one range row.

A rowid table's ranges table (``_gl_r<id>``, see ``galaxlite.storage.tables``) records
``(lo, hi, valid_from)`` for a run of rowids appended at once, so a bulk insert writes no
companion row per inserted row and fires no per-row trigger.
"""

from __future__ import annotations

from collections.abc import Callable

import apsw

from galaxlite.storage.guards import catalog_writer
from galaxlite.storage.table_versions import MAX_VERSION, TableVersion
from galaxlite.storage.triggers import exec_section
from galaxlite.transpile import quote_identifier as q


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
    if not tv.rowid_table:
        return False
    rowid = tv.key_columns[0]
    (high,) = next(conn.execute(f"SELECT max({rowid}) FROM {q(tv.name)}"))
    if high is not None and high >= MAX_VERSION:  # SQLite would pick random rowids
        return False
    # New rows are those above the old maximum; in an empty table, all of them (whatever
    # their rowids: from 0, negative, with gaps).
    above, args = (f"WHERE {rowid} > ?", (high,)) if high is not None else ("", ())
    conn.execute("SAVEPOINT _gl_bulk")
    try:
        exec_section(conn, "drop_insert_trigger", tv)
        inserted = run_insert()
        appended, low, top = next(
            conn.execute(f"SELECT count(*), min({rowid}), max({rowid}) FROM {q(tv.name)} {above}", args)
        )
        # A companion row among the new rowids would be stale (left by a plain client's
        # REPLACE without recursive triggers) and would shadow the range: use the triggers.
        (stale,) = next(conn.execute(
            f"SELECT EXISTS (SELECT 1 FROM {q(tv.companion)} "
            f"{above.replace(rowid, '_gl_k0')})", args
        ))
        ok = inserted == appended and not stale
        if ok:
            if appended:
                last_rowid = conn.last_insert_rowid()
                with catalog_writer(conn):  # (only galaxlite adds ranges: versioned.sql)
                    conn.execute(
                        f"INSERT INTO {q(tv.ranges)} (lo, hi, valid_from) VALUES (?, ?, ?)",
                        (low, top, version),
                    )
                conn.set_last_insert_rowid(last_rowid)
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
