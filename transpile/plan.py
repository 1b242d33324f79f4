"""What the front end hands the engine: one ``Plan`` per statement.

A plan says what kind of statement it is, the SQL to run (the user's own text unless a
rewrite was needed), the ``AT VERSION`` table references to resolve, and a small
kind-specific ``detail`` record. Plans are immutable, so they can be cached by SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from galaxlite.transpile.embedding_clauses import (
    EmbeddingChange as EmbeddingChange,  # (re-exported)
)
from galaxlite.transpile.embedding_clauses import EmbeddingClause

# Plan kinds. The engine keeps a table from kind to runner function.
READ = "read"  # SELECT, VALUES, EXPLAIN ...: runs as is
WRITE = "write"  # INSERT/UPDATE/DELETE/REPLACE (also WITH ... INSERT): versioned write
OTHER = "other"  # DDL that needs no versioning work (CREATE INDEX/VIEW/TRIGGER, PRAGMA, ...)
CREATE_TABLE = "create_table"
ALTER_TABLE = "alter_table"
ENABLE_VERSIONING = "enable_versioning"  # ALTER TABLE t ENABLE VERSIONING: a plain table from now on versioned
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
# dataset snapshots (openGauss DB4AI semantics; see transpile/snapshots.py, galaxlite/snapshots/)
CREATE_SNAPSHOT = "create_snapshot"  # CREATE SNAPSHOT ... AS <select> | FROM @v USING (...)
SAMPLE_SNAPSHOT = "sample_snapshot"
MANAGE_SNAPSHOT = "manage_snapshot"  # PUBLISH / ARCHIVE / PURGE SNAPSHOT name@version
SET_PARAMETER = "set_parameter"  # SET p = v | RESET p | ALTER DATABASE SET p = v | ALTER DATABASE RESET p
SHOW_PARAMETER = "show_parameter"  # SHOW p
SET_EMBEDDING = "set_embedding"  # ALTER TABLE t ALTER [COLUMN] c SET EMBEDDING ... | DROP EMBEDDING
SHOW_EMBEDDING_HEALTH = "show_embedding_health"  # SHOW EMBEDDING HEALTH
# history as data (see transpile/history.py, galaxlite/runners/history.py)
RESTORE_TABLE = "restore_table"  # RESTORE TABLE t[, t2] TO VERSION x
PURGE_HISTORY = "purge_history"  # PURGE HISTORY [OF t] BEFORE VERSION x
BULK_LOAD = "bulk_load"  # BULK INSERT INTO t [(cols)] FROM 'file' [WITH (...)]

# Limits and names the front end checks and the engine relies on (one copy each, re-exported
# by galaxlite.transpile).
# WITH TRAINING PRECISION: how a training tag stores vectors ('rabitq' is 1 bit per dimension,
# 'rabitq2' ... 'rabitq8' the extended codes of that many bits)
PRECISIONS = ("float32", "sq8", "rabitq", *(f"rabitq{b}" for b in range(2, 9)))
MAX_SEED = 2**64 - 1  # TRAINING SEED: a 64-bit unsigned integer
MAX_VECTOR_DIM = 65536  # the largest n of a VECTOR(n) column


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

    @property
    def versions(self) -> tuple[VersionSpec, ...]:
        return (self.version,)


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
    embeddings: tuple[EmbeddingClause, ...] = ()


@dataclass(frozen=True, slots=True)
class AlterTable:
    table: TableName
    action: str  # rename_table | rename_column | add_column | drop_column
    old: str | None = None
    new: str | None = None
    embeddings: tuple[EmbeddingClause, ...] = ()  # add_column: the new column's EMBEDDING


@dataclass(frozen=True, slots=True)
class EnableVersioning:
    """``ALTER TABLE [schema.]table ENABLE VERSIONING``; ``position``: the table name's offset."""

    table: TableName
    position: int


@dataclass(frozen=True, slots=True)
class DropTable:
    table: TableName
    if_exists: bool


@dataclass(frozen=True, slots=True)
class DropView:
    """``DROP VIEW [IF EXISTS] name``: runs as written, unless the view is a snapshot's."""

    view: TableName
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
    """The target of an INSERT / REPLACE / BULK INSERT; ``one_row``: it inserts at most one
    row (``VALUES (...)`` with one row, or ``DEFAULT VALUES``); ``upsert``: it has
    ``ON CONFLICT ... DO UPDATE``."""

    table: TableName
    one_row: bool = False
    upsert: bool = False


