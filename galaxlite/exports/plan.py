"""Planning the export of one table: its columns, their Arrow types, the SQL that reads it.

Columns:

* a ``VECTOR(n)`` column becomes a fixed-size vector under its own name;
* a text column that carries embeddings at the version exported (declared ``EMBEDDING``, or
  recorded by ``Database.embed`` or ``SEMANTIC_MATCH``: ``galaxlite_embedding_history``, see
  ``galaxlite.semantic.declared.records_at``) becomes the vector of its embedder then under its own
  name, and its text moves to the companion column ``<col>__text``; the vectors come from
  the file's embedding cache (texts not cached yet are embedded now, and cached);
* every other column keeps an Arrow type: int64, float64, string, binary (from the declared
  type; a column declared without one, or NUMERIC, takes the type of its values); NULL stays
  null, vectors included.

Row order: the primary key (declared PRIMARY KEY columns, else the rowid). The table is read
as of the tag's version with its schema and embedding declarations then (see
:func:`plan_table`), so an export of an old tag holds what an export at tag time held.

The plan also sizes the work: rows per record batch (about :data:`BATCH_BYTES`) and rows
taken from SQLite at a time (about :data:`READ_BLOCK_BYTES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import apsw
import pyarrow as pa

from galaxlite import errors, storage
from galaxlite.exports.arrow import affinity_type
from galaxlite.exports.layout import TEXT_SUFFIX
from galaxlite.semantic import declared
from galaxlite.semantic.vectors import parse_vector_type
from galaxlite.transpile import PRECISIONS, quote_identifier

BATCH_BYTES = 8 << 20  # rows per record batch: about this many bytes
MIN_BATCH_ROWS, MAX_BATCH_ROWS = 256, 65536
READ_BLOCK_BYTES = 256 << 10  # rows taken from SQLite at a time: about this many bytes
_KEY = "_gl_export_key"  # the rowid, selected to order a table without a declared key


@dataclass(frozen=True, slots=True)
class ExportColumn:
    """How one column of a table is exported.

    ``kind``: ``"value"`` (an Arrow-typed column), ``"vector"`` (``VECTOR(n)``) or ``"text"``
    (a text column with embeddings: vector + ``<name>__text``).
    """

    name: str
    kind: str
    type: pa.DataType | None = None  # value columns (and the text of text columns)
    dim: int | None = None
    declared: str = ""
    embedder: str | None = None


@dataclass(frozen=True, slots=True)
class TablePlan:
    """A table to export: the SQL reading it as of the version, in primary-key order."""

    table: str
    file: str
    sql: str
    count_sql: str
    columns: tuple[ExportColumn, ...]
    key: tuple[str, ...]

    @property
    def row_bytes(self) -> int:
        """About how many bytes one row takes (to size batches)."""
        return max(1, sum(4 * c.dim + (64 if c.kind == "text" else 0) if c.dim else 16 for c in self.columns))

    @property
    def batch_rows(self) -> int:
        """Rows per record batch."""
        return max(MIN_BATCH_ROWS, min(MAX_BATCH_ROWS, BATCH_BYTES // self.row_bytes))

    @property
    def fetch_rows(self) -> int:
        """Rows taken from SQLite at a time (see :func:`galaxlite.exports.rows.read_rows`)."""
        return max(16, min(self.batch_rows, READ_BLOCK_BYTES // self.row_bytes))


def plan_table(conn: apsw.Connection, table: str, version: int, file: str) -> TablePlan:
    """How to export ``table`` (its name then) as of ``version``, with its schema then.

    Column types and the declared key come from the table as it is now, which for the columns
    of the past are the same (SQLite never changes a column's declared type): a column renamed
    since is found by its history column. A table dropped since, or a column dropped since,
    has no declaration left: NotSupportedError.
    """
    past = storage.version_at(conn, table, version)
    now = storage.current_of(conn, past.table_id) if past is not None else None
    if past is None:  # pragma: no cover - the caller lists the tables of the version
        raise errors.TableNotAtVersionError(f"table {table!r} did not exist at version {version}")
    then = {n.lower(): now and next((m for m, h2 in now.columns if h2 == h), None) for n, h in past.columns}
    gone = [n for n, _ in past.columns if then[n.lower()] is None]
    if gone:
        raise errors.NotSupportedError(
            f"cannot export table {table!r} as of version {version}: "
            + (f"its column {gone[0]!r} was dropped since" if now is not None else "it was dropped since")
            + ", and galaxlite does not record the declared types of dropped columns"
        )
    info = {
        row[1].lower(): row
        for row in conn.execute("SELECT * FROM pragma_table_xinfo(?)", (now.name,))
    }
    back = {m.lower(): n for n, m in ((n, then[n.lower()]) for n, _ in past.columns)}
    declared_key = tuple(
        back.get(row[1].lower(), row[1])
        for row in sorted((r for r in info.values() if r[5]), key=lambda r: r[5])
    )
    # the embedding declarations in force at the version, by the columns' names now
    embedded = {r.column.lower(): (r.embedder, r.dim) for r in declared.records_at(conn, now.name, version)}
    columns = []
    for name, _ in past.columns:
        current = then[name.lower()].lower()
        decl = info[current][2] or ""
        columns.append(_column(past.name, name, decl, embedded.get(current)))
    if declared_key:
        key, order = declared_key, ", ".join(quote_identifier(k) for k in declared_key)
    else:  # a rowid table without a declared key: select its rowid too, and order by it
        past = replace(past, columns=(*past.columns, (_KEY, "_gl_rowid")))
        now = replace(now, columns=(*now.columns, (now.key_columns[0], "_gl_rowid")))
        key, order = ("rowid",), quote_identifier(_KEY)
    sub = storage.as_of_sql(
        past, now, version, storage.closed_since(conn, past, version),
        storage.ranges_after(conn, now, version),
    )
    columns = _settle_types(conn, past.name, sub, columns)
    _check_names(past.name, columns)
    select = ", ".join(quote_identifier(c.name) for c in columns)
    return TablePlan(
        table=past.name,
        file=file,
        sql=f"SELECT {select} FROM {sub} AS _gl_export ORDER BY {order}",
        count_sql=f"SELECT count(*) FROM {sub}",
        columns=tuple(columns),
        key=key,
    )


def _column(table: str, name: str, decl: str, embedded: tuple[str, int] | None) -> ExportColumn:
    try:
        dim = parse_vector_type(decl)
    except ValueError as exc:
        raise errors.DataError(f"table {table!r}, column {name!r}: {exc}") from None
    if dim is not None:
        return ExportColumn(name, "vector", dim=dim, declared=decl, embedder=embedded and embedded[0])
    if embedded is not None:
        return ExportColumn(name, "text", pa.string(), embedded[1], decl, embedded[0])
    return ExportColumn(name, "value", affinity_type(decl), declared=decl)


def _settle_types(
    conn: apsw.Connection, table: str, sub: str, columns: list[ExportColumn]
) -> list[ExportColumn]:
    """Columns declared without a type, or NUMERIC, take the type of the values they hold
    (one scan for all of them); the others keep the type their declaration gives."""
    open_ = [c for c in columns if c.kind == "value" and c.type == pa.null()]
    if not open_:
        return columns
    kinds = ", ".join(f"group_concat(DISTINCT typeof({quote_identifier(c.name)}))" for c in open_)
    found = next(conn.execute(f"SELECT {kinds} FROM {sub}"))
    types = {c.name: _type_of_values(table, c, seen) for c, seen in zip(open_, found, strict=True)}
    return [replace(c, type=types[c.name]) if c.name in types else c for c in columns]


def _type_of_values(table: str, column: ExportColumn, seen: str | None) -> pa.DataType:
    kinds = set((seen or "").split(",")) - {"", "null"}
    if not kinds:
        return pa.null()
    if kinds == {"integer"}:
        return pa.int64()
    if kinds <= {"integer", "real"}:
        return pa.float64()
    if kinds == {"text"}:
        return pa.string()
    if kinds == {"blob"}:
        return pa.binary()
    raise errors.DataError(
        f"cannot export table {table!r}: column {column.name!r} (declared "
        f"{column.declared or 'without a type'!r}) mixes {', '.join(sorted(kinds))} values, "
        "which one Arrow column cannot hold; CAST them to one type first"
    )


def _check_names(table: str, columns: Sequence[ExportColumn]) -> None:
    names = {c.name.lower() for c in columns}
    for c in columns:
        extra = [TEXT_SUFFIX] if c.kind == "text" else []
        if c.kind != "value":  # the code columns of every precision (quantize.codecs)
            extra += [f"__{p}{part}" for p in PRECISIONS[1:] for part in ("", "_norm", "_ip")]
        for suffix in extra:
            if (c.name + suffix).lower() in names:
                raise errors.ProgrammingError(
                    f"cannot export table {table!r}: its column {c.name + suffix!r} has the name "
                    f"the export gives to a companion of column {c.name!r}; rename it"
                )
