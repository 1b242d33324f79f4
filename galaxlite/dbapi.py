"""PEP 249 (DB-API 2.0) interface to galaxlite: a thin skin over ``galaxlite.Database``.

It behaves like the standard library's ``sqlite3`` module wherever PEP 249 leaves room:
``paramstyle`` is ``qmark`` (``:name`` parameters work too), and transactions follow
``sqlite3``'s rules, including the ``autocommit`` attribute of Python 3.12.

>>> import galaxlite
>>> con = galaxlite.connect(":memory:")
>>> cur = con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
>>> cur = con.execute("INSERT INTO t (name) VALUES (?)", ("apple",))
>>> cur.rowcount, cur.lastrowid
(1, 1)
>>> con.commit()
>>> version = con.execute("CREATE VERSION TAG 'v1'").fetchone()[0]
>>> _ = con.execute("UPDATE t SET name = 'pear'")
>>> con.commit()
>>> con.execute("SELECT name FROM t AT VERSION ?", ("v1",)).fetchall()
[('apple',)]
>>> con.close()

Transactions (as in ``sqlite3``):

* ``autocommit=LEGACY_TRANSACTION_CONTROL`` (the default): with ``isolation_level`` ``""``
  (default), ``"DEFERRED"``, ``"IMMEDIATE"`` or ``"EXCLUSIVE"``, a ``BEGIN`` is issued before
  an INSERT/UPDATE/DELETE/REPLACE (or ``BULK INSERT``) when no transaction is open; ``commit()``
  ends it. With ``isolation_level=None`` every statement commits on its own.
* ``autocommit=True``: every statement commits on its own; ``commit()``/``rollback()`` do nothing.
* ``autocommit=False``: a transaction is always open (PEP 249's model); ``commit()`` and
  ``rollback()`` start the next one.

DDL and ``CREATE/DROP VERSION TAG`` never open a transaction implicitly (as DDL in ``sqlite3``).
One committed transaction is one galaxlite version.
"""

from __future__ import annotations

import datetime
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from galaxlite import runners, transpile
from galaxlite.database import Database, Result
from galaxlite.errors import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    Warning,
)
from galaxlite.exports.arrow import result_to_arrow
from galaxlite.params import Params
from galaxlite.transpile import plan as P

apilevel = "2.0"
threadsafety = 1  # threads may share the module, not connections
paramstyle = "qmark"

LEGACY_TRANSACTION_CONTROL = -1  # the value of sqlite3.LEGACY_TRANSACTION_CONTROL

RowFactory = Callable[["Cursor", tuple], Any]

_ISOLATION_LEVELS = ("", "DEFERRED", "IMMEDIATE", "EXCLUSIVE")
_MAX_CACHED = 2048  # per-connection cache of statement kinds

# What a statement is, as far as the DB-API cares (cached per SQL text).
_OTHER = 0  # DDL, tags, transaction control, PRAGMA ...: rowcount -1, no implicit BEGIN
_DML = 1  # INSERT/UPDATE/DELETE/REPLACE/BULK INSERT: implicit BEGIN, rowcount, lastrowid
_READ = 2  # SELECT/VALUES/EXPLAIN: rowcount -1; executemany() refuses it (as sqlite3 does)
_CODES = {P.WRITE: _DML, P.BULK_INSERT: _DML, P.READ: _READ}


# ------------------------------------------------------------------ PEP 249 types
# SQLite has no date type: dates and times are ISO-8601 text, which SQLite's date and
# time functions read and which binds without any adapter.


def Date(year: int, month: int, day: int) -> str:  # noqa: N802 - PEP 249 name
    """A date as the ISO-8601 text SQLite's date functions read (``'2002-12-25'``)."""
    return datetime.date(year, month, day).isoformat()


def Time(hour: int, minute: int, second: int) -> str:  # noqa: N802 - PEP 249 name
    """A time of day as ISO-8601 text (``'13:45:30'``)."""
    return datetime.time(hour, minute, second).isoformat()


def Timestamp(  # noqa: N802 - PEP 249 name
    year: int, month: int, day: int, hour: int, minute: int, second: int
) -> str:
    """A timestamp as ISO-8601 text (``'2002-12-25 13:45:30'``)."""
    return datetime.datetime(year, month, day, hour, minute, second).isoformat(" ")


