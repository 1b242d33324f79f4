"""Write scopes: how a write becomes (part of) one version; taking the write lock so that a
writer waits for it (up to its busy timeout); counting changes of an executemany."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

import apsw

from galaxlite import errors as E
from galaxlite.params import Params
from galaxlite.storage import clock

# A write that changes nothing (no row matches, so no trigger fires): running it takes
# SQLite's write lock, waiting for it like any first write of a transaction.
CLAIM_WRITE_LOCK = "UPDATE galaxlite_clock SET pinned = pinned WHERE 0"


class Pinning(Protocol):
    """What a write scope needs of its session: the connection and the pin state."""

    pinned: bool
    write_epoch: int

    @property
    def conn(self) -> apsw.Connection: ...

    def pin(self) -> None: ...


def claim_write_lock(conn: apsw.Connection) -> None:
    """Inside an open transaction, take SQLite's write lock now, before a write's own reads.

    SQLite waits for the write lock (calling the busy handler, up to the busy timeout) only
    when the transaction asking for it holds no read snapshot yet. A write after a read in
    the same transaction is a lock upgrade, which SQLite refuses at once if another
    connection is writing (SQLITE_BUSY) or has committed since the read (SQLITE_BUSY_SNAPSHOT,
    in WAL mode): waiting could not help, the snapshot is out of date. A galaxlite write reads
    before it writes (the schema, tags, the clock), so in a deferred transaction that has not
    read yet (``BEGIN``, the DB-API's implicit ``BEGIN``) the lock is taken first, as a plain
    INSERT would take it. Outside a transaction ``WriteScope`` begins IMMEDIATE instead.

    A refused upgrade raises ``upgrade_refused``'s OperationalError; other failures (the
    timeout ran out: "database is locked") raise the apsw error, as the write itself would.
    """
    if not conn.in_transaction:
        return
    state = conn.txn_state("main")
    if state == apsw.SQLITE_TXN_WRITE:
        return
    try:
        conn.execute(CLAIM_WRITE_LOCK)
    except apsw.BusyError as exc:
        if state == apsw.SQLITE_TXN_READ:
            raise upgrade_refused(exc, in_transaction=True) from None
        raise


def upgrade_refused(exc: apsw.BusyError, *, in_transaction: bool) -> E.OperationalError:
    """SQLite refused the write lock at once because this connection holds a read snapshot:
    the error says why and what to do (``in_transaction``: the snapshot is the open
    transaction's, else an unfinished query's)."""
    if in_transaction:
        why = (
            "this transaction read the database before its first write (or a query of this "
            "connection still has rows to fetch), and another connection is writing or has "
            "committed since that read, so SQLite cannot wait for the write lock (the "
            "transaction's snapshot would be out of date): roll back and run the transaction "
            "again, or begin it with BEGIN IMMEDIATE so that it takes the write lock (waiting "
            "for it) before it reads"
        )
    else:
        why = (
            "a query of this connection is still open (not all of its rows fetched) and holds "
            "a read snapshot, so SQLite cannot wait for the write lock another connection holds: "
            "fetch the rest of its rows or close its cursor before writing"
        )
    err = E.from_apsw(exc)
    refused = E.OperationalError(f"{err.message}: {why}")
    refused.sqlite_errorcode = err.sqlite_errorcode
    return refused


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
            try:
                conn.execute("BEGIN IMMEDIATE")  # waits for the write lock, up to the timeout
            except apsw.BusyError as exc:  # at once, if an open query holds a snapshot
                if conn.txn_state("main") == apsw.SQLITE_TXN_READ:
                    raise upgrade_refused(exc, in_transaction=False) from None
                raise
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
