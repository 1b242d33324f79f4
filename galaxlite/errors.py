"""galaxlite's exceptions, shaped like PEP 249's hierarchy.

Every error a user can cause is one of these; raw apsw or front-end exceptions never
escape. Errors about SQL text carry ``sql`` and ``position`` (character offset) and say
the line and column in their message.

This is the one set of exception classes: the leaf modules ``galaxlite.semantic.embedders``
and ``galaxlite.semantic.vectors`` raise these too, so ``galaxlite.UnknownEmbedderError``
catches what ``galaxlite.semantic.embedders.get_embedder`` raises. Where a class also
derives from a builtin exception (``LookupError``, ``ValueError``, ``ImportError``), code
that catches the builtin keeps working.

    Warning
    Error
    ├── InterfaceError
    └── DatabaseError
        ├── DataError
        │   └── VectorDimensionError    a VECTOR(n) value of the wrong size (also a ValueError)
        ├── OperationalError
        │   ├── EmbedderNotAvailableError  the embedder's package is not installed
        │   └── OptionalDependencyError    an optional package (torch) is not installed
        ├── EmbedderError               an embedder that cannot be had or run (also the base
        │                               of UnknownEmbedderError and EmbedderNotAvailableError)
        ├── IntegrityError
        ├── InternalError
        ├── ProgrammingError
        │   ├── SqlSyntaxError          malformed SQL (galaxlite or SQLite syntax)
        │   ├── ReadOnlyVersionError    a write aimed at AT VERSION data
        │   ├── VersionError            a version that cannot be read
        │   │   ├── UnknownTagError
        │   │   ├── DuplicateTagError
        │   │   ├── FutureVersionError
        │   │   ├── TableNotAtVersionError
        │   │   ├── HistoryPurgedError      a version before a PURGE HISTORY horizon
        │   │   └── SchemaChangedError      RESTORE TABLE across a schema change
        │   ├── SnapshotError           a dataset snapshot statement that cannot run
        │   │   ├── UnknownSnapshotError    no snapshot of that name (and version)
        │   │   ├── DuplicateSnapshotError  a snapshot of that name exists already
        │   │   └── SnapshotParameterError  a bad value for a db4ai_* parameter (SET ...)
        │   ├── SemanticError           a SEMANTIC_MATCH / SEMANTIC_SCORE that cannot run
        │   ├── UnknownEmbedderError    no embedder of that name (also a LookupError)
        │   ├── EmbedderMismatchError   a column embedded with another embedder
        │   ├── QuantizationModeError   an unknown training precision / decode mode (also a ValueError)
        │   └── TrainingExportError     no such training export, or not one
        └── NotSupportedError
"""

from __future__ import annotations

import re

import apsw

from galaxlite import transpile


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


class HistoryPurgedError(VersionError):
    """A version whose history was removed by PURGE HISTORY (only tags before it stay)."""


class SchemaChangedError(VersionError):
    """RESTORE TABLE to a version at which the table had another schema."""



class SnapshotError(ProgrammingError):
    """A dataset snapshot statement (CREATE / SAMPLE / PUBLISH / ARCHIVE / PURGE SNAPSHOT, a
    ``name@version`` reference) that cannot run; the message follows openGauss's wording where
    it has one. ``hint`` is openGauss's HINT text when it gives one (else None); the message
    ends with it."""

    def __init__(
        self, message: str, *, sql: str | None = None, position: int | None = None,
        hint: str | None = None,
    ):
        super().__init__(message, sql=sql, position=position)
        self.hint = hint


class UnknownSnapshotError(SnapshotError):
    """No snapshot has that name (``snapshot "m0@9.9.9" does not exist``)."""


class DuplicateSnapshotError(SnapshotError):
    """The snapshot to create exists already (``snapshot main."m0@1.1.0" already exists``):
    galaxlite never picks another version silently."""


class SnapshotParameterError(SnapshotError):
    """A value a ``db4ai_*`` parameter cannot take (``SET db4ai_snapshot_mode = X``, a
    delimiter that is not one character, ...)."""


class SemanticError(ProgrammingError):
    """A ``SEMANTIC_MATCH`` / ``SEMANTIC_SCORE`` call that cannot be evaluated: an unknown or
    ambiguous column, a column that is neither text nor ``VECTOR(n)``, a query that is not a
    string, a threshold that is not a number from -1 to 1."""


class EmbedderError(DatabaseError):
    """An embedder that cannot be had or cannot run (``galaxlite.semantic.embedders``); the
    base of UnknownEmbedderError and EmbedderNotAvailableError."""


class UnknownEmbedderError(ProgrammingError, EmbedderError, LookupError):
    """No embedder is registered under that name; also a ``LookupError``, as a failed
    registry lookup."""


class EmbedderMismatchError(ProgrammingError):
    """A column whose embeddings come from another embedder (galaxlite never mixes them)."""


class QuantizationModeError(ProgrammingError, ValueError):
    """An unknown training precision or vector decode mode (galaxlite.exports.quantize); also a
    ``ValueError``, as for any bad argument value."""


class TrainingExportError(ProgrammingError):
    """A training export that does not exist (a tag made without FOR TRAINING, a table it
    did not export) or a path that is not a galaxlite training export."""


class OptionalDependencyError(OperationalError, ImportError):
    """An optional package a feature needs is not installed (PyTorch for
    ``galaxlite.exports.torch_dataset``); the message says how to install it. Also an
    ``ImportError``."""


class EmbedderNotAvailableError(OperationalError, EmbedderError):
    """The embedder exists but cannot run here (its package or model files are missing);
    the message says how to install them."""


