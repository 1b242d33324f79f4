"""When a DB-API connection opens and ends transactions: the rules of ``sqlite3`` (Python 3.12).

* ``autocommit=LEGACY_TRANSACTION_CONTROL`` (the default): with ``isolation_level`` ``""``
  (default), ``"DEFERRED"``, ``"IMMEDIATE"`` or ``"EXCLUSIVE"``, a ``BEGIN`` is issued right
  before an INSERT/UPDATE/DELETE/REPLACE (or ``BULK INSERT``) when no transaction is open;
  ``commit()`` ends it. With ``isolation_level=None`` every statement commits on its own.
* ``autocommit=True``: every statement commits on its own; ``commit()``/``rollback()`` do nothing.
* ``autocommit=False``: a transaction is always open (PEP 249's model); ``commit()`` and
  ``rollback()`` start the next one.

DDL and ``CREATE/DROP VERSION TAG`` never open a transaction implicitly (as DDL in ``sqlite3``).
One committed transaction is one galaxlite version.

Waiting for locks: a write waits up to the connection's ``timeout`` for another connection's
write lock, as in ``sqlite3``. The implicit ``BEGIN`` comes right before the write, so the
transaction has read nothing yet, and the engine takes the write lock before the statement's
own reads (``Session.claim_write_lock``). A transaction that *reads before its first write*
(an explicit ``BEGIN``, ``autocommit=False``) cannot wait: SQLite refuses that lock upgrade
at once, and the ``OperationalError`` says so (begin it with ``BEGIN IMMEDIATE``, or retry).
"""

from __future__ import annotations

import weakref
from threading import get_ident
from typing import Any

from galaxlite.database import Database
from galaxlite.errors import Error, ProgrammingError
from galaxlite.transpile import plan as P

LEGACY_TRANSACTION_CONTROL = -1  # the value of sqlite3.LEGACY_TRANSACTION_CONTROL

ISOLATION_LEVELS = ("", "DEFERRED", "IMMEDIATE", "EXCLUSIVE")
MAX_CACHED = 2048  # per-connection cache of statement kinds

# What a statement is, as far as the DB-API cares (cached per SQL text).
OTHER = 0  # DDL, tags, transaction control, PRAGMA ...: rowcount -1, no implicit BEGIN
DML = 1  # INSERT/UPDATE/DELETE/REPLACE/BULK INSERT: implicit BEGIN, rowcount, lastrowid
READ = 2  # SELECT/VALUES/EXPLAIN: rowcount -1; executemany() refuses it (as sqlite3 does)
_CODES = {P.WRITE: DML, P.BULK_INSERT: DML, P.READ: READ}

CLOSED_MESSAGE = "cannot operate on a closed database connection"


def check_isolation_level(level: str | None) -> str | None:
    """``level`` in upper case, if it is one ``sqlite3`` accepts (None: autocommit)."""
    if level is None:
        return None
    if not isinstance(level, str):
        raise TypeError(f"isolation_level must be a str or None, not {type(level).__name__}")
    if level.upper() not in ISOLATION_LEVELS:
        raise ValueError("isolation_level string must be '', 'DEFERRED', 'IMMEDIATE', or 'EXCLUSIVE'")
    return level.upper()


def check_autocommit(value: bool | int) -> bool | int:
    """``value`` if it is True, False or ``LEGACY_TRANSACTION_CONTROL``."""
    if value is True or value is False:
        return value
    if type(value) is int and value == LEGACY_TRANSACTION_CONTROL:
        return LEGACY_TRANSACTION_CONTROL
    raise ValueError("autocommit must be True, False, or galaxlite.LEGACY_TRANSACTION_CONTROL")


