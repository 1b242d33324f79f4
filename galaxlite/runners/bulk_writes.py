"""How a bulk insert (``BULK INSERT … SELECT``, ``BULK INSERT … FROM 'file'``, a large
``executemany``) writes its rows: untriggered when it can, else on the bulk path, else
through the triggers.

:func:`bulk_insert` tries, in order:

1. :func:`insert_untriggered`: the connection's triggers switched off, the rows versioned by
   one range row, and the transaction's version pinned *after* the rows. Only when nothing
   but the inserted rows can change: the table has no user trigger and no conflict clause,
   and the statement neither replaces nor upserts.
2. ``Session.bulk``: the table's insert trigger dropped for the insert (other triggers fire).
3. The triggers, when a range cannot version the rows (rowids below the old maximum).

Why pin late: the clock's page, written at the pin and again at the unpin, is otherwise
written early in a large transaction, spilled to the log with the rest, and written again
before COMMIT, which then makes SQLite re-read the whole log to recompute its checksums
(0.05 s of a 1M-row load; the dropped and remade insert trigger's schema pages do the same).
"""

from __future__ import annotations

from collections.abc import Callable

from galaxlite import storage
from galaxlite.engine.session import Session
from galaxlite.storage import bulk, clock
from galaxlite.transpile import plan as P

THROUGH_TRIGGERS = -1  # insert_untriggered: the rows must go through the triggers


def bulk_insert(
    session: Session,
    table: P.TableName,
    run: Callable[[], int],
    fast_run: Callable[[], int] | None = None,
    *,
    replaces: bool,
    lowest: Callable[[], float | None] = lambda: bulk.UNKNOWN_ROWIDS,
) -> int:
    """Insert with ``run`` (through the triggers) or ``fast_run`` (no trigger: every change it
    counts is an inserted row; default ``run``) inside ``session.writing(..., pin=False,
    triggers=False)``; returns the rows inserted. ``replaces``: the statement can change
    other rows than those it inserts (REPLACE, UPSERT). ``lowest()``: after ``fast_run``, the
    lowest rowid the inserted rows gave, when the caller knows it (saves counting them)."""
    conn = session.conn
    tv = storage.current_version(conn, table.name) if not table.is_temp and table.schema in (None, "main") else None
    count = None
    if tv is not None and not replaces:
        count = insert_untriggered(session, tv, fast_run or run, lowest)
    if count is THROUGH_TRIGGERS:  # (a range cannot version them: the bulk path neither)
        return run()
    if count is None:
        session.write_paths.triggers(True)
        session.pin()
        count = session.bulk(table, clock.current(conn), run, fast_run)
    return count


def insert_untriggered(
    session: Session, tv: storage.TableVersion, run: Callable[[], int],
    lowest: Callable[[], float | None] = lambda: bulk.UNKNOWN_ROWIDS,
) -> int | None:
    """``run()`` with the connection's triggers off, its rows versioned by one range row
    (``storage.bulk``), when the table has no user trigger and no conflict clause: each row
    inserted is then one new row and nothing else changes. None, with nothing done, when
    the table does not allow it; ``THROUGH_TRIGGERS``, with nothing done but the pin, when
    the rows cannot be versioned by a range (the caller then inserts them through the
    triggers)."""
    conn, paths = session.conn, session.write_paths
    facts = paths.facts()
    if tv.name.lower() in facts.triggered | facts.conflicts or session.schema_conflicts():
        return None
    possible, high = bulk.old_maximum(conn, tv)
    if not possible:
        return None
    conn.execute("SAVEPOINT _gl_untriggered")
    try:
        paths.triggers(False)
        try:
            count = run()
        finally:
            paths.triggers(True)
        span = bulk.appended_span(conn, tv, high, count, lowest(), trusted=True)
        if span is not None:
            session.pin()
            bulk.add_range(conn, tv, span, clock.current(conn))
    except BaseException:
        conn.execute("ROLLBACK TO _gl_untriggered")
        conn.execute("RELEASE _gl_untriggered")
        raise
    if span is None:  # rows at low rowids, or a stale companion row: through the triggers
        conn.execute("ROLLBACK TO _gl_untriggered")
    conn.execute("RELEASE _gl_untriggered")
    if span is None:
        session.pin()
        return THROUGH_TRIGGERS
    return count
