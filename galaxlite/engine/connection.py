"""galaxlite's apsw connection: the statements it keeps prepared stay off SQLite's lookaside.

SQLite gives each connection a small pool of fast memory for short-lived allocations (the
*lookaside*: 123 slots with apsw's SQLite). A prepared statement holds some of those slots for
as long as it lives, and apsw keeps up to 100 prepared statements in its cache. galaxlite runs
a dozen distinct statements when it opens a file, and a few more around every write (the
clock, the companion, history), so on a connection in use the pool is soon empty, and then
every allocation a query makes per row (a compound subquery copying text values through its
co-routine, a sorter, a string function) goes to ``malloc``: an ``AT VERSION`` aggregate over
1,000,000 rows took 353 ms instead of 297 ms on a fresh connection (``benchmarks/RESULTS.md``,
"lookaside").

``SQLITE_PREPARE_PERSISTENT`` tells SQLite a statement will be kept: it is then allocated
outside the pool, which stays free for the queries' own work. :func:`open_connection` makes a
connection whose cursors prepare every statement so: ``conn.execute``, ``conn.executemany``,
``conn.cursor().execute`` and ``conn.pragma`` alike, so that no caller has to remember it.

The two hot paths of ``galaxlite.runners.execute`` (a plain query, a one-row INSERT) run the
user's statement with apsw's own ``Cursor.execute`` on a :func:`plain_cursor`: a Python-level
``execute`` would cost them ≈ 0.25 µs, and the user's own statements may take the pool as
they would on any connection.

>>> conn = open_connection(":memory:")
>>> for i in range(60):
...     _ = conn.execute(f"SELECT {i}, ? + 1", (i,)).fetchall()
>>> conn.status(apsw.SQLITE_DBSTATUS_LOOKASIDE_USED)[0] < 10  # an apsw.Connection: 123
True
>>> plain_cursor(conn).execute("SELECT 2").fetchall()
[(2,)]
"""

from __future__ import annotations

from typing import Any

import apsw

PERSISTENT = apsw.SQLITE_PREPARE_PERSISTENT
_execute = apsw.Cursor.execute
_executemany = apsw.Cursor.executemany


class PersistentCursor(apsw.Cursor):
    """An apsw cursor that prepares its statements with ``SQLITE_PREPARE_PERSISTENT``."""

    def execute(
        self, statements: str, bindings: Any = None, *, can_cache: bool = True,
        prepare_flags: int = 0, explain: int = -1,
    ) -> apsw.Cursor:
        return _execute(self, statements, bindings, can_cache=can_cache,
                        prepare_flags=prepare_flags | PERSISTENT, explain=explain)

    def executemany(
        self, statements: str, sequenceofbindings: Any, *, can_cache: bool = True,
        prepare_flags: int = 0, explain: int = -1,
    ) -> apsw.Cursor:
        return _executemany(self, statements, sequenceofbindings, can_cache=can_cache,
                            prepare_flags=prepare_flags | PERSISTENT, explain=explain)


def open_connection(filename: str, read_only: bool = False) -> apsw.Connection:
    """An apsw connection to ``filename`` (created if missing, unless ``read_only``) whose
    cursors prepare persistent statements."""
    flags = apsw.SQLITE_OPEN_READONLY if read_only else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    conn = apsw.Connection(filename, flags=flags)
    conn.cursor_factory = PersistentCursor
    return conn


def plain_cursor(conn: apsw.Connection) -> apsw.Cursor:
    """An apsw cursor on ``conn`` with apsw's own ``execute`` (for the hot paths)."""
    return apsw.Cursor(conn)
