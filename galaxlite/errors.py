"""galaxlite's exceptions, shaped like PEP 249's hierarchy.

Every error a user can cause is one of these; raw apsw or front-end exceptions never
escape. Errors about SQL text carry ``sql`` and ``position`` (character offset) and say
the line and column in their message.

    Warning
    Error
    ├── InterfaceError
    └── DatabaseError
        ├── DataError
        ├── OperationalError
        ├── IntegrityError
        ├── InternalError
        ├── ProgrammingError
        │   ├── SqlSyntaxError          malformed SQL (galaxlite or SQLite syntax)
        │   ├── ReadOnlyVersionError    a write aimed at AT VERSION data
        │   └── VersionError            a version that cannot be read
        │       ├── UnknownTagError
        │       ├── DuplicateTagError
        │       ├── FutureVersionError
        │       └── TableNotAtVersionError
        └── NotSupportedError
"""

from __future__ import annotations

import apsw

import transpile


class Warning(Exception):  # noqa: A001 - the PEP 249 name
    """PEP 249 Warning."""


class Error(Exception):
    """Base of every galaxlite error."""

    def __init__(self, message: str, *, sql: str | None = None, position: int | None = None):
        super().__init__(message)
        self.message = message
        self.sql = sql
        self.position = position


class InterfaceError(Error):
    """Misuse of the interface (closed database, wrong parameter type, ...)."""


class DatabaseError(Error):
    """An error reported by the database."""


class DataError(DatabaseError):
    """A value out of range or of the wrong kind."""


class OperationalError(DatabaseError):
    """The database could not do the operation (locked, busy, I/O, disk full, ...)."""


class IntegrityError(DatabaseError):
    """A constraint failed (UNIQUE, NOT NULL, CHECK, FOREIGN KEY)."""


class InternalError(DatabaseError):
    """The database is in an unexpected state."""


class ProgrammingError(DatabaseError):
    """A mistake in the SQL or in how it was called."""


class NotSupportedError(DatabaseError):
    """A feature that galaxlite does not (yet) implement."""


class SqlSyntaxError(ProgrammingError):
    """The SQL is malformed. ``position`` is where."""


class ReadOnlyVersionError(ProgrammingError):
    """INSERT/UPDATE/DELETE against data read ``AT VERSION``: the past is read-only."""


class VersionError(ProgrammingError):
    """A version that cannot be read or created."""


class UnknownTagError(VersionError):
    """No version tag has that name."""


class DuplicateTagError(VersionError):
    """A version tag with that name exists already."""


class FutureVersionError(VersionError):
    """A µs timestamp later than now."""


class TableNotAtVersionError(VersionError):
    """The table did not exist (or was not versioned) at that version."""


def _with_position(message: str, sql: str | None, position: int | None) -> str:
    if sql and position is not None and position >= 0:
        return f"{message} at {transpile.describe_position(sql, position)}"
    return message


def sql_error(cls: type[Error], message: str, sql: str | None, position: int | None) -> Error:
    """An error of class ``cls`` whose message says where in ``sql`` the problem is."""
    return cls(_with_position(message, sql, position), sql=sql, position=position)


_FROM_TRANSPILE: dict[type, type[Error]] = {
    transpile.PastIsReadOnly: ReadOnlyVersionError,
    transpile.UnsupportedSyntax: NotSupportedError,
    transpile.SqlSyntaxError: SqlSyntaxError,
}

# apsw exception class → galaxlite class (the rest: DatabaseError)
_FROM_APSW: dict[type, type[Error]] = {
    apsw.ConstraintError: IntegrityError,
    apsw.SQLError: ProgrammingError,
    apsw.BusyError: OperationalError,
    apsw.LockedError: OperationalError,
    apsw.ReadOnlyError: OperationalError,
    apsw.IOError: OperationalError,
    apsw.FullError: OperationalError,
    apsw.CantOpenError: OperationalError,
    apsw.CorruptError: DatabaseError,
    apsw.NotADBError: DatabaseError,
    apsw.InterruptError: OperationalError,
    apsw.PermissionsError: OperationalError,
    apsw.ProtocolError: OperationalError,
    apsw.AbortError: OperationalError,
    apsw.TooBigError: DataError,
    apsw.MismatchError: IntegrityError,
    apsw.RangeError: ProgrammingError,
    apsw.BindingsError: ProgrammingError,
    apsw.ConnectionClosedError: InterfaceError,
    apsw.CursorClosedError: InterfaceError,
    apsw.ThreadingViolationError: ProgrammingError,
    apsw.ExecutionCompleteError: InterfaceError,
    apsw.InternalError: InternalError,
    apsw.NoMemError: OperationalError,
    apsw.MisuseError: InterfaceError,
}


def from_transpile(exc: transpile.TranspileError) -> Error:
    cls = next((v for k, v in _FROM_TRANSPILE.items() if isinstance(exc, k)), ProgrammingError)
    return cls(str(exc), sql=exc.sql, position=exc.position)


def from_apsw(exc: Exception, sql: str | None = None, base: int = 0) -> Error:
    """Map an apsw exception onto galaxlite's classes, keeping SQLite's message.

    ``base`` is the offset of the failing statement inside ``sql`` (for scripts).
    """
    cls = next((v for k, v in _FROM_APSW.items() if isinstance(exc, k)), DatabaseError)
    message = str(exc)
    for prefix in ("SQLError: ", "ConstraintError: ", "Error: "):
        message = message.removeprefix(prefix)
    offset = getattr(exc, "error_offset", -1)
    position = base + offset if isinstance(offset, int) and offset >= 0 else None
    if cls is ProgrammingError and ("syntax error" in message or "incomplete input" in message):
        cls = SqlSyntaxError
    err = sql_error(cls, message, sql, position)
    err.sqlite_errorcode = getattr(exc, "extendedresult", None)
    return err


__all__ = [
    "DataError",
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
    "SqlSyntaxError",
    "TableNotAtVersionError",
    "UnknownTagError",
    "VersionError",
    "Warning",
]