def DateFromTicks(ticks: float) -> str:  # noqa: N802 - PEP 249 name
    """The local date of ``ticks`` seconds since the epoch."""
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks: float) -> str:  # noqa: N802 - PEP 249 name
    """The local time of day of ``ticks`` seconds since the epoch."""
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks: float) -> str:  # noqa: N802 - PEP 249 name
    """The local timestamp of ``ticks`` seconds since the epoch."""
    return Timestamp(*time.localtime(ticks)[:6])


Binary = bytes  # a BLOB value


class DBAPITypeObject:
    """A PEP 249 type object: equal to the declared types (``description[i][1]``) of its kind.

    The kinds follow SQLite's type-affinity rules (https://sqlite.org/datatype3.html).
    """

    def __init__(self, name: str, matches: Callable[[str], bool]):
        self.name = name
        self._matches = matches

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DBAPITypeObject):
            return other is self
        if other is None or isinstance(other, str):
            return self._matches((other or "").upper())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"<DB-API type {self.name}>"


def _text_affinity(d: str) -> bool:
    return "INT" not in d and any(k in d for k in ("CHAR", "CLOB", "TEXT"))


def _numeric_affinity(d: str) -> bool:
    return bool(d) and not _text_affinity(d) and "BLOB" not in d


STRING = DBAPITypeObject("STRING", _text_affinity)
BINARY = DBAPITypeObject("BINARY", lambda d: not d or ("BLOB" in d and "INT" not in d))
NUMBER = DBAPITypeObject("NUMBER", _numeric_affinity)
DATETIME = DBAPITypeObject("DATETIME", lambda d: "DATE" in d or "TIME" in d)
ROWID = DBAPITypeObject("ROWID", lambda d: d == "INTEGER")


# ------------------------------------------------------------------ helpers


class _NoResult:
    """Stands where a cursor has no rows to give: fetching from it raises ``ProgrammingError``."""

    __slots__ = ("message",)

    def __init__(self, message: str):
        self.message = message

    def __iter__(self) -> Iterator[tuple]:
        return self

    def __next__(self) -> tuple:
        raise ProgrammingError(self.message)


_NOT_EXECUTED = _NoResult("no statement has been executed on this cursor")
_NO_RESULT_SET = _NoResult("the last statement did not produce a result set")
_CURSOR_CLOSED = _NoResult("cannot operate on a closed cursor")
_CONNECTION_CLOSED = _NoResult("cannot operate on a closed database connection")
_UNSET: Any = object()


def _check_isolation_level(level: str | None) -> str | None:
    if level is None:
        return None
    if not isinstance(level, str):
        raise TypeError(f"isolation_level must be a str or None, not {type(level).__name__}")
    if level.upper() not in _ISOLATION_LEVELS:
        raise ValueError("isolation_level string must be '', 'DEFERRED', 'IMMEDIATE', or 'EXCLUSIVE'")
    return level.upper()


def _check_autocommit(value: bool | int) -> bool | int:
    if value is True or value is False:
        return value
    if type(value) is int and value == LEGACY_TRANSACTION_CONTROL:
        return LEGACY_TRANSACTION_CONTROL
    raise ValueError("autocommit must be True, False, or galaxlite.LEGACY_TRANSACTION_CONTROL")


# ------------------------------------------------------------------ connection


