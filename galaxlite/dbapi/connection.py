"""The DB-API ``Connection``: a thin skin over ``galaxlite.Database``, with ``sqlite3``'s
transaction rules (``galaxlite.dbapi.transactions``), cursors (``galaxlite.dbapi.cursor``),
row shapes (``galaxlite.dbapi.rows``) and extension points (``Database``'s, from
``galaxlite.engine.extras``): user functions, collations, ``iterdump``, ``backup``,
progress handlers, ``interrupt``, ``total_changes``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from galaxlite.database import Database
from galaxlite.dbapi.cursor import Cursor, RowFactory
from galaxlite.dbapi.transactions import CLOSED_MESSAGE, LEGACY_TRANSACTION_CONTROL, Transactions
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
from galaxlite.params import Params


class Connection:
    """A DB-API connection to a galaxlite database (see ``galaxlite.connect``).

    The PEP 249 exception classes are attributes too (``con.IntegrityError``).
    ``transactions`` is what the connection shares with its cursors (its transaction mode
    and the ``Database``); it is galaxlite's own, not an interface for applications.
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
        check_same_thread: bool = True,
        detect_types: int = 0,
    ):
        self.row_factory: RowFactory | None = None
        self.transactions = Transactions(
            database, isolation_level, autocommit, check_same_thread, detect_types
        )

    # -------------------------------------------------------------- state

    @property
    def database(self) -> Database:
        """The ``galaxlite.Database`` underneath (tags, Arrow, bulk inserts, ...)."""
        return self.transactions.live()

    @property
    def closed(self) -> bool:
        return self.transactions.database is None

    @property
    def in_transaction(self) -> bool:
        """True while a transaction is open (changes not yet committed)."""
        return self.transactions.live().in_transaction

    @property
    def autocommit(self) -> bool | int:
        """``True``, ``False`` or ``LEGACY_TRANSACTION_CONTROL``, as in Python 3.12's sqlite3.

        Setting it to ``False`` opens a transaction; setting it to ``True`` commits the open one.
        """
        return self.transactions.autocommit

    @autocommit.setter
    def autocommit(self, value: bool | int) -> None:
        self.transactions.set_autocommit(value)

    @property
    def text_factory(self) -> Any:
        """What TEXT values become: ``str`` (default), ``bytes``, or a function of the bytes."""
        return self.transactions.text_factory

    @text_factory.setter
    def text_factory(self, factory: Any) -> None:
        self.transactions.set_text_factory(factory)

    @property
    def total_changes(self) -> int:
        """Rows inserted, updated or deleted through this connection since it opened (not
        counting galaxlite's history bookkeeping)."""
        return self.transactions.live().total_changes

    @property
    def isolation_level(self) -> str | None:
        """The ``BEGIN`` mode of implicit transactions (legacy mode); None: autocommit."""
        return self.transactions.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self.transactions.set_isolation_level(value)

    # -------------------------------------------------------------- PEP 249

    def cursor(self, factory: Callable[[Connection], Cursor] | None = None) -> Cursor:
        """A new cursor (``factory``: a Cursor subclass, as in sqlite3)."""
        self.transactions.live()
        cur = (factory or Cursor)(self)
        if not isinstance(cur, Cursor):
            raise TypeError("factory must return a galaxlite Cursor")
        return cur

    def commit(self) -> None:
        """Commit the open transaction: its changes become one version."""
        self.transactions.commit()

    def rollback(self) -> None:
        """Undo the open transaction."""
        self.transactions.rollback()

    def close(self) -> None:
        """Close the connection; an open transaction is rolled back (commit first)."""
        tx = self.transactions
        db = tx.database
        if db is None:
            return
        tx.live()  # in its own thread
        tx.database = None
        for cur in list(tx.cursors):
            cur.detach()
        db.close()

    def __enter__(self) -> Connection:
        self.transactions.live()
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> bool:
        """Commit on success, roll back on an exception; the connection stays open."""
        tx = self.transactions
        if tx.database is None or tx.autocommit is True:
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

    # -------------------------------------------------------------- sqlite3's extension points

    def create_function(
        self, name: str, narg: int, func: Callable[..., Any] | None, *, deterministic: bool = False
    ) -> None:
        """SQL function ``name`` of ``narg`` arguments (-1: any) calling ``func``; None removes it."""
        self.transactions.live().create_function(name, narg, func, deterministic=deterministic)

    def create_aggregate(self, name: str, n_arg: int, aggregate_class: type | None) -> None:
        """SQL aggregate ``name``: a class with ``step(*args)`` and ``finalize()``."""
        self.transactions.live().create_aggregate(name, n_arg, aggregate_class)

    def create_window_function(self, name: str, num_params: int, aggregate_class: type | None) -> None:
        """Aggregate window function ``name``: ``step``, ``value``, ``inverse``, ``finalize``."""
        self.transactions.live().create_window_function(name, num_params, aggregate_class)

    def create_collation(self, name: str, callable: Callable[[str, str], int] | None) -> None:  # noqa: A002 - sqlite3's name
        """Collation ``name``: ``callable(a, b)`` negative, 0 or positive; None removes it."""
        self.transactions.live().create_collation(name, callable)

    def set_progress_handler(self, progress_handler: Callable[[], Any] | None, n: int) -> None:
        """Call ``progress_handler()`` every ``n`` SQLite steps; a true result aborts the
        statement (``OperationalError: interrupted``). None removes it."""
        self.transactions.live().set_progress_handler(progress_handler, n)

    def interrupt(self) -> None:
        """Abort the running statement (from any thread): ``OperationalError: interrupted``."""
        db = self.transactions.database
        if db is None:
            raise ProgrammingError(CLOSED_MESSAGE)
        db.interrupt()

    def iterdump(self) -> Iterator[str]:
        """The SQL text of the whole file, statement by statement (galaxlite's history and
        catalogs included): a plain SQLite client rebuilds the same database from it."""
        return self.transactions.live().iterdump()

    def backup(
        self,
        target: Connection,
        *,
        pages: int = -1,
        progress: Callable[[int, int, int], object] | None = None,
        name: str = "main",
        sleep: float = 0.250,
    ) -> None:
        """Copy this database into ``target`` (another galaxlite connection), ``pages`` pages
        a step, calling ``progress(status, remaining, total)`` after each, as in sqlite3."""
        db = self.transactions.live()
        if name != "main":
            raise NotSupportedError(f"backup() copies the main database, not {name!r}")
        if not isinstance(target, Connection):
            db.backup_to(target)  # raises the error that says what to do instead
        db.backup_to(target.transactions.live(), pages=pages, progress=progress)

    # -------------------------------------------------------------- habits that cannot be kept

    def _not_kept(name: str, why: str) -> Callable[..., Any]:  # noqa: N805 - builds methods
        def method(self: Connection, *args: Any, **kwargs: Any) -> Any:
            raise NotSupportedError(f"{name}() is not available on a galaxlite connection: {why}")

        method.__name__ = method.__qualname__ = name
        method.__doc__ = f"Not available (NotSupportedError): {why}."
        return method

    blobopen = _not_kept(
        "blobopen", "a BLOB written in place would bypass the versioning triggers; read it with "
        "SELECT, write it with UPDATE")
    serialize = _not_kept(
        "serialize", "copy the database with con.backup(target), con.iterdump() or "
        "con.database.backup(path)")
    deserialize = _not_kept(
        "deserialize", "the database cannot be replaced under galaxlite's catalog; open "
        "another file with galaxlite.connect(path)")
    enable_load_extension = _not_kept(
        "enable_load_extension", "SQLite extensions are not loaded; define SQL functions in "
        "Python with create_function()")
    load_extension = _not_kept(
        "load_extension", "SQLite extensions are not loaded; define SQL functions in Python with "
        "create_function()")
    set_authorizer = _not_kept(
        "set_authorizer", "an authorizer would also see, and could deny, galaxlite's own "
        "bookkeeping statements")
    set_trace_callback = _not_kept(
        "set_trace_callback", "galaxlite runs rewritten SQL and bookkeeping statements, so a "
        "trace would not show your statements")
    getlimit = setlimit = _not_kept("getlimit/setlimit", "SQLite's run-time limits stay at their defaults")
    getconfig = setconfig = _not_kept("getconfig/setconfig", "SQLite's connection options are galaxlite's to set")
    del _not_kept
