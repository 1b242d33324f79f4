"""galaxlite: a single-file, versioned SQL database for ML training data, built on SQLite.

>>> import galaxlite
>>> db = galaxlite.Database(":memory:")
>>> db.execute("SELECT 42").fetchone()
(42,)
"""

from galaxlite.database import Database, Result, Tag
from galaxlite.dbapi import (
    BINARY,
    DATETIME,
    LEGACY_TRANSACTION_CONTROL,
    NUMBER,
    ROWID,
    STRING,
    Binary,
    Connection,
    Cursor,
    Date,
    DateFromTicks,
    Time,
    TimeFromTicks,
    Timestamp,
    TimestampFromTicks,
    apilevel,
    connect,
    paramstyle,
    threadsafety,
)
from galaxlite.errors import (
    DatabaseError,
    DataError,
    DuplicateTagError,
    Error,
    FutureVersionError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    ReadOnlyVersionError,
    SqlSyntaxError,
    TableNotAtVersionError,
    UnknownTagError,
    VersionError,
    Warning,
)

__version__ = "0.1.0"

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
    "Date",
    "DateFromTicks",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "apilevel",
    "connect",
    "paramstyle",
    "threadsafety",
    "DataError",
    "Database",
    "DatabaseError",
    "DuplicateTagError",
    "Error",
    "FutureVersionError",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "ReadOnlyVersionError",
    "Result",
    "SqlSyntaxError",
    "Tag",
    "TableNotAtVersionError",
    "UnknownTagError",
    "VersionError",
    "Warning",
]