class Connection:
    """A DB-API connection to a galaxlite database (see ``connect``).

    The PEP 249 exception classes are attributes too (``con.IntegrityError``).
    """

    Warning = Warning
    Error = Error
    InterfaceError = InterfaceError
    DatabaseError = DatabaseError
    DataError = DataError
    OperationalError = OperationalError
    IntegrityError = IntegrityError
    InternalError = InternalError
    ProgrammingError = ProgrammingError
    NotSupportedError = NotSupportedError

    def __init__(
        self,
        database: Database,
        *,
        isolation_level: str | None = "",
        autocommit: bool | int = LEGACY_TRANSACTION_CONTROL,
    ):
        self._db: Database | None = database
        self._kinds: dict[str, int] = {}
        self._cursors: weakref.WeakSet[Cursor] = weakref.WeakSet()
        self.row_factory: RowFactory | None = None
        self._isolation_level = _check_isolation_level(isolation_level)
        self._autocommit = _check_autocommit(autocommit)
        self._update_mode()
        if self._autocommit is False:
            database.begin()

    # -------------------------------------------------------------- state

    @property
    def database(self) -> Database:
        """The ``galaxlite.Database`` underneath (tags, Arrow, bulk inserts, ...)."""
        return self._live()

    @property
    def closed(self) -> bool:
        return self._db is None

    @property
    def in_transaction(self) -> bool:
        """True while a transaction is open (changes not yet committed)."""
        return self._live().in_transaction

    @property
    def autocommit(self) -> bool | int:
        """``True``, ``False`` or ``LEGACY_TRANSACTION_CONTROL``, as in Python 3.12's sqlite3.

        Setting it to ``False`` opens a transaction; setting it to ``True`` commits the open one.
        """
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value: bool | int) -> None:
        value = _check_autocommit(value)
        db = self._live()
        self._autocommit = value
        self._update_mode()
        if value is True and db.in_transaction:
            db.commit()
        elif value is False and not db.in_transaction:
            db.begin()

    @property
    def isolation_level(self) -> str | None:
        """The ``BEGIN`` mode of implicit transactions (legacy mode); None: autocommit."""
        return self._isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        value = _check_isolation_level(value)
        self._live()
        if value is None:
            self.commit()
        self._isolation_level = value
        self._update_mode()

    def _update_mode(self) -> None:
        """Cache whether DML opens a transaction implicitly, and with which BEGIN."""
        level = self._isolation_level
        self._implicit = self._autocommit == LEGACY_TRANSACTION_CONTROL and level is not None
        self._begin_sql = f"BEGIN {level}" if level else "BEGIN"

    def _live(self) -> Database:
        db = self._db
        if db is None:
            raise ProgrammingError("cannot operate on a closed database connection")
        return db

    def _kind(self, sql: str) -> int:
        """_DML, _READ or _OTHER for ``sql`` (from the front end's plan; cached)."""
        try:
            plan = transpile.parse_statement(sql)
        except (transpile.TranspileError, TypeError, AttributeError):
            return _OTHER  # Database.execute reports the problem
        code = _CODES.get(plan.kind, _OTHER) if plan is not None else _OTHER
        if len(self._kinds) >= _MAX_CACHED:
            self._kinds.clear()
        self._kinds[sql] = code
        return code

    def _begin_implicitly(self, db: Database) -> None:
        if self._begin_sql == "BEGIN":
            db.begin()
        else:
            db.execute(self._begin_sql)

    # -------------------------------------------------------------- PEP 249

    def cursor(self, factory: Callable[[Connection], Cursor] | None = None) -> Cursor:
        """A new cursor (``factory``: a Cursor subclass, as in sqlite3)."""
        self._live()
        cur = (factory or Cursor)(self)
        if not isinstance(cur, Cursor):
            raise TypeError("factory must return a galaxlite Cursor")
        return cur

    def commit(self) -> None:
        """Commit the open transaction: its changes become one version."""
        db = self._live()
        if self._autocommit is True:
            return
        db.commit()
        if self._autocommit is False:
            db.begin()

    def rollback(self) -> None:
        """Undo the open transaction."""
        db = self._live()
        if self._autocommit is True:
            return
        db.rollback()
        if self._autocommit is False:
            db.begin()

    def close(self) -> None:
        """Close the connection; an open transaction is rolled back (commit first)."""
        db = self._db
        if db is None:
            return
        self._db = None
        for cur in list(self._cursors):
            cur._detach()
        db.close()

    def __enter__(self) -> Connection:
        self._live()
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> bool:
        """Commit on success, roll back on an exception; the connection stays open."""
        if self._db is None or self._autocommit is True:
            return False
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.rollback()
                raise
        else:
            self.rollback()
        return False

    # -------------------------------------------------------------- shortcuts

    def execute(self, sql: str, parameters: Params = None) -> Cursor:
        """``cursor().execute(sql, parameters)``: returns the new cursor."""
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Params]) -> Cursor:
        """``cursor().executemany(sql, seq_of_parameters)``: returns the new cursor."""
        return self.cursor().executemany(sql, seq_of_parameters)

    def executescript(self, script: str) -> Cursor:
        """``cursor().executescript(script)``: returns the new cursor."""
        return self.cursor().executescript(script)