class Transactions:
    """What a connection shares with its cursors: the ``Database`` (``database``, None once
    the connection is closed), the transaction mode, what each SQL text is (``kinds``:
    OTHER, DML or READ, cached) and the open cursors (closed with the connection).

    ``implicit`` is True when DML opens a transaction (``begin_implicitly``). ``owner``: the
    thread the connection belongs to (None: any, ``check_same_thread=False``);
    ``text_factory``, ``detect_types`` and ``shaping`` (True when either changes rows) are
    the connection's, read by its cursors (``galaxlite.dbapi.rows``).
    """

    __slots__ = ("database", "kinds", "cursors", "_isolation_level", "_autocommit", "implicit",
                 "_begin_sql", "owner", "text_factory", "detect_types", "shaping")

    def __init__(self, database: Database, isolation_level: str | None, autocommit: bool | int,
                 check_same_thread: bool = True, detect_types: int = 0):
        self.owner = get_ident() if check_same_thread else None
        self.text_factory: Any = str
        if isinstance(detect_types, bool) or not isinstance(detect_types, int):
            raise TypeError(f"detect_types must be an int, not {type(detect_types).__name__}")
        self.detect_types = detect_types
        self.shaping = bool(detect_types)
        self.database: Database | None = database
        self.kinds: dict[str, int] = {}
        self.cursors: weakref.WeakSet[Any] = weakref.WeakSet()
        self._isolation_level = check_isolation_level(isolation_level)
        self._autocommit = check_autocommit(autocommit)
        self._update_mode()
        if self._autocommit is False:
            database.begin()

    def live(self) -> Database:
        """The database; ProgrammingError once the connection is closed."""
        db = self.database
        if db is None:
            raise ProgrammingError(CLOSED_MESSAGE)
        if self.owner is not None and self.owner != get_ident():
            self.wrong_thread()
        return db

    def wrong_thread(self) -> None:
        """Raise sqlite3's error for a connection used outside its thread."""
        raise ProgrammingError(
            "SQLite objects created in a thread can only be used in that same thread. The "
            f"object was created in thread id {self.owner} and this is thread id {get_ident()}. "
            "(connect with check_same_thread=False to share a connection, one thread at a time)"
        )

    def set_text_factory(self, factory: Any) -> None:
        if not callable(factory):
            raise TypeError("text_factory must be callable (str, bytes, or a function of bytes)")
        self.text_factory = factory
        self.shaping = factory is not str or bool(self.detect_types)

    # -------------------------------------------------------------- the mode

    @property
    def isolation_level(self) -> str | None:
        return self._isolation_level

    def set_isolation_level(self, value: str | None) -> None:
        """As ``sqlite3``: None commits the open transaction (legacy mode)."""
        value = check_isolation_level(value)
        self.live()
        if value is None:
            self.commit()
        self._isolation_level = value
        self._update_mode()

    @property
    def autocommit(self) -> bool | int:
        return self._autocommit

    def set_autocommit(self, value: bool | int) -> None:
        """``False`` opens a transaction; ``True`` commits the open one."""
        value = check_autocommit(value)
        db = self.live()
        self._autocommit = value
        self._update_mode()
        if value is True and db.in_transaction:
            db.commit()
        elif value is False and not db.in_transaction:
            db.begin()

    def _update_mode(self) -> None:
        """Cache whether DML opens a transaction implicitly, and with which BEGIN."""
        level = self._isolation_level
        self.implicit = self._autocommit == LEGACY_TRANSACTION_CONTROL and level is not None
        self._begin_sql = f"BEGIN {level}" if level else "BEGIN"

    # -------------------------------------------------------------- statements

    def kind(self, sql: str) -> int:
        """DML, READ or OTHER for ``sql`` (from the session's plan of it; cached in ``kinds``)."""
        try:
            plan = self.live().session.plan(sql)
        except Error:
            return OTHER  # running it reports the problem
        code = _CODES.get(plan.kind, OTHER) if plan is not None else OTHER
        if len(self.kinds) >= MAX_CACHED:
            self.kinds.clear()
        self.kinds[sql] = code
        return code

    def begin_implicitly(self, db: Database) -> None:
        """Before DML: open the transaction if the mode says so and none is open.

        It begins right before the write, so it has read nothing when the write asks for the
        lock, and the write waits for it (up to the timeout) as in ``sqlite3``.
        """
        if self.implicit and not db.in_transaction:
            if self._begin_sql == "BEGIN":
                db.begin()
            else:
                db.execute(self._begin_sql)

    def before_script(self, db: Database) -> None:
        """As ``sqlite3``'s ``executescript``: a pending transaction is committed first
        (legacy mode)."""
        if self._autocommit == LEGACY_TRANSACTION_CONTROL:
            db.commit()

    def after_script(self, db: Database) -> None:
        """``autocommit=False`` keeps a transaction open, even after a script's COMMIT."""
        if self._autocommit is False and not db.closed and not db.in_transaction:
            db.begin()

    # -------------------------------------------------------------- ending transactions

    def commit(self) -> None:
        """Commit the open transaction (its changes become one version)."""
        db = self.live()
        if self._autocommit is True:
            return
        db.commit()
        if self._autocommit is False:
            db.begin()

    def rollback(self) -> None:
        """Undo the open transaction."""
        db = self.live()
        if self._autocommit is True:
            return
        db.rollback()
        if self._autocommit is False:
            db.begin()
