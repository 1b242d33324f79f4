"""``Result``: the rows and metadata of one executed statement; ``describe`` a statement.

``describe`` finds a statement's column names and declared types by preparing it without
running it, which is how a finished statement (or a RETURNING that wrote no row) still has
a ``description``.

A plain query's result is a ``CursorResult``: the apsw cursor that runs it, with ``Result``'s
API (and registered as a ``Result``). Wrapping a cursor in a Python object, or having
``Connection.execute`` make one, costs more per statement than SQLite's point lookup leaves
to spare.
"""

from __future__ import annotations

import itertools
from abc import ABCMeta
from collections.abc import Iterator
from typing import Any

import apsw

from galaxlite import errors as E
from galaxlite.engine.connection import PersistentCursor, plain_cursor
from galaxlite.params import Params


def describe(
    conn: apsw.Connection, sql: str, params: Params, full: bool = False, persistent: bool = True
) -> tuple | None:
    """Column names and declared types of ``sql``, found by preparing it without running it
    (``full``: apsw's ``description_full``, which adds each column's origin database, table
    and column). ``persistent``: whether ``sql`` ran on one of the connection's own cursors
    (``galaxlite.engine.connection``) or on a plain apsw cursor (the hot paths): prepared the
    same way, it is the statement that ran, found in apsw's cache, stepped since any schema
    change (a cached statement not stepped since an ALTER TABLE still reports its old
    columns; one prepared afresh could fail, as a CREATE that ran does).

    >>> c = apsw.Connection(":memory:")
    >>> _ = c.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    >>> describe(c, "SELECT b, a FROM t", None)
    (('b', 'TEXT'), ('a', 'INTEGER'))
    """
    found: list[tuple] = []

    def tracer(cursor: apsw.Cursor, _sql: str, _bindings: Any) -> bool:
        found.append(cursor.description_full if full else cursor.get_description())
        return False

    cur = conn.cursor() if persistent else plain_cursor(conn)
    cur.exec_trace = tracer
    try:
        cur.execute(sql, params)
    except apsw.ExecTraceAbort:
        pass
    return found[0] if found else None


class Result(metaclass=ABCMeta):  # noqa: B024 (concrete: ABCMeta for register(CursorResult))
    """The rows and metadata of one executed statement.

    Iterate it, or use ``fetchone``/``fetchmany``/``fetchall``. ``description`` holds PEP 249
    7-tuples (name, declared type, None, ...), and stays valid after the last row.
    ``rowcount`` is the number of rows changed by INSERT/UPDATE/DELETE (-1 otherwise);
    ``lastrowid`` the rowid of the last inserted row.
    """

    __slots__ = ("_rows", "_raw_description", "_source", "rowcount", "lastrowid")

    def __init__(
        self,
        rows: Iterator[tuple],
        raw_description: tuple | None = None,
        source: tuple | None = None,
        rowcount: int = -1,
        lastrowid: int | None = None,
    ):
        self._rows = rows
        self._raw_description = raw_description
        self._source = source  # (connection, sql, params): to describe a finished statement
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    @property
    def description(self) -> tuple | None:
        raw = self._raw_description
        if raw is None and self._source is not None:
            conn, sql, params = self._source
            try:
                raw = self._rows.get_description()  # still running
            except (apsw.ExecutionCompleteError, AttributeError):
                raw = describe(conn, sql, params, persistent=isinstance(self._rows, PersistentCursor))
            self._raw_description, self._source = raw, None
        if not raw:
            return None
        return tuple((name, decl, None, None, None, None, None) for name, decl in raw)

    @property
    def columns(self) -> list[str]:
        return [d[0] for d in self.description or ()]

    def __iter__(self) -> Iterator[tuple]:
        return self

    def __next__(self) -> tuple:
        try:
            return next(self._rows)
        except apsw.Error as exc:  # an error met while stepping (overflow, interrupt, ...)
            raise E.from_apsw(exc) from None

    def fetchone(self) -> tuple | None:
        try:
            return next(self._rows, None)
        except apsw.Error as exc:
            raise E.from_apsw(exc) from None

    def fetchmany(self, size: int = 1) -> list[tuple]:
        return list(itertools.islice(self, size))

    def fetchall(self) -> list[tuple]:
        try:
            return list(self._rows)
        except apsw.Error as exc:
            raise E.from_apsw(exc) from None


run_on = apsw.Cursor.execute  # run_on(result, sql, params): runs sql on a new CursorResult
_fetchone = apsw.Cursor.fetchone
_fetchall = apsw.Cursor.fetchall
_connection = apsw.Cursor.connection.__get__


class _CursorRows(apsw.Cursor):
    """The layout of a ``CursorResult`` (shared with ``_Stepping``)."""

    __slots__ = ("query", "_raw_description")


class _Stepping(_CursorRows):
    """A ``CursorResult`` while ``fetchall`` steps it: apsw's own iteration, at C speed
    (``CursorResult.__next__``, which ``list()`` would call for every row, is Python)."""

    __slots__ = ()


class CursorResult(_CursorRows):
    """A plain query's ``Result``: the apsw cursor that runs it (``run_on``). ``query`` is
    ``(sql, params)``, which describes the statement once it has finished. Errors met while
    stepping are galaxlite errors, as ``Result``'s; the cursor's own ways of running SQL or
    reaching its connection are not offered.

    >>> c = apsw.Connection(":memory:")
    >>> r = CursorResult(c)
    >>> r.query = "SELECT 1 AS n UNION ALL SELECT 2", None
    >>> r = run_on(r, *r.query)
    >>> r.fetchone(), r.fetchall(), r.columns, r.rowcount, isinstance(r, Result)
    ((1,), [(2,)], ['n'], -1, True)
    """

    __slots__ = ()
    rowcount = -1
    lastrowid = None
    columns = Result.columns
    fetchmany = Result.fetchmany

    @property
    def description(self) -> tuple | None:
        try:
            raw = self._raw_description
        except AttributeError:
            try:
                raw = self.get_description()  # still running
            except apsw.ExecutionCompleteError:
                raw = describe(_connection(self), *self.query, persistent=False)
            self._raw_description = raw
        if not raw:
            return None
        return tuple((name, decl, None, None, None, None, None) for name, decl in raw)

    def __next__(self) -> tuple:
        try:
            row = _fetchone(self)
        except apsw.Error as exc:
            raise E.from_apsw(exc) from None
        if row is None:
            raise StopIteration
        return row

    def fetchone(self) -> tuple | None:
        try:
            return _fetchone(self)
        except apsw.Error as exc:
            raise E.from_apsw(exc) from None

    def fetchall(self) -> list[tuple]:
        self.__class__ = _Stepping
        try:
            return _fetchall(self)
        except apsw.Error as exc:
            raise E.from_apsw(exc) from None
        finally:
            self.__class__ = CursorResult

    def _not_offered(self, *_args: object, **_kwargs: object) -> None:
        raise AttributeError("a galaxlite Result runs no SQL and has no connection: use the Database")

    execute = executemany = get_connection = getconnection = _not_offered
    connection = property(_not_offered)


Result.register(CursorResult)