# ------------------------------------------------------------------ cursor


class Cursor:
    """A DB-API cursor: runs statements and hands out their rows.

    ``row_factory`` (copied from the connection when the cursor is made) is called as
    ``row_factory(cursor, row)`` for every row fetched, as in sqlite3.
    """

    __slots__ = (
        "_connection",
        "_result",
        "_rows",
        "_description",
        "_closed",
        "arraysize",
        "rowcount",
        "lastrowid",
        "row_factory",
        "_apsw_cursor",
        "__weakref__",
    )

    def __init__(self, connection: Connection):
        if not isinstance(connection, Connection):
            raise TypeError("a Cursor needs a galaxlite Connection")
        self._connection = connection
        self._result: Result | None = None
        self._rows: Iterator[tuple] = _NOT_EXECUTED
        self._description: Any = None
        self._closed = False
        self.arraysize = 1
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.row_factory: RowFactory | None = connection.row_factory
        self._apsw_cursor = None  # one apsw cursor per Cursor, reused for plain queries
        connection._cursors.add(self)

    @property
    def connection(self) -> Connection:
        return self._connection

    @property
    def description(self) -> tuple | None:
        """PEP 249 7-tuples ``(name, declared type, None, None, None, None, None)``; None when
        the last statement produced no result set. Stays valid after the last row."""
        desc = self._description
        if desc is _UNSET:
            desc = self._description = self._result.description
        return desc

    def _usable(self) -> Database:
        db = self._connection._db
        if db is None:
            raise ProgrammingError(_CONNECTION_CLOSED.message)
        if self._closed:
            raise ProgrammingError(_CURSOR_CLOSED.message)
        return db

    def _finish(self, result: Result | None, rows: Iterator[tuple], rowcount: int) -> Cursor:
        self._result = result
        self._rows = rows
        self._description = _UNSET if result is not None else None
        self.rowcount = rowcount
        return self

    def _clear(self) -> None:
        self._finish(None, _NO_RESULT_SET, -1)

    # -------------------------------------------------------------- execute

    def execute(self, sql: str, parameters: Params = None) -> Cursor:
        """Run one statement (SQLite or galaxlite syntax) with ``?`` or ``:name`` parameters."""
        conn = self._connection
        db = conn._db
        if db is None or self._closed:
            self._usable()
        kind = conn._kinds.get(sql)
        if kind is None:
            kind = conn._kind(sql)
        # Finish the previous statement first (as sqlite3 does): a half-read result must not
        # keep its read snapshot for the next statement, and its SQLite statement goes back
        # to the statement cache, to be reused when the same SQL runs again.
        self._result = None
        self._rows = _NO_RESULT_SET
        try:
            if kind == _DML:
                if conn._implicit and not db.in_transaction:
                    conn._begin_implicitly(db)
                result = db.execute(sql, parameters)
                self.lastrowid = result.lastrowid
                rowcount = result.rowcount
            else:
                cur = self._apsw_cursor
                if cur is None:
                    cur = self._apsw_cursor = db.session.conn.cursor()
                result = runners.execute(db.session, sql, parameters, cur)
                rowcount = -1
        except BaseException:
            self._clear()
            raise
        self._result = self._rows = result
        self._description = _UNSET
        self.rowcount = rowcount
        return self

    def executemany(self, sql: str, seq_of_parameters: Iterable[Params]) -> Cursor:
        """Run one DML statement once per parameter set; ``rowcount`` is the total.

        The whole call is one version (a plain INSERT with many rows takes the bulk path).
        """
        db = self._usable()
        conn = self._connection
        kind = conn._kinds.get(sql)
        if kind is None:
            kind = conn._kind(sql)
        self._clear()
        if kind == _READ:
            raise ProgrammingError("executemany() can only execute DML statements")
        try:
            if kind == _DML and conn._implicit and not db.in_transaction:
                conn._begin_implicitly(db)
            result = db.executemany(sql, seq_of_parameters)
        except BaseException:
            self._clear()
            raise
        return self._finish(result, _NO_RESULT_SET, result.rowcount if kind == _DML else -1)

    def executescript(self, script: str) -> Cursor:
        """Run every statement of ``script`` (as sqlite3: a pending transaction is committed
        first in legacy mode). Outside a transaction, a script without BEGIN/COMMIT of its own
        is atomic: if a statement fails, none of its changes remain."""
        db = self._usable()
        conn = self._connection
        self._clear()
        if conn._autocommit == LEGACY_TRANSACTION_CONTROL:
            db.commit()
        try:
            db.executescript(script)
        finally:
            self._clear()
            if conn._autocommit is False and not db.closed and not db.in_transaction:
                db.begin()
        return self

    # -------------------------------------------------------------- fetch

    def _after_last_row(self) -> None:
        """Called when no row is left: an error if there never was a result set (PEP 249)."""
        if self._result is None:
            next(self._rows)  # raises the reason (not executed, closed, no result set)
        if self.description is None:
            raise ProgrammingError(_NO_RESULT_SET.message)

    def fetchone(self) -> Any:
        """The next row, or None when there are no more."""
        try:
            row = next(self._rows)
        except StopIteration:
            self._after_last_row()
            return None
        factory = self.row_factory
        return row if factory is None else factory(self, row)

    def fetchmany(self, size: int | None = None) -> list:
        """Up to ``size`` (default ``arraysize``) next rows; [] when there are no more."""
        if size is None:
            size = self.arraysize
        rows = list(self._rows) if size < 0 else list(islice(self._rows, size))
        return self._rows_out(rows)

    def fetchall(self) -> list:
        """All remaining rows."""
        return self._rows_out(list(self._rows))

    def _rows_out(self, rows: list) -> list:
        if not rows:
            self._after_last_row()
            return rows
        factory = self.row_factory
        if factory is None:
            return rows
        return [factory(self, row) for row in rows]

    def __iter__(self) -> Cursor:
        return self

    def __next__(self) -> Any:
        try:
            row = next(self._rows)
        except StopIteration:
            self._after_last_row()
            raise
        factory = self.row_factory
        return row if factory is None else factory(self, row)

    def fetch_arrow(self):
        """The remaining rows as a ``pyarrow.Table`` (column types from the values, or from
        the declared types when there are no rows)."""
        if self._result is None or self.description is None:
            self._after_last_row()
        return result_to_arrow(self._result)

    # -------------------------------------------------------------- the rest of PEP 249

    def close(self) -> None:
        """Close the cursor: later use raises ProgrammingError."""
        self._closed = True
        self._finish(None, _CURSOR_CLOSED, -1)

    def _detach(self) -> None:
        """The connection was closed."""
        self._finish(None, _CONNECTION_CLOSED, -1)

    def setinputsizes(self, sizes: Any) -> None:
        """Does nothing (allowed by PEP 249)."""

    def setoutputsize(self, size: Any, column: int | None = None) -> None:
        """Does nothing (allowed by PEP 249)."""


# ------------------------------------------------------------------ connect


def connect(
    database: str | Path,
    *,
    timeout: float = 5.0,
    isolation_level: str | None = "",
    autocommit: bool | int = LEGACY_TRANSACTION_CONTROL,
) -> Connection:
    """Open (or create) the galaxlite database at ``database`` and return a connection.

    ``database`` is a file, a directory (which holds the file and its ``exports/``) or
    ``":memory:"``. ``timeout``: seconds to wait for a lock held by another connection.
    ``isolation_level`` and ``autocommit``: as in Python 3.12's ``sqlite3``.
    """
    level = _check_isolation_level(isolation_level)
    mode = _check_autocommit(autocommit)
    return Connection(Database(database, timeout=timeout), isolation_level=level, autocommit=mode)


__all__ = [
    "BINARY",
    "DATETIME",
    "LEGACY_TRANSACTION_CONTROL",
    "NUMBER",
    "ROWID",
    "STRING",
    "Binary",
    "Connection",
    "Cursor",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "apilevel",
    "connect",
    "paramstyle",
    "threadsafety",
]
