"""Keeping the data in the database file, not in its write-ahead log.

galaxlite runs SQLite in WAL mode: committed writes go to ``<file>-wal`` first and reach the
database file at a checkpoint (SQLite's automatic one runs every 1,000 pages, and the last
connection to close runs one and removes the log). A process that writes a little and then
stays open, or never closes its database, would leave its data in the log, and a copy of the
database file alone would miss it. So:

* every galaxlite connection still open at interpreter exit is closed then (``atexit``);
* once a file has had no commit for ``IDLE_SECONDS``, a background thread checkpoints it
  (PASSIVE: it never waits for, nor blocks, readers or writers; through a connection of its
  own, so it never touches a connection the application is using).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
import weakref
from typing import Protocol

import apsw

IDLE_SECONDS = 1.0
_POLL_SECONDS = 0.25

_lock = threading.Lock()
_last_commit: dict[str, float] = {}  # file name → monotonic time of its last unsaved commit
_thread: threading.Thread | None = None


def note_commit(filename: str) -> None:
    """A transaction on ``filename`` committed: checkpoint it once it has been idle a while.

    Cheap (a dict entry): it runs in SQLite's commit hook, on every commit.
    """
    global _thread
    _last_commit[filename] = time.monotonic()
    if _thread is None:
        with _lock:
            if _thread is None:
                _thread = threading.Thread(target=_watch, name="galaxlite-checkpoint", daemon=True)
                _thread.start()


def checkpoint(filename: str) -> bool:
    """Copy what the log of ``filename`` holds into the file now, as far as readers allow;
    True when all of it was copied."""
    conn = apsw.Connection(filename, flags=apsw.SQLITE_OPEN_READWRITE)
    try:
        conn.set_busy_timeout(0)
        busy, log, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
        return not busy and log == copied
    finally:
        conn.close()


def _watch() -> None:
    while True:
        time.sleep(_POLL_SECONDS)
        now = time.monotonic()
        for filename, at in list(_last_commit.items()):
            if now - at < IDLE_SECONDS:
                continue
            try:
                done = checkpoint(filename)
            except apsw.Error:
                done = False  # busy, or the file is gone: try again after the next commit
            if done or not _exists(filename):
                # (a commit since we looked keeps its own, newer entry)
                if _last_commit.get(filename) == at:
                    _last_commit.pop(filename, None)
            else:
                _last_commit[filename] = now


def _exists(filename: str) -> bool:
    return os.path.exists(filename)


class Closable(Protocol):
    def close(self) -> None: ...


_open: weakref.WeakSet[Closable] = weakref.WeakSet()


def close_at_exit(connection: Closable) -> None:
    """Close ``connection`` at interpreter exit if it is still open then (held weakly: a
    connection the program drops is closed when it is collected, as before)."""
    _open.add(connection)


@atexit.register
def _close_all() -> None:
    for connection in list(_open):
        with contextlib.suppress(Exception):
            connection.close()
