"""Write scopes: how a write becomes (part of) one version; counting changes of an executemany."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

import apsw

from galaxlite.params import Params
from galaxlite.storage import clock


class Pinning(Protocol):
    """What a write scope needs of its session: the connection and the pin state."""

    pinned: bool
    write_epoch: int

    @property
    def conn(self) -> apsw.Connection: ...

    def pin(self) -> None: ...


class WriteScope:
    """A write that becomes (part of) one version.

    Outside a transaction: BEGIN IMMEDIATE, pin the clock, ..., unpin, COMMIT (ROLLBACK on
    error). Inside one: pin the clock (idempotent), within a savepoint when ``atomic`` so a
    multi-statement operation is all-or-nothing there too.

    ``keep_partial``: a statement failing under ON CONFLICT FAIL keeps the rows it wrote
    before the failing one, as in plain autocommit SQLite, so they are committed.
    ``recursive``: REPLACE deletes conflicting rows without firing DELETE triggers unless
    recursive_triggers is on, and their history would be lost; it is turned on only for
    statements that can REPLACE, so users' own triggers keep SQLite's default elsewhere.
    A class, not a generator context manager: it is on every write's path.
    """

    __slots__ = ("session", "conn", "pin", "atomic", "keep_partial", "recursive", "mode")

    def __init__(self, session: Pinning, *, pin: bool, atomic: bool, keep_partial: bool, recursive: bool):
        self.session, self.conn, self.pin, self.atomic = session, session.conn, pin, atomic
        self.keep_partial, self.recursive = keep_partial, recursive
        self.mode = ""

    def __enter__(self) -> WriteScope:
        conn = self.conn
        if not conn.in_transaction:
            self.mode = "begin"
            conn.execute("BEGIN IMMEDIATE")
        elif self.atomic:
            self.mode = "savepoint"
            conn.execute("SAVEPOINT _gl_write")
        else:
            self.mode = "inside"
        try:
            if self.pin:
                self.session.pin()
            if self.recursive:
                conn.execute("PRAGMA recursive_triggers = ON")
        except BaseException:
            self.recursive = False
            self.__exit__(Exception, None, None)
            raise
        return self

    def __exit__(self, exc_type: type | None, exc: object, tb: object) -> bool:
        conn, mode = self.conn, self.mode
        self.session.write_epoch += 1  # what was read inside may be rolled back
        if self.recursive:
            conn.execute("PRAGMA recursive_triggers = OFF")
        if exc_type is None:
            if mode == "begin":
                try:
                    clock.unpin(conn)
                    conn.execute("COMMIT")
                except BaseException:  # e.g. a deferred foreign key fails at COMMIT
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            elif mode == "savepoint":
                conn.execute("RELEASE _gl_write")
            return False
        if mode == "begin" and conn.in_transaction:
            if self.keep_partial and issubclass(exc_type, apsw.Error):
                clock.unpin(conn)
                conn.execute("COMMIT")
            else:
                conn.execute("ROLLBACK")
        elif mode == "savepoint":
            conn.execute("ROLLBACK TO _gl_write")  # may undo the pin
            conn.execute("RELEASE _gl_write")
            self.session.pinned = False
        return False


class ChangeCounter:
    """Sums ``changes()`` over an executemany: read as each next parameter set is drawn."""

    __slots__ = ("conn", "count", "started", "last")

    def __init__(self, conn: apsw.Connection):
        self.conn = conn
        self.reset()

    def reset(self) -> None:
        self.count = self.last = 0
        self.started = False

    def wrap(self, seq: Iterable[Params]) -> Iterator[Params]:
        changes = self.conn.changes
        for params in seq:
            if self.started:
                self.count += changes()
            self.started = True
            yield params

    def total(self) -> int:
        self.last = self.conn.changes() if self.started else 0
        return self.count + self.last
