"""The DB-API ``Connection``: a thin skin over ``galaxlite.Database``, with ``sqlite3``'s
transaction rules (``galaxlite.dbapi.transactions``) and cursors (``galaxlite.dbapi.cursor``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from galaxlite.database import Database
from galaxlite.dbapi.cursor import Cursor, RowFactory
from galaxlite.dbapi.transactions import LEGACY_TRANSACTION_CONTROL, Transactions
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
    ):
        self.row_factory: RowFactory | None = None
        self.transactions = Transactions(database, isolation_level, autocommit)

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
