"""The DB-API ``Cursor``: runs statements on its connection and hands out their rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from threading import get_ident
from typing import Any

import apsw

from galaxlite import runners
from galaxlite.database import Database, Result
from galaxlite.dbapi.rows import resolve_row_factory, row_converter
from galaxlite.dbapi.transactions import CLOSED_MESSAGE, DML, READ, Transactions
from galaxlite.engine.binding import BIND_ERRORS, PLAIN_TYPES, bindable, binding_error
from galaxlite.engine.connection import plain_cursor
from galaxlite.engine.session import PLAIN_READ
from galaxlite.errors import ProgrammingError, from_apsw
from galaxlite.exports.arrow import result_to_arrow
from galaxlite.params import Params

RowFactory = Callable[["Cursor", tuple], Any]


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
_CONNECTION_CLOSED = _NoResult(CLOSED_MESSAGE)
_UNSET: Any = object()


class Cursor:
    """A DB-API cursor: runs statements and hands out their rows.

    ``row_factory`` (copied from the connection when the cursor is made) is called as
    ``row_factory(cursor, row)`` for every row fetched, as in sqlite3 (``sqlite3.Row`` means
    ``galaxlite.Row``). The connection's ``text_factory`` and ``detect_types`` shape the
    values first (``galaxlite.dbapi.rows``).

    A statement whose rows are not all fetched keeps SQLite's read snapshot (and a reader
    holding one cannot wait for the write lock): the next ``execute`` on the same cursor,
    or ``close()``, finishes it first, as ``sqlite3`` does.
    """

    __slots__ = (
        "_connection",
        "_tx",
        "_result",
        "_rows",
        "_description",
        "_closed",
        "arraysize",
        "rowcount",
        "lastrowid",
        "_row_factory",
        "_factory",
        "_apsw_cursor",
        "__weakref__",
    )

    def __init__(self, connection: Any):
        tx = getattr(connection, "transactions", None)
        if not isinstance(tx, Transactions):
            raise TypeError("a Cursor needs a galaxlite Connection")
        self._connection = connection
        self._tx = tx
        self._result: Result | None = None
        self._rows: Iterator[tuple] = _NOT_EXECUTED
        self._description: Any = None
        self._closed = False
        self.arraysize = 1
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._row_factory: RowFactory | None = None
        self._factory: RowFactory | None = None
        self.row_factory = connection.row_factory
        self._apsw_cursor = None  # one apsw cursor per Cursor, reused for plain queries
        tx.cursors.add(self)

    @property
    def row_factory(self) -> RowFactory | None:
        return self._row_factory

    @row_factory.setter
    def row_factory(self, factory: RowFactory | None) -> None:
        self._row_factory = factory
        self._factory = resolve_row_factory(factory)

    @property
    def connection(self) -> Any:
        """The ``galaxlite.Connection`` this cursor belongs to."""
        return self._connection

    @property
    def description(self) -> tuple | None:
        """PEP 249 7-tuples ``(name, declared type, None, None, None, None, None)``; None when
        the last statement produced no result set. Stays valid after the last row."""
        desc = self._description
        if desc is _UNSET:
            desc = self._description = self._opened().description
        return desc

    def _usable(self) -> Database:
        db = self._tx.database
        if db is None:
            raise ProgrammingError(_CONNECTION_CLOSED.message)
        if self._closed:
            raise ProgrammingError(_CURSOR_CLOSED.message)
        owner = self._tx.owner
        if owner is not None and owner != get_ident():
            self._tx.wrong_thread()
        return db

    def _finish(self, result: Result | None, rows: Iterator[tuple], rowcount: int) -> Cursor:
        self._result = result
        self._rows = rows
        self._description = _UNSET if result is not None else None
        self.rowcount = rowcount
        return self

    def _clear(self) -> None:
        self._finish(None, _NO_RESULT_SET, -1)

    def _end_statement(self) -> None:
        """Finish the plain query of this cursor's apsw cursor, if one is still open: its
        read snapshot must not reach the next statement (a write could not wait for the
        lock, a read would see old data)."""
        cur = self._apsw_cursor
        if cur is not None:
            self._apsw_cursor = None
            cur.close()

    # -------------------------------------------------------------- execute

    def execute(self, sql: str, parameters: Params = None) -> Cursor:
        """Run one statement (SQLite or galaxlite syntax) with ``?`` or ``:name`` parameters."""
        tx = self._tx
        db = tx.database
        owner = tx.owner
        if db is None or self._closed or (owner is not None and owner != get_ident()):
            self._usable()
        session = db.session
        if session.as_written.get(sql) is PLAIN_READ and not session.has_pending and not tx.shaping:
            # The hot path: a query that runs as written (``Session.as_written``), bound
            # and stepped on this cursor's apsw cursor, whose rows the fetch methods read
            # directly; its ``Result`` (description, Arrow) is made when asked for
            # (``_opened``). Same results and errors as ``runners.execute``.
            self._result = None  # the previous statement's result goes first (see below)
            self._rows = _NO_RESULT_SET
            cur = self._apsw_cursor
            try:
                if cur is None:
                    cur = self._apsw_cursor = plain_cursor(session.conn)
                if type(parameters) is tuple:  # bindable()'s test inlined, for plain values
                    for value in parameters:
                        if type(value) not in PLAIN_TYPES:
                            parameters = bindable(parameters)
                            break
                elif parameters is not None:
                    parameters = bindable(parameters)
                cur.execute(sql, parameters)
            except BIND_ERRORS as exc:
                self._clear()
                raise binding_error(exc, sql) from None
            except BaseException:
                self._clear()
                raise
            self._rows = cur
            self._result = (cur, sql, parameters)
            self._description = _UNSET
            self.rowcount = -1
            return self
        kind = tx.kinds.get(sql)
        if kind is None:
            kind = tx.kind(sql)
        # Finish the previous statement first (as sqlite3 does): a half-read result must not
        # keep its read snapshot for the next statement, and its SQLite statement goes back
        # to the statement cache, to be reused when the same SQL runs again.
        self._result = None
        self._rows = _NO_RESULT_SET
        try:
            if kind == DML:
                self._end_statement()
                tx.begin_implicitly(db)
                result = db.execute(sql, parameters)
                self.lastrowid = result.lastrowid
                rowcount = result.rowcount
            else:
                cur = self._apsw_cursor
                if session.as_written.get(sql) is PLAIN_READ:  # on this cursor's apsw cursor
                    if cur is None:
                        cur = self._apsw_cursor = plain_cursor(session.conn)
                    result = runners.execute(session, sql, parameters, cur)
                else:
                    if cur is not None:
                        self._end_statement()
                    result = runners.execute(session, sql, parameters)
                rowcount = -1
        except BaseException:
            self._clear()
            raise
        self._result = self._rows = result
        self._description = _UNSET
        self.rowcount = rowcount
        if tx.shaping:
            self._shape(result)
        return self

    def _opened(self) -> Result:
        """The result of the last statement (a plain read's is made now, see ``execute``)."""
        result = self._result
        if type(result) is tuple:
            cur, sql, parameters = result
            result = self._result = Result(cur, None, (cur.connection, sql, parameters))
        return result

    def _shape(self, result: Result) -> None:
        """Apply the connection's ``text_factory`` and ``detect_types`` to the rows."""
        desc = result.description
        if not desc:
            return
        convert, names = row_converter(desc, self._tx.text_factory, self._tx.detect_types)
        if convert is not None:
            self._rows = map(convert, result)
        if names is not None:
            self._description = tuple((n, *d[1:]) for n, d in zip(names, desc, strict=True))

    def executemany(self, sql: str, seq_of_parameters: Iterable[Params]) -> Cursor:
        """Run one DML statement once per parameter set; ``rowcount`` is the total.

        The whole call is one version (a plain INSERT with many rows takes the bulk path).
        """
        db = self._usable()
        tx = self._tx
        kind = tx.kinds.get(sql)
        if kind is None:
            kind = tx.kind(sql)
        self._clear()
        if kind == READ:
            raise ProgrammingError("executemany() can only execute DML statements")
        self._end_statement()
        try:
            if kind == DML:
                tx.begin_implicitly(db)
            result = db.executemany(sql, seq_of_parameters)
        except BaseException:
            self._clear()
            raise
        return self._finish(result, _NO_RESULT_SET, result.rowcount if kind == DML else -1)

    def executescript(self, script: str) -> Cursor:
        """Run every statement of ``script`` (as sqlite3: a pending transaction is committed
        first in legacy mode). Outside a transaction, a script without BEGIN/COMMIT of its own
        is atomic: if a statement fails, none of its changes remain."""
        db = self._usable()
        tx = self._tx
        self._clear()
        self._end_statement()
        tx.before_script(db)
        try:
            db.executescript(script)
        finally:
            self._clear()
            tx.after_script(db)
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
        except apsw.Error as exc:  # met stepping a plain read (see _plain_read)
            raise from_apsw(exc) from None
        factory = self._factory
        return row if factory is None else factory(self, row)

    def fetchmany(self, size: int | None = None) -> list:
        """Up to ``size`` (default ``arraysize``) next rows; [] when there are no more."""
        if size is None:
            size = self.arraysize
        try:
            rows = list(self._rows) if size < 0 else list(islice(self._rows, size))
        except apsw.Error as exc:
            raise from_apsw(exc) from None
        return self._rows_out(rows)

    def fetchall(self) -> list:
        """All remaining rows."""
        try:
            rows = list(self._rows)
        except apsw.Error as exc:
            raise from_apsw(exc) from None
        return self._rows_out(rows)

    def _rows_out(self, rows: list) -> list:
        if not rows:
            self._after_last_row()
            return rows
        factory = self._factory
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
        except apsw.Error as exc:
            raise from_apsw(exc) from None
        factory = self._factory
        return row if factory is None else factory(self, row)

    def fetch_arrow(self):
        """The remaining rows as a ``pyarrow.Table`` (column types from the values, or from
        the declared types when there are no rows)."""
        if self._result is None or self.description is None:
            self._after_last_row()
        return result_to_arrow(self._opened())

    # -------------------------------------------------------------- the rest of PEP 249

    def close(self) -> None:
        """Close the cursor (finishing its statement): later use raises ProgrammingError."""
        self._closed = True
        self._finish(None, _CURSOR_CLOSED, -1)
        if self._tx.database is not None:
            self._end_statement()

    def detach(self) -> None:
        """Called by ``Connection.close()``: later use raises ProgrammingError."""
        self._apsw_cursor = None  # closed with its connection
        self._finish(None, _CONNECTION_CLOSED, -1)

    def setinputsizes(self, sizes: Any) -> None:
        """Does nothing (allowed by PEP 249)."""

    def setoutputsize(self, size: Any, column: int | None = None) -> None:
        """Does nothing (allowed by PEP 249)."""
