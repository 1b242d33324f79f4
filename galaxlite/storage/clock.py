"""The version clock: one strictly increasing µs version per committed transaction.

Hybrid: ``max(now_us, last + 1)``, so versions increase even when the wall clock stalls or
steps back. The state lives in the file (``galaxlite_clock``) so that the triggers of every
client share it. A galaxlite write transaction *pins* a version before its first write;
all its writes carry it; it is unpinned just before COMMIT. A plain client never sees a
pinned clock, so its triggers draw a fresh version for each row they write.
"""

from __future__ import annotations

import time

import apsw

from galaxlite.storage.guards import catalog_writer

PIN = "UPDATE galaxlite_clock SET version = max(version + 1, ?), pinned = 1 WHERE pinned = 0"
UNPIN = "UPDATE galaxlite_clock SET pinned = 0 WHERE pinned = 1"
ADVANCE = "UPDATE galaxlite_clock SET version = max(version + 1, ?), pinned = 0"


def now_us() -> int:
    """Wall-clock time in µs since the Unix epoch."""
    return time.time_ns() // 1000


def pin(conn: apsw.Connection) -> None:
    """Give the open transaction its version, unless it has one already (only galaxlite
    pins: the guard galaxlite_clock_pin, see schema/catalog.sql)."""
    with catalog_writer(conn):
        conn.execute(PIN, (now_us(),))


def is_pinned(conn: apsw.Connection) -> bool:
    """Does the open transaction hold a version (a read: takes no write lock)?"""
    return bool(next(conn.execute("SELECT pinned FROM galaxlite_clock"))[0])


def unpin(conn: apsw.Connection) -> None:
    conn.execute(UNPIN)


def advance(conn: apsw.Connection) -> int:
    """Draw a new version that separates all earlier writes from all later ones.

    Writes after this, even in the same transaction, get a later version.
    """
    conn.execute(ADVANCE, (now_us(),))
    return current(conn)


def current(conn: apsw.Connection) -> int:
    """The last version handed out."""
    return next(conn.execute("SELECT version FROM galaxlite_clock"))[0]
