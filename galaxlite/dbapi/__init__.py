"""PEP 249 (DB-API 2.0) interface to galaxlite: a thin skin over ``galaxlite.Database``.

It behaves like the standard library's ``sqlite3`` module wherever PEP 249 leaves room:
``paramstyle`` is ``qmark`` (``:name`` parameters work too), and transactions follow
``sqlite3``'s rules, including the ``autocommit`` attribute of Python 3.12
(``galaxlite.dbapi.transactions``). One committed transaction is one galaxlite version.

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

The package: ``types`` (type constructors and objects), ``transactions`` (when transactions
begin and end), ``cursor``, ``connection``; ``connect`` is here.
"""

from __future__ import annotations

from pathlib import Path

from galaxlite.database import Database
from galaxlite.dbapi.connection import Connection
from galaxlite.dbapi.cursor import Cursor
from galaxlite.dbapi.transactions import (
    LEGACY_TRANSACTION_CONTROL,
    check_autocommit,
    check_isolation_level,
)
from galaxlite.dbapi.types import (
    BINARY,
    DATETIME,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    Date,
    DateFromTicks,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
)
from galaxlite.dbapi.types import DBAPITypeObject as DBAPITypeObject
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

apilevel = "2.0"
threadsafety = 1  # threads may share the module, not connections
paramstyle = "qmark"


def connect(
    database: str | Path,
    *,
    timeout: float = 5.0,
    isolation_level: str | None = "",
    autocommit: bool | int = LEGACY_TRANSACTION_CONTROL,
) -> Connection:
    """Open (or create) the galaxlite database at ``database`` and return a connection.

    ``database`` is a file, a directory (which holds the file and its ``exports/``) or
    ``":memory:"``. ``timeout``: seconds a write waits for the write lock another connection
    holds (then ``OperationalError: database is locked``), as in ``sqlite3``.
    ``isolation_level`` and ``autocommit``: as in Python 3.12's ``sqlite3``.
    """
    level = check_isolation_level(isolation_level)
    mode = check_autocommit(autocommit)
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