class VectorDimensionError(DataError, ValueError):
    """A value for a ``VECTOR(n)`` column (or a vector in another context) that is not n
    float32 components; also a ``ValueError``, as for any bad argument value.

    ``column``, ``expected`` and ``got`` (None when unknown) say which column, and how many
    components it needs and received.
    """

    def __init__(
        self,
        message: str,
        *,
        column: str | None = None,
        expected: int | None = None,
        got: int | None = None,
        sql: str | None = None,
        position: int | None = None,
    ):
        super().__init__(message, sql=sql, position=position)
        self.column = column
        self.expected = expected
        self.got = got


def _with_position(message: str, sql: str | None, position: int | None) -> str:
    if sql and position is not None and position >= 0:
        return f"{message} at {transpile.describe_position(sql, position)}"
    return message


def sql_error(cls: type[Error], message: str, sql: str | None, position: int | None) -> Error:
    """An error of class ``cls`` whose message says where in ``sql`` the problem is."""
    return cls(_with_position(message, sql, position), sql=sql, position=position)


def placed(err: Error, sql: str | None, position: int | None) -> Error:
    """``err`` as raised at ``position`` of ``sql``: an error of the same class and attributes
    whose message says where. An error that has a place already is returned as it is.

    >>> placed(UnknownEmbedderError("unknown embedder 'x'"), "SELECT f(a)", 7).message
    "unknown embedder 'x' at line 1, column 8 near 'f(a)'"
    """
    if err.position is not None:
        return err
    new = sql_error(type(err), err.message, sql, position)
    for name, value in vars(err).items():
        if name not in ("message", "sql", "position"):
            setattr(new, name, value)
    return new


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
    if position is None and sql:
        position = _named_position(message, sql, base)
    if cls is ProgrammingError and any(m in message for m in ("syntax error", "incomplete input", "unrecognized token")):
        cls = SqlSyntaxError
    if cls is IntegrityError and (vector := transpile.vector_check_failure(message)):
        err = _vector_check_failed(vector, sql, position)
    else:
        err = sql_error(cls, message, sql, position)
    err.sqlite_errorcode = getattr(exc, "extendedresult", None)
    return err


# SQLite messages that name a table or column but give no offset: the name, then where to
# look for it (a column named after "table T has no column named C" is one of T's)
_NAMES_IN_MESSAGES = (
    re.compile(r"no such table: (?:\w+\.)?(.+)"),
    re.compile(r"cannot modify (.+) because it is a view"),
    re.compile(r"table .+ has no column named (.+)"),
)


def _named_position(message: str, sql: str, base: int) -> int | None:
    """Where the statement at ``base`` in ``sql`` first names what ``message`` names.

    >>> _named_position("no such table: main.nope", "SELECT 1; SELECT * FROM main.nope", 10)
    29
    """
    for pattern in _NAMES_IN_MESSAGES:
        if match := pattern.fullmatch(message):
            name = match.group(1).lower()
            break
    else:
        return None
    try:
        statements = transpile.split_statements(sql[base:])
    except transpile.TranspileError:
        return None
    tokens = statements[0].tokens if statements else ()
    return next((base + t.start for t in tokens if t.kind in ("word", "qident") and t.value.lower() == name), None)


# The CHECK galaxlite gives every VECTOR(n) column failed (its text and reader: transpile.vectors)
def _vector_check_failed(failure: transpile.VectorCheckFailure, sql: str | None, position: int | None) -> Error:
    dim, column = failure.dim, failure.column
    message = (
        f"column {column!r} is VECTOR({dim}): a value must be {dim} float32 components, "
        f"a BLOB of {4 * dim} bytes (bind a list of {dim} numbers or a float32 numpy array, "
        "or use vector('[...]')), but the value written has another size or type "
        "(numpy arrays bind as their raw bytes: convert others with .astype('float32'))"
    )
    return VectorDimensionError(
        _with_position(message, sql, position), column=column, expected=dim, sql=sql,
        position=position,
    )


__all__ = [
    "DataError",
    "DatabaseError",
    "DuplicateSnapshotError",
    "DuplicateTagError",
    "EmbedderError",
    "EmbedderMismatchError",
    "EmbedderNotAvailableError",
    "Error",
    "FutureVersionError",
    "HistoryPurgedError",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "OptionalDependencyError",
    "ProgrammingError",
    "QuantizationModeError",
    "ReadOnlyVersionError",
    "SchemaChangedError",
    "SemanticError",
    "SnapshotError",
    "SnapshotParameterError",
    "SqlSyntaxError",
    "TableNotAtVersionError",
    "TrainingExportError",
    "UnknownEmbedderError",
    "UnknownSnapshotError",
    "UnknownTagError",
    "VectorDimensionError",
    "VersionError",
    "Warning",
]


def bare_message(err: Error) -> str:
    """``err``'s message without the " at line L, column C near ..." ``sql_error`` gave it.

    >>> bare_message(sql_error(Error, "no such column: b", "SELECT b", 7))
    'no such column: b'
    """
    return err.message.removesuffix(_with_position("", err.sql, err.position))


def relocate(err: Error, message: str, sql: str | None, position: int | None) -> None:
    """Make ``err`` say ``message`` about ``position`` of ``sql`` (as ``sql_error`` words it),
    keeping its class and its other attributes: for an error met running SQL built from the
    user's text, to report it where that text is."""
    text = _with_position(message, sql, position)
    err.args, err.message, err.sql, err.position = (text,), text, sql, position
