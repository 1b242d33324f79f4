"""What the front end hands the engine: one ``Plan`` per statement.

A plan says what kind of statement it is, the SQL to run (the user's own text unless a
rewrite was needed), the ``AT VERSION`` table references to resolve, and a small
kind-specific ``detail`` record. Plans are immutable, so they can be cached by SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Plan kinds. The engine keeps a table from kind to runner function.
READ = "read"  # SELECT, VALUES, EXPLAIN ...: runs as is
WRITE = "write"  # INSERT/UPDATE/DELETE/REPLACE (also WITH ... INSERT): versioned write
OTHER = "other"  # DDL that needs no versioning work (CREATE INDEX/VIEW/TRIGGER, PRAGMA, ...)
CREATE_TABLE = "create_table"
ALTER_TABLE = "alter_table"
DROP_TABLE = "drop_table"
CREATE_TAG = "create_tag"
DROP_TAG = "drop_tag"
BULK_INSERT = "bulk_insert"
BEGIN = "begin"
COMMIT = "commit"
ROLLBACK = "rollback"
ROLLBACK_TO = "rollback_to"
SAVEPOINT = "savepoint"
RELEASE = "release"


@dataclass(frozen=True, slots=True)
class VersionSpec:
    """The ``x`` of ``AT VERSION x``: a tag name, a µs timestamp, or a bound parameter.

    For a parameter, ``param`` is its 0-based index among the plain ``?`` markers of the
    statement, or its name (``:v`` → ``"v"``); its Python type decides tag or timestamp.
    """

    tag: str | None = None
    timestamp: int | None = None
    param: int | str | None = None


@dataclass(frozen=True, slots=True)
class VersionRef:
    """``[schema.]table AT VERSION x`` at ``position`` in the SQL."""

    schema: str | None
    table: str
    version: VersionSpec
    position: int


@dataclass(frozen=True, slots=True)
class Template:
    """SQL text with holes where resolved ``AT VERSION`` subqueries go.

    ``pieces`` alternates literal text (str) and the index of a ref (int).

    >>> Template(("SELECT * FROM ", 0, " AS t",)).render(["(SELECT 1 AS a)"])
    'SELECT * FROM (SELECT 1 AS a) AS t'
    """

    pieces: tuple[str | int, ...]

    def render(self, subqueries: list[str]) -> str:
        return "".join(p if isinstance(p, str) else subqueries[p] for p in self.pieces)


@dataclass(frozen=True, slots=True)
class TableName:
    schema: str | None
    name: str

    @property
    def is_temp(self) -> bool:
        return (self.schema or "").lower() in ("temp", "temporary")


@dataclass(frozen=True, slots=True)
class CreateTable:
    table: TableName
    temp: bool
    if_not_exists: bool
    versioned: bool


@dataclass(frozen=True, slots=True)
class AlterTable:
    table: TableName
    action: str  # rename_table | rename_column | add_column | drop_column
    old: str | None = None
    new: str | None = None


@dataclass(frozen=True, slots=True)
class DropTable:
    table: TableName
    if_exists: bool


@dataclass(frozen=True, slots=True)
class TrainingOptions:
    precision: str = "float32"
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class TagStatement:
    name: str | None  # None when given as a parameter
    param: int | str | None = None
    if_exists: bool = False
    training: TrainingOptions | None = None


@dataclass(frozen=True, slots=True)
class InsertInto:
    """The target of an INSERT / REPLACE / BULK INSERT."""

    table: TableName


@dataclass(frozen=True, slots=True)
class Savepoint:
    name: str


@dataclass(frozen=True, slots=True)
class SourceItem:
    """A FROM/JOIN item (or UPDATE/DELETE target) a ``SEMANTIC_*`` column may come from.

    ``kind`` is ``"table"`` (a table or view name), ``"subquery"`` (a parenthesised SELECT),
    ``"cte"`` (a name the statement's WITH defines) or ``"function"`` (a table-valued
    function). ``ref`` is the index into ``Plan.refs`` when the item is read ``AT VERSION``.
    """

    schema: str | None
    name: str
    alias: str | None = None
    ref: int | None = None
    kind: str = "table"
    position: int = 0

    @property
    def exposed(self) -> str:
        """The name columns are qualified with: the alias, else the table name."""
        return self.alias if self.alias is not None else self.name


@dataclass(frozen=True, slots=True)
class SemanticArg:
    """A literal (``value``) or a bound parameter (``param``: index among plain ``?``, or name)."""

    value: str | float | None = None
    param: int | str | None = None


@dataclass(frozen=True, slots=True)
class SemanticCall:
    """``SEMANTIC_MATCH(col, query, threshold)`` or ``SEMANTIC_SCORE(col, query)``.

    ``qualifier`` is what precedes the column name (``()``, ``("d",)`` or
    ``("main", "docs")``); ``column_sql`` the column reference exactly as written, which the
    rewrite keeps so that SQLite resolves it as the user meant. ``scopes`` lists the items of
    the enclosing SELECTs, innermost first. ``hole`` is the index of the call's hole in
    ``Plan.template`` (after the AT VERSION holes).
    """

    function: str  # "SEMANTIC_MATCH" | "SEMANTIC_SCORE"
    qualifier: tuple[str, ...]
    column: str
    column_sql: str
    query: SemanticArg
    threshold: SemanticArg | None
    scopes: tuple[tuple[SourceItem, ...], ...]
    hole: int
    position: int

    @property
    def is_match(self) -> bool:
        return self.function == "SEMANTIC_MATCH"

    @property
    def params(self) -> tuple[int, ...]:
        """Indexes of the plain ``?`` parameters the call uses (dropped before binding)."""
        args = (self.query, self.threshold)
        return tuple(a.param for a in args if a is not None and isinstance(a.param, int))


@dataclass(frozen=True, slots=True)
class Plan:
    kind: str
    sql: str  # what to run when there are no refs
    position: int = 0  # offset of the statement in the script it came from
    source: str = ""  # that script
    template: Template | None = None
    refs: tuple[VersionRef, ...] = ()
    detail: Any = None
    param_markers: int = field(default=0)  # how many plain ``?`` markers the statement has
    # conflict resolutions the statement names: "REPLACE" (REPLACE / OR REPLACE) and "FAIL"
    conflict_clauses: frozenset[str] = frozenset()
    returning: bool = False  # has a RETURNING clause (a write that yields rows)
    # SEMANTIC_MATCH / SEMANTIC_SCORE calls, rewritten by the engine at run time (holes in
    # ``template`` numbered after the AT VERSION ones)
    semantic: tuple[SemanticCall, ...] = ()

    @property
    def consumed_params(self) -> tuple[int, ...]:
        """Indexes of positional parameters that ``AT VERSION ?`` uses (dropped before binding)."""
        return tuple(r.version.param for r in self.refs if isinstance(r.version.param, int))
