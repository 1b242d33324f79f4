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
begin and end), ``rows`` (``Row``, ``text_factory``, ``detect_types``), ``uri`` (``file:``
URIs), ``cursor``, ``connection``; ``connect`` is here.
"""

from __future__ import annotations

import os
from pathlib import Path

from galaxlite.database import Database
from galaxlite.dbapi.connection import Connection
from galaxlite.dbapi.cursor import Cursor
from galaxlite.dbapi.rows import PARSE_COLNAMES, PARSE_DECLTYPES, Row, register_converter
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
from galaxlite.dbapi.uri import open_target
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
    timeout: float = 5.0,
    detect_types: int = 0,
    isolation_level: str | None = "",
    check_same_thread: bool = True,
    factory: type[Connection] | None = None,
    cached_statements: int = 128,
    uri: bool = False,
    *,
    autocommit: bool | int = LEGACY_TRANSACTION_CONTROL,
    exports: str | Path | None = None,
    storage_options: dict | None = None,
) -> Connection:
    """Open (or create) the galaxlite database at ``database`` and return a connection;
    the parameters are ``sqlite3.connect``'s.

    ``database`` is a file, a directory (which holds the file and its ``exports/``) or
    ``":memory:"``; with ``uri=True`` also a ``file:`` URI (``file:shop.db?mode=ro`` opens
    it read-only; ``galaxlite.dbapi.uri``). ``timeout``: seconds a write waits for the write
    lock another connection holds (then ``OperationalError: database is locked``).
    ``detect_types``: ``PARSE_DECLTYPES`` / ``PARSE_COLNAMES`` converters (``galaxlite.
    dbapi.rows``). ``isolation_level`` and ``autocommit``: as in Python 3.12's ``sqlite3``.
    ``check_same_thread``: only the creating thread may use the connection (False: any
    thread, one at a time). ``factory``: a ``Connection`` subclass. ``cached_statements`` is
    accepted for compatibility (apsw keeps its own statement cache). ``exports`` and
    ``storage_options``: where training exports go (a folder or an object-store URI such as
    ``s3://bucket/prefix``, with Lance's storage options), as for ``galaxlite.Database``.
    """
    level = check_isolation_level(isolation_level)
    mode = check_autocommit(autocommit)
    if factory is None:
        factory = Connection
    elif not (isinstance(factory, type) and issubclass(factory, Connection)):
        raise TypeError("factory must be a subclass of galaxlite.Connection")
    read_only = False
    if uri:
        database, read_only = open_target(os.fspath(database))
    db = Database(database, timeout=timeout, read_only=read_only, exports=exports,
                  storage_options=storage_options)
    try:
        return factory(db, isolation_level=level, autocommit=mode,
                       check_same_thread=bool(check_same_thread), detect_types=detect_types)
    except BaseException:
        db.close()
        raise


__all__ = [
    "BINARY",
    "DATETIME",
    "LEGACY_TRANSACTION_CONTROL",
    "NUMBER",
    "PARSE_COLNAMES",
    "PARSE_DECLTYPES",
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
    "Row",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "apilevel",
    "connect",
    "paramstyle",
    "register_converter",
    "threadsafety",
]