@dataclass(frozen=True, slots=True)
class ChangeRows:
    """An UPDATE / DELETE the set-based path can version.

    ``target``: the table as the statement names it, alias included (``t AS x``);
    ``where``: its WHERE expression (None: every row), positional parameters written as
    ``?N`` with the number they have in the whole statement, so a query of its own binds
    the statement's parameters (up to ``last_param``); ``named``: the WHERE uses ``:name``
    parameters; ``ref``: how the statement's text names the target's columns (its alias,
    else the table).
    """

    verb: str
    table: TableName
    target: str
    ref: str
    where: str | None
    set_columns: tuple[str, ...]
    named: bool
    last_param: int = 0


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
class SnapshotVersion:
    """The version after ``@``: numeric parts (``@1.0.0`` → ``("1", "0", "0")``, ``@2021`` →
    ``("2021",)``; joined with the separator in force) or a custom ``literal``
    (``@squash`` → ``"squash"``, ``@"rev 1.1"`` / ``@'rev 1.1'`` → ``"rev 1.1"``).

    >>> SnapshotVersion(parts=("1", "0", "0")).render(".")
    '1.0.0'
    >>> SnapshotVersion(literal="rev 1.1").render("_")
    'rev 1.1'
    """

    parts: tuple[str, ...] = ()
    literal: str | None = None

    def render(self, separator: str) -> str:
        return self.literal if self.literal is not None else separator.join(self.parts)


@dataclass(frozen=True, slots=True)
class SnapshotName:
    """``[schema.]name[@version]`` as written (``version`` None when absent)."""

    schema: str | None
    name: str
    version: SnapshotVersion | None = None
    position: int = 0


@dataclass(frozen=True, slots=True)
class SnapshotRef:
    """``[schema.]name@version`` used as a relation in a query (a hole in ``Plan.template``,
    in ``Plan.refs`` next to the ``AT VERSION`` refs); resolved to the snapshot's view."""

    snapshot: SnapshotName
    position: int


@dataclass(frozen=True, slots=True)
class AlterAction:
    """One ``ADD [COLUMN] col type ...`` / ``DROP [COLUMN] [IF EXISTS] col`` of a USING ALTER."""

    action: str  # "add" | "drop"
    column: str  # unquoted column name (unquoted identifiers lower-cased, like openGauss)
    definition: str = ""  # ADD: the text after the column name ("int DEFAULT 0"), as written
    if_exists: bool = False
    text: str = ""  # the whole action as written (for error messages)


@dataclass(frozen=True, slots=True)
class SnapshotCommand:
    """One command of a ``USING ( ... )`` batch, split into the openGauss pieces.

    ``pieces`` is the compact lineage form kept in the catalog, e.g.
    ``("UPDATE", "AS i", "SET x = 1", "WHERE y > 2")``, ``("DELETE", "WHERE RANDOM() <= 0.2")``,
    ``("INSERT", "VALUES (1, 2)")``, ``("ALTER", "ADD c int, DROP d")``. The clause fields
    hold the same texts without their keyword (``where`` = ``"y > 2"``). ``position`` is the
    command's offset in ``Plan.source``.
    """

    op: str  # "INSERT" | "UPDATE" | "DELETE" | "ALTER"
    pieces: tuple[str, ...]
    position: int
    alias: str | None = None  # UPDATE/DELETE: AS alias (correlation name; default "snapshot")
    insert: str | None = None  # INSERT: the text after INSERT [INTO SNAPSHOT] ("(a, b) SELECT ...")
    set: str | None = None  # UPDATE: the assignments after SET
    from_: str | None = None  # UPDATE ... FROM <this>
    using: str | None = None  # DELETE ... USING <this>
    where: str | None = None
    alter: tuple[AlterAction, ...] = ()


@dataclass(frozen=True, slots=True)
class CreateSnapshot:
    """``CREATE SNAPSHOT name[@v] [COMMENT IS 'c'] AS <select>`` (``query`` set) or
    ``CREATE SNAPSHOT name[@v] FROM @parent [COMMENT IS 'c'] USING (...)`` (``parent`` set).

    ``query`` is the SELECT exactly as written (``query_position``: its offset in
    ``Plan.source``); ``projection``/``from_clause`` its openGauss split for the catalog
    (``"SELECT *"``, ``"FROM t WHERE id > 3"``).
    """

    name: SnapshotName
    comment: str | None = None
    query: str | None = None
    query_position: int = 0
    projection: str | None = None
    from_clause: str | None = None
    parent: SnapshotVersion | None = None
    commands: tuple[SnapshotCommand, ...] = ()


@dataclass(frozen=True, slots=True)
class SampleSpec:
    label: str  # the infix: ``AS _train`` → "_train"
    ratio: float
    ratio_text: str  # as written (".8"), for the catalog's commands
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class SampleSnapshot:
    name: SnapshotName  # with version
    stratify: tuple[str, ...]
    samples: tuple[SampleSpec, ...]


@dataclass(frozen=True, slots=True)
class ManageSnapshot:
    action: str  # "publish" | "archive" | "purge"
    name: SnapshotName  # with version


@dataclass(frozen=True, slots=True)
class Parameter:
    """``SET [LOCAL] p = v``, ``RESET p``, ``SHOW p`` (value None), ``ALTER DATABASE SET / RESET p`` (persist)."""

    name: str  # lower-cased
    value: str | None = None
    persist: bool = False
    position: int = 0
    local: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    kind: str
    sql: str  # what to run when there are no refs
    position: int = 0  # offset of the statement in the script it came from
    source: str = ""  # that script
    template: Template | None = None
    refs: tuple[Any, ...] = ()  # VersionRef | SnapshotRef | history.ChangesRef
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
        specs = [s for r in self.refs for s in getattr(r, "versions", ())]
        return tuple(s.param for s in specs if isinstance(s.param, int))
