"""Training exports: the tables of a version tag as Lance datasets, and their reader.

``CREATE VERSION TAG 'x' FOR TRAINING [WITH TRAINING PRECISION p] [TRAINING SEED n]`` (and
``Database.create_training_snapshot``) creates the tag and, in the same write transaction,
calls :func:`write_exports`: every versioned table, read ``AT VERSION`` the tag, becomes one
Lance dataset::

    <exports folder>/<tag>-<version>/<table>.lance

(the exports folder is ``./data/exports`` for a directory database, ``shop.db.exports`` for a
file; names are made file-system safe, see :func:`folder_name`). The files go to a temporary
folder inside the exports folder first, which is renamed when every table is complete; any
failure removes it, and the caller rolls the tag back.

Columns:

* a ``VECTOR(n)`` column becomes a fixed-size vector under its own name;
* a text column that carries embeddings (recorded in ``galaxlite_embedding_columns`` by
  ``Database.embed`` or ``SEMANTIC_MATCH``) becomes the vector of its embedder under its own
  name, and its text moves to the companion column ``<col>__text``; the vectors come from
  the file's embedding cache (texts not cached yet are embedded now, and cached);
* every other column keeps an Arrow type: int64, float64, string, binary (from the declared
  type; a column declared without one, or NUMERIC, takes the type of its values); NULL stays
  null, vectors included.

Precision of the vectors (``galaxlite.quantize``):

* ``float32``: ``fixed_size_list<float32>[n]``;
* ``sq8``: ``fixed_size_list<uint8>[n]``, per-dimension bounds in the metadata (¼ the bytes);
* ``rabitq``: 1-bit RaBitQ codes ``fixed_size_binary[ceil(n/8)]`` plus float32 columns
  ``<col>__rabitq_norm`` and ``<col>__rabitq_ip``; the rotation is regenerated from the seed
  (``TRAINING SEED``, 0 without one) and the centroid is in the metadata (≤ 1/25 the bytes).

Row order: the primary key (declared PRIMARY KEY columns, else the rowid) without a seed;
with ``TRAINING SEED n``, the permutation ``np.random.default_rng([n, 2]).permutation(rows)``
of that order, so the same data and seed give the same dataset.

The dataset's schema metadata ``galaxlite`` (JSON) says all that — tag, table, version,
precision, seed, order, and per vector column its kind, dimension, embedder and quantizer
parameters — so :func:`training_batches` decodes any export to float32 without the database.
:func:`content_hash` recomputes the hash recorded in the catalog from the files.

Without a seed and at float32 the rows stream from SQLite into Lance: a reader thread fills
record batches, Lance writes them in another, a third computes the content hash, and the
caller's thread reports progress (and sees Ctrl-C at once). With a seed, or a quantizer to
fit, the table is staged first (read by a thread while the files are written): vectors as
float32 files in the temporary folder (memory-mapped), the other columns in memory; the
batches then gather the shuffled rows, or are views of the staged ones in key order.

>>> import tempfile, galaxlite
>>> db = galaxlite.Database(tempfile.mkdtemp())
>>> _ = db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v VECTOR(2), label INTEGER)")
>>> _ = db.execute("INSERT INTO t (v, label) VALUES (vector('[1, 2]'), 0), (NULL, 1)")
>>> _ = db.execute("CREATE VERSION TAG 'train' FOR TRAINING WITH TRAINING PRECISION 'sq8'")
>>> batch = next(training_batches(db.training_dataset("train")))
>>> batch["v"].dtype, batch["v"].shape, batch["label"].tolist()
(dtype('float32'), (2, 2), [0, 1])
>>> bool(np.isnan(batch["v"][1]).all())  # a NULL vector
True
>>> db.close()
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import hashlib
import itertools
import json
import os
import queue
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import apsw
import numpy as np
import pyarrow as pa

from galaxlite import errors as E
from galaxlite import quantize as Q
from galaxlite import storage
from galaxlite.arrow import _affinity_type as affinity_type
from galaxlite.semantic import embedders as EMB
from galaxlite.semantic import vectors as V
from galaxlite.transpile import quote_identifier as q

if TYPE_CHECKING:
    from galaxlite.semantic import SemanticEngine

FORMAT = "galaxlite-training-export"
FORMAT_VERSION = 1
METADATA_KEY = b"galaxlite"
PRECISIONS = Q.PRECISIONS
# Both sides of benchmarks/bench_export.py use these: Lance's 2.0 file format writes float
# vectors 2–3× faster than the newer default here, and every Lance reader opens it.
LANCE_OPTIONS: dict[str, Any] = {"data_storage_version": "2.0"}
TEXT_SUFFIX = "__text"
NORM_SUFFIX = "__rabitq_norm"
IP_SUFFIX = "__rabitq_ip"
SHUFFLE_STREAM = 2  # rows are shuffled by default_rng([seed, 2]); the RaBitQ rotation uses 1
BATCH_BYTES = 8 << 20  # rows per record batch: about this many bytes
MIN_BATCH_ROWS, MAX_BATCH_ROWS = 256, 65536
READ_BLOCK_BYTES = 256 << 10  # rows taken from SQLite at a time: about this many bytes
PREFETCH = 3  # record batches made ahead of Lance by the reader thread
FIT_ROWS = 1 << 16  # staged rows per block when fitting sq8 bounds around NULL vectors
MMAP_BYTES = 1 << 40  # SQLite reads the file through mmap during an export (fewer copies)
HASH = "sha256"  # SHA-256 (hardware-accelerated on x86-64 and ARMv8: ~2× BLAKE2b here)
_KEY = "_gl_export_key"  # the rowid, selected to order a table without a declared key
ProgressCallback = Callable[[int, int], object]


# ------------------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class Written:
    """One table written: its dataset (path relative to the export folder), rows, hash."""

    table: str
    file: str
    rows: int
    content_hash: str


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What :func:`write_exports` made: the export's folder (its name in the exports folder,
    and its path), one :class:`Written` per table, and whether the exports folder itself was
    made for it."""

    folder: str
    path: Path
    tables: tuple[Written, ...]
    made_root: bool


@dataclass(frozen=True, slots=True)
class Column:
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
    columns: tuple[Column, ...]
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
        """Rows taken from SQLite at a time (see :func:`read_rows`)."""
        return max(16, min(self.batch_rows, READ_BLOCK_BYTES // self.row_bytes))


@dataclass(slots=True)
class Rows:
    """A block of rows, decoded: Arrow arrays for value and text columns; for vector and text
    columns, float32 vectors ``(n, dim)`` and which rows have one (``None``: all)."""

    n: int
    values: dict[str, pa.Array] = field(default_factory=dict)
    vectors: dict[str, tuple[np.ndarray, np.ndarray | None]] = field(default_factory=dict)

    @property
    def num_rows(self) -> int:  # as a record batch's, for _Prefetch
        return self.n


# ------------------------------------------------------------------------------ naming


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str, limit: int = 60) -> str:
    """A file-system-safe form of a tag or table name (``'a b/c'`` → ``'a_b_c'``).

    >>> safe_name("train v1/../x"), safe_name("日本"), safe_name("..")
    ('train_v1_.._x', '_', '_')
    """
    name = _UNSAFE.sub("_", text)[:limit].lstrip(".-")
    return name or "_"


def folder_name(tag: str, version: int) -> str:
    """The folder of one export: the safe tag name and the version, which makes it unique
    (a dropped tag's exports stay, and a new tag may reuse the name).

    >>> folder_name("train-v1", 1715385600000000)
    'train-v1-1715385600000000'
    """
    return f"{safe_name(tag)}-{int(version)}"


def _file_names(tables: Sequence[str]) -> dict[str, str]:
    """``table`` → ``<safe name>.lance``, unique even on a case-insensitive file system."""
    taken: set[str] = set()
    out = {}
    for table in tables:
        base = safe_name(table)
        name, k = base, 1
        while name.lower() in taken:
            k += 1
            name = f"{base}-{k}"
        taken.add(name.lower())
        out[table] = f"{name}.lance"
    return out


# ------------------------------------------------------------------------------ planning


def plan_table(conn: apsw.Connection, table: str, version: int, file: str) -> TablePlan:
    """How to export ``table`` as of ``version`` (its schema then is its schema now: an export
    is made in the transaction that creates its tag)."""
    past = storage.version_at(conn, table, version)
    now = storage.current_of(conn, past.table_id) if past is not None else None
    if past is None or now is None:  # pragma: no cover - the caller lists tables that exist
        raise E.TableNotAtVersionError(f"table {table!r} did not exist at version {version}")
    info = {
        row[1].lower(): row
        for row in conn.execute("SELECT * FROM pragma_table_xinfo(?)", (now.name,))
    }
    declared_key = tuple(
        row[1] for row in sorted((r for r in info.values() if r[5]), key=lambda r: r[5])
    )
    embedded = {
        column.lower(): (embedder, dim)
        for column, embedder, dim in conn.execute(
            "SELECT column_name, embedder, dim FROM galaxlite_embedding_columns WHERE table_name = ?",
            (now.name,),
        )
    }
    columns = []
    for name, _ in past.columns:
        decl = info[name.lower()][2] or ""
        columns.append(_column(now.name, name, decl, embedded.get(name.lower())))
    if declared_key:
        key, order = declared_key, ", ".join(q(k) for k in declared_key)
    else:  # a rowid table without a declared key: select its rowid too, and order by it
        past = replace(past, columns=(*past.columns, (_KEY, "_gl_rowid")))
        now = replace(now, columns=(*now.columns, (now.key_columns[0], "_gl_rowid")))
        key, order = ("rowid",), q(_KEY)
    sub = storage.as_of_sql(
        past, now, version, storage.closed_since(conn, past, version),
        storage.ranges_after(conn, now, version),
    )
    columns = _settle_types(conn, now.name, sub, columns)
    _check_names(now.name, columns)
    select = ", ".join(q(c.name) for c in columns)
    return TablePlan(
        table=now.name,
        file=file,
        sql=f"SELECT {select} FROM {sub} AS _gl_export ORDER BY {order}",
        count_sql=f"SELECT count(*) FROM {sub}",
        columns=tuple(columns),
        key=key,
    )


def _column(table: str, name: str, decl: str, embedded: tuple[str, int] | None) -> Column:
    try:
        dim = V.parse_vector_type(decl)
    except ValueError as exc:
        raise E.DataError(f"table {table!r}, column {name!r}: {exc}") from None
    if dim is not None:
        return Column(name, "vector", dim=dim, declared=decl, embedder=embedded and embedded[0])
    if embedded is not None:
        return Column(name, "text", pa.string(), embedded[1], decl, embedded[0])
    return Column(name, "value", affinity_type(decl), declared=decl)


def _settle_types(conn: apsw.Connection, table: str, sub: str, columns: list[Column]) -> list[Column]:
    """Columns declared without a type, or NUMERIC, take the type of the values they hold
    (one scan for all of them); the others keep the type their declaration gives."""
    open_ = [c for c in columns if c.kind == "value" and c.type == pa.null()]
    if not open_:
        return columns
    kinds = ", ".join(f"group_concat(DISTINCT typeof({q(c.name)}))" for c in open_)
    found = next(conn.execute(f"SELECT {kinds} FROM {sub}"))
    types = {c.name: _type_of_values(table, c, seen) for c, seen in zip(open_, found, strict=True)}
    return [replace(c, type=types[c.name]) if c.name in types else c for c in columns]


def _type_of_values(table: str, column: Column, seen: str | None) -> pa.DataType:
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
    raise E.DataError(
        f"cannot export table {table!r}: column {column.name!r} (declared "
        f"{column.declared or 'without a type'!r}) mixes {', '.join(sorted(kinds))} values, "
        "which one Arrow column cannot hold; CAST them to one type first"
    )


def _check_names(table: str, columns: Sequence[Column]) -> None:
    names = {c.name.lower() for c in columns}
    for c in columns:
        extra = [TEXT_SUFFIX] if c.kind == "text" else []
        extra += [NORM_SUFFIX, IP_SUFFIX] if c.kind != "value" else []
        for suffix in extra:
            if (c.name + suffix).lower() in names:
                raise E.ProgrammingError(
                    f"cannot export table {table!r}: its column {c.name + suffix!r} has the name "
                    f"the export gives to a companion of column {c.name!r}; rename it"
                )


# ------------------------------------------------------------------------------ reading


def read_rows(
    conn: apsw.Connection, engine: SemanticEngine, plan: TablePlan
) -> Iterator[Rows]:
    """The rows of ``plan`` in blocks of ``plan.batch_rows``, decoded.

    Rows are taken from SQLite ``plan.fetch_rows`` at a time (about ``READ_BLOCK_BYTES``),
    so that the Python objects of a block are still in the CPU cache when their values are
    gathered into the arrays of the batch: three times less work than fetching a whole batch
    of rows first, for large vectors.
    """
    embedders = {
        c.name: EMB.get_embedder(c.embedder)
        for c in plan.columns if c.kind == "text"
    }
    batch_rows, fetch_rows = plan.batch_rows, plan.fetch_rows
    cursor = conn.execute(plan.sql)
    try:
        while True:
            gathers = [
                _VectorGather(plan.table, c, batch_rows) if c.kind == "vector" else []
                for c in plan.columns
            ]
            n = 0
            while n < batch_rows:
                block = list(itertools.islice(cursor, min(fetch_rows, batch_rows - n)))
                if not block:
                    break
                for gather, values in zip(gathers, zip(*block, strict=True), strict=True):
                    if isinstance(gather, list):
                        gather.extend(values)
                    else:
                        gather.add(values)
                n += len(block)
            if not n:
                return
            rows = Rows(n)
            for c, gather in zip(plan.columns, gathers, strict=True):
                if c.kind == "vector":
                    rows.vectors[c.name] = gather.finish(n)
                    continue
                rows.values[c.name] = _values(plan.table, c, gather)
                if c.kind == "text":
                    rows.vectors[c.name] = _text_vectors(engine, embedders[c.name], rows.values[c.name])
            yield rows
    finally:
        cursor.close()


def _values(table: str, column: Column, values: Sequence[Any]) -> pa.Array:
    try:
        return pa.array(values, type=column.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        kinds = sorted({type(v).__name__ for v in values if v is not None})
        raise E.DataError(
            f"cannot export table {table!r}: column {column.name!r} is declared "
            f"{column.declared or 'without a type'!r} (exported as {column.type}) but holds "
            f"{' and '.join(kinds)} values ({exc}); CAST or clean them first"
        ) from None


class _VectorGather:
    """The ``VECTOR(dim)`` BLOBs of one batch, gathered block by block into one float32
    matrix; NULLs are remembered and become zero rows (and a valid mask) at the end."""

    def __init__(self, table: str, column: Column, capacity: int):
        self.table, self.column = table, column
        self.matrix = np.empty((capacity, column.dim), dtype=np.float32)
        self.raw = memoryview(self.matrix).cast("B")
        self.count = 0  # non-NULL vectors so far
        self.valid: list[np.ndarray | int] = []  # per block: its mask, or its length if all valid

    def add(self, values: Sequence[Any]) -> None:
        dim = self.column.dim
        nulls = values.count(None)
        present = values if not nulls else [v for v in values if v is not None]
        try:  # a str of the right length would pass the length check, but not join()
            if set(map(len, present)) - {4 * dim}:
                raise ValueError
            joined = b"".join(present)
        except (TypeError, ValueError):
            self._refuse(present)
        start = 4 * dim * self.count
        self.raw[start : start + len(joined)] = joined
        self.count += len(present)
        self.valid.append(
            np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
            if nulls else len(values)
        )

    def _refuse(self, present: Sequence[Any]) -> None:
        dim = self.column.dim
        bad = next(v for v in present if not isinstance(v, bytes) or len(v) != 4 * dim)
        what = f"a BLOB of {len(bad)} bytes" if isinstance(bad, bytes) else f"a {type(bad).__name__} value"
        raise E.VectorDimensionError(
            f"cannot export table {self.table!r}: column {self.column.name!r} is VECTOR({dim}) "
            f"but holds {what}, not a {4 * dim}-byte float32 BLOB (written with CHECK constraints "
            "off?); fix or NULL it first",
            column=self.column.name, expected=dim,
            got=len(bad) // 4 if isinstance(bad, bytes) and len(bad) % 4 == 0 else None,
        )

    def finish(self, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        """float32 (n, dim) (zeros where NULL) and the valid mask (None: no NULL)."""
        compact = self.matrix[: self.count]
        if self.count == n:
            return compact, None
        valid = np.concatenate([np.ones(v, dtype=bool) if isinstance(v, int) else v for v in self.valid])
        out = np.zeros((n, self.column.dim), dtype=np.float32)
        out[valid] = compact
        return out, valid


def _text_vectors(
    engine: SemanticEngine, emb: Any, texts: pa.Array
) -> tuple[np.ndarray, np.ndarray | None]:
    """The embeddings of a block of texts: each distinct text looked up (or embedded) once."""
    encoded = texts.dictionary_encode()
    distinct = encoded.dictionary.to_pylist()
    matrix, _ = engine.text_vectors(emb, distinct) if distinct else (None, 0)
    indices = encoded.indices
    if not distinct:
        return np.zeros((len(texts), emb.dim), dtype=np.float32), np.zeros(len(texts), dtype=bool)
    if not indices.null_count:
        return np.ascontiguousarray(matrix[indices.to_numpy()], dtype=np.float32), None
    valid = indices.is_valid().to_numpy(zero_copy_only=False)
    out = matrix[indices.fill_null(0).to_numpy()]
    out[~valid] = 0.0
    return out, valid


# ------------------------------------------------------------------------------ encoding


@dataclass(frozen=True, slots=True)
class Encoder:
    """Turns decoded :class:`Rows` into record batches of the export's schema."""

    plan: TablePlan
    precision: str
    quantizers: dict[str, Any]  # column → Sq8Params / RabitqModel (none for float32)
    schema: pa.Schema

    def batch(self, rows: Rows) -> pa.RecordBatch:
        arrays = []
        for c in self.plan.columns:
            if c.kind == "value":
                arrays.append(rows.values[c.name])
                continue
            matrix, valid = rows.vectors[c.name]
            arrays += self._vector_arrays(c, matrix, valid)
            if c.kind == "text":
                arrays.append(rows.values[c.name])
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _vector_arrays(self, column: Column, matrix: np.ndarray, valid: np.ndarray | None) -> list[pa.Array]:
        n, dim = matrix.shape
        mask = None if valid is None else pa.array(~valid)
        if self.precision == "float32":
            values = pa.array(np.ascontiguousarray(matrix, dtype=np.float32).reshape(-1))
            return [pa.FixedSizeListArray.from_arrays(values, dim, mask=mask)]
        model = self.quantizers[column.name]
        if self.precision == "sq8":
            codes = Q.sq8_encode(model, matrix)
            return [pa.FixedSizeListArray.from_arrays(pa.array(codes.reshape(-1)), dim, mask=mask)]
        encoded = Q.rabitq_encode(model, matrix)
        bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
        nulls = 0 if valid is None else int(n - valid.sum())
        codes = pa.Array.from_buffers(
            pa.binary(model.code_bytes), n, [bitmap, pa.py_buffer(encoded.codes)], null_count=nulls
        )
        where_null = None if valid is None else ~valid
        return [codes, pa.array(encoded.norm, mask=where_null), pa.array(encoded.ip, mask=where_null)]


def export_schema(
    plan: TablePlan, precision: str, quantizers: dict[str, Any], metadata: dict
) -> pa.Schema:
    """The Arrow schema of ``plan``'s dataset, ``metadata`` (JSON) under ``galaxlite``."""
    fields = []
    for c in plan.columns:
        if c.kind == "value":
            fields.append(pa.field(c.name, c.type))
            continue
        if precision == "float32":
            fields.append(pa.field(c.name, pa.list_(pa.float32(), c.dim)))
        elif precision == "sq8":
            fields.append(pa.field(c.name, pa.list_(pa.uint8(), c.dim)))
        else:
            fields.append(pa.field(c.name, pa.binary(quantizers[c.name].code_bytes)))
            fields.append(pa.field(c.name + NORM_SUFFIX, pa.float32()))
            fields.append(pa.field(c.name + IP_SUFFIX, pa.float32()))
        if c.kind == "text":
            fields.append(pa.field(c.name + TEXT_SUFFIX, pa.string()))
    return pa.schema(fields, metadata={METADATA_KEY: json.dumps(metadata, sort_keys=True).encode()})


def describe(
    plan: TablePlan, *, tag: str, version: int, precision: str, seed: int | None,
    quantizers: dict[str, Any],
) -> dict:
    """The ``galaxlite`` metadata of a dataset (JSON-serialisable)."""
    columns = {}
    for c in plan.columns:
        if c.kind == "value":
            continue
        entry: dict[str, Any] = {
            "kind": "vector" if c.kind == "vector" else "text-embedding",
            "dim": c.dim,
            "declared_type": c.declared,
            "embedder": c.embedder,
            "stored": precision,
        }
        if c.kind == "text":
            entry["text_column"] = c.name + TEXT_SUFFIX
        if precision != "float32":
            entry["quantizer"] = quantizers[c.name].to_metadata()
        if precision == "rabitq":
            entry["norm_column"], entry["ip_column"] = c.name + NORM_SUFFIX, c.name + IP_SUFFIX
        columns[c.name] = entry
    order = (
        f"primary key ({', '.join(plan.key)})" if seed is None
        else f"np.random.default_rng([seed, {SHUFFLE_STREAM}]).permutation(rows) of the "
        f"primary-key order ({', '.join(plan.key)})"
    )
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tag": tag,
        "table": plan.table,
        "version": int(version),
        "precision": precision,
        "seed": seed,
        "order": order,
        "primary_key": list(plan.key),
        "columns": columns,
    }


# ------------------------------------------------------------------------------ content hash


class ContentHash:
    """The content hash of a dataset, independent of how its rows are batched.

    Per column: a hash of its validity (one byte per row), one of its non-null values as
    stored (little-endian; a vector's components in order), and for strings and binary one
    of the value lengths. The result hashes the column names, types and digests, and the
    ``columns`` part of the metadata (the quantizer parameters); not the tag, version or
    table name, so equal data gives an equal hash.
    """

    def __init__(self, schema: pa.Schema):
        self.schema = schema
        self.parts = [tuple(hashlib.new(HASH) for _ in range(3)) for _ in schema]

    def add(self, batch: pa.RecordBatch) -> None:
        for hashes, column in zip(self.parts, batch.columns, strict=True):
            _feed(hashes, column)

    def hexdigest(self) -> str:
        total = hashlib.new(HASH)
        meta = json.loads((self.schema.metadata or {}).get(METADATA_KEY, b"{}"))
        head = [[f.name, str(f.type)] for f in self.schema]
        total.update(json.dumps([head, meta.get("columns", {})], sort_keys=True).encode())
        for hashes in self.parts:
            for h in hashes:
                total.update(h.digest())
        return f"{HASH}:{total.hexdigest()}"


def _feed(hashes: tuple, array: pa.Array) -> None:
    valid_h, length_h, value_h = hashes
    if array.null_count:
        valid = array.is_valid()
        valid_h.update(valid.to_numpy(zero_copy_only=False).view(np.uint8).tobytes())
        array = array.filter(valid)
    else:
        valid_h.update(b"\x01" * len(array))
    kind = array.type
    if pa.types.is_null(kind) or not len(array):
        return
    if pa.types.is_fixed_size_list(kind):
        array = array.flatten()
        kind = array.type
    buffers, offset, n = array.buffers(), array.offset, len(array)
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        ends = np.frombuffer(buffers[1], dtype="<i4", count=n + 1, offset=4 * offset)
        length_h.update(np.diff(ends).astype("<i8").tobytes())
        if buffers[2] is not None:
            value_h.update(memoryview(buffers[2])[ends[0] : ends[-1]])
        return
    width = kind.byte_width
    value_h.update(memoryview(buffers[1])[offset * width : (offset + n) * width])


# ------------------------------------------------------------------------------ writing


def write_exports(
    conn: apsw.Connection,
    engine: SemanticEngine,
    exports_dir: Path,
    tables: Sequence[str],
    *,
    tag: str,
    version: int,
    precision: str,
    seed: int | None,
    progress: ProgressCallback | None = None,
) -> ExportResult:
    """Write every table of ``tables`` as of ``version`` under ``exports_dir``; atomic.

    Runs inside the caller's write transaction (which makes the reads consistent and keeps
    writers out). Returns the folder made; on any error nothing is left (the exports folder
    itself is removed again if this call created it and it is empty).
    """
    if precision not in PRECISIONS:
        raise E.QuantizationModeError(
            f"unknown training precision {precision!r}: use one of {', '.join(PRECISIONS)}"
        )
    created_root = not exports_dir.exists()
    final = exports_dir / folder_name(tag, version)
    work: Path | None = None
    renamed = False
    try:
        exports_dir.mkdir(parents=True, exist_ok=True)
        if final.exists():
            raise E.OperationalError(f"cannot export tag {tag!r}: {str(final)!r} exists already")
        work = Path(tempfile.mkdtemp(prefix=".galaxlite-export-", dir=exports_dir))
        (work / "export").mkdir()
        with mmap_reads(conn):
            files = _file_names(tables)
            plans = [plan_table(conn, t, version, files[t]) for t in tables]
            counter = _Progress(progress, sum(next(conn.execute(p.count_sql))[0] for p in plans)
                                if progress is not None else 0)
            written = tuple(
                _write_table(conn, engine, plan, work, tag=tag, version=version,
                             precision=precision, seed=seed, progress=counter)
                for plan in plans
            )
        os.rename(work / "export", final)
        renamed = True
        shutil.rmtree(work)
        return ExportResult(final.name, final, written, created_root)
    except BaseException:
        if renamed:
            shutil.rmtree(final, ignore_errors=True)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        if created_root:
            with contextlib.suppress(OSError):
                exports_dir.rmdir()
        raise


def discard(result: ExportResult) -> None:
    """Remove a written export again (its transaction did not commit)."""
    shutil.rmtree(result.path, ignore_errors=True)
    if result.made_root:
        with contextlib.suppress(OSError):
            result.path.parent.rmdir()  # only if empty


@contextlib.contextmanager
def mmap_reads(conn: apsw.Connection) -> Iterator[None]:
    """Read through mmap while exporting: SQLite then hands out pages without copying them
    into its cache (the scan of a large table reads each page once, from the OS cache)."""
    before = conn.pragma("mmap_size")
    conn.pragma("mmap_size", MMAP_BYTES)
    try:
        yield
    finally:
        conn.pragma("mmap_size", before)


class _Progress:
    """Calls the user's ``progress(done, total)`` as rows are handed to Lance."""

    def __init__(self, callback: ProgressCallback | None, total: int):
        self.callback, self.total, self.done = callback, total, 0
        if callback is not None:
            callback(0, total)

    def advance(self, rows: int) -> None:
        if self.callback is not None and rows:
            self.done += rows
            self.callback(self.done, self.total)


def _write_table(
    conn: apsw.Connection, engine: SemanticEngine, plan: TablePlan, work: Path, *,
    tag: str, version: int, precision: str, seed: int | None, progress: _Progress,
) -> Written:
    staged = None
    if precision == "float32" and seed is None:  # straight from SQLite to Lance
        quantizers: dict[str, Any] = {}

        def blocks() -> Iterator[Rows]:
            return read_rows(conn, engine, plan)
    else:
        staged = _stage_ahead(lambda: read_rows(conn, engine, plan), plan, work / "stage")
        quantizers = _fit(plan, staged, precision, seed)
        order = _row_order(staged.n, seed)

        def blocks() -> Iterator[Rows]:
            step = plan.batch_rows
            return (staged.rows(i, min(i + step, staged.n), order) for i in range(0, staged.n, step))

    meta = describe(plan, tag=tag, version=version, precision=precision, seed=seed,
                    quantizers=quantizers)
    encoder = Encoder(plan, precision, quantizers, export_schema(plan, precision, quantizers, meta))
    digest = ContentHash(encoder.schema)
    hashing = _InOrder(digest.add)  # hashes what Lance receives, in a thread of its own

    def batches() -> Iterator[pa.RecordBatch]:
        return (encoder.batch(rows) for rows in blocks())

    def handed(batch: pa.RecordBatch) -> None:
        hashing.submit(batch)
        progress.advance(batch.num_rows)

    target = work / "export" / plan.file
    try:
        rows = _write_lance(plan.table, encoder.schema, batches, target, handed)
    except BaseException:
        hashing.close()
        raise
    hashing.finish()
    if staged is not None:
        staged.close()
    return Written(plan.table, plan.file, rows, digest.hexdigest())


class _InOrder:
    """Runs ``work(item)`` for each submitted item in one background thread, in submission
    order, at most ``PREFETCH`` items behind; :meth:`finish` waits and raises its error.

    SHA-256 (hashlib) releases the GIL, so the content hash is computed while the reader
    thread reads SQLite and Lance writes: three streams of work on as many cores.
    """

    def __init__(self, work: Callable[[Any], None]):
        self.work = work
        self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="galaxlite-export")
        self.slots = threading.BoundedSemaphore(PREFETCH)
        self.futures: list[concurrent.futures.Future] = []

    def _run(self, item: Any) -> None:
        try:
            self.work(item)
        finally:
            self.slots.release()

    def submit(self, item: Any) -> None:
        self.slots.acquire()
        self.futures.append(self.pool.submit(self._run, item))

    def finish(self) -> None:
        self.pool.shutdown(wait=True)
        for future in self.futures:
            future.result()

    def close(self) -> None:
        """Stop without waiting for the rest (after an error elsewhere)."""
        self.pool.shutdown(wait=True, cancel_futures=True)


def _write_lance(
    table: str, schema: pa.Schema, make: Callable[[], Iterator[pa.RecordBatch]], target: Path,
    handed: Callable[[pa.RecordBatch], None],
) -> int:
    """Write the batches of ``make()`` to ``target``; returns the row count.

    Three threads: the reader makes the batches (``make`` runs there, with the database
    connection), Lance writes them in another, and this (the caller's) thread runs
    ``handed(batch)`` on each as Lance takes it — so a progress callback runs on the
    caller's thread, and Ctrl-C stops the export at once (everything is then removed).
    """
    import lance

    reader = _Prefetch(make)
    taken: queue.Queue = queue.Queue()
    outcome: list[BaseException] = []

    def write() -> None:
        try:
            lance.write_dataset(
                pa.RecordBatchReader.from_batches(schema, reader.consume(taken.put)),
                str(target), mode="create", **LANCE_OPTIONS,
            )
        except BaseException as exc:  # raised by the caller's thread below
            outcome.append(exc)
        finally:
            taken.put(_Prefetch.END)

    writer = threading.Thread(target=write, name="galaxlite-lance", daemon=True)
    try:
        writer.start()  # inside: Ctrl-C may come while start() waits for the thread
        while (batch := _get(taken)) is not _Prefetch.END:
            handed(batch)
    except BaseException:
        reader.close()
        if writer.ident is not None:
            writer.join()
        raise
    writer.join()
    reader.close()
    if outcome:
        if reader.failure is not None:  # ours (bad data, an embedder): as raised
            raise reader.failure from None
        text = str(outcome[0]).strip()
        first = text.splitlines()[0] if text else type(outcome[0]).__name__
        raise E.OperationalError(
            f"writing the training export of table {table!r} to {str(target)!r} failed: {first}"
        ) from None
    return reader.rows


def _get(source: queue.Queue) -> Any:
    """``source.get()``, waking up now and then so that Ctrl-C is seen at once."""
    while True:
        with contextlib.suppress(queue.Empty):
            return source.get(timeout=0.1)


class _Cancelled(Exception):
    """The export was given up (an error or Ctrl-C in the caller's thread): stop Lance."""


class _Prefetch:
    """Runs a batch generator in a thread, ``PREFETCH`` batches ahead of the consumer.

    SQLite (apsw) and the vector encoders release the GIL, so reading and building the next
    batches overlaps Lance writing the previous ones. The thread alone uses the database
    connection until :meth:`close` returns.
    """

    END = object()

    def __init__(self, make: Callable[[], Iterator[Any]]):
        self.queue: queue.Queue = queue.Queue(PREFETCH)
        self.stop = threading.Event()
        self.finished = threading.Event()
        # The thread claims the connection under this lock unless stop is already set: then
        # close() knows whether it must wait. (Ctrl-C during thread.start() leaves a thread
        # that is_alive() does not report yet, and that would still go on to use the
        # connection after close() returned.)
        self.claim = threading.Lock()
        self.claimed = False
        self.failure: BaseException | None = None
        self.rows = 0
        self.thread = threading.Thread(target=self._run, args=(make,), name="galaxlite-reader", daemon=True)
        try:
            self.thread.start()
        except BaseException:  # Ctrl-C while start() waits for the thread: the caller has no
            self.close()       # reader to close, so stop the thread here, off the connection
            raise

    def _put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, make: Callable[[], Iterator[Any]]) -> None:
        with self.claim:
            self.claimed = not self.stop.is_set()
        if not self.claimed:
            return
        source = None
        try:
            source = make()
            for item in source:
                if not self._put(item):
                    break
        except BaseException as exc:  # handed to the consumer, raised there
            self.failure = exc
        finally:
            if source is not None and hasattr(source, "close"):
                with contextlib.suppress(Exception):
                    source.close()  # finalize its cursor here, in the thread that used it
            self._put(self.END)
            self.finished.set()

    def consume(self, handed: Callable[[Any], None]) -> Iterator[Any]:
        """The items, in order (``handed(item)`` first), then the thread's error if any;
        :class:`_Cancelled` once :meth:`close` was called."""
        while True:
            if self.stop.is_set():
                raise _Cancelled
            with contextlib.suppress(queue.Empty):
                item = self.queue.get(timeout=0.05)
                if item is self.END:
                    break
                self.rows += item.num_rows
                handed(item)
                yield item
        if self.failure is not None:
            raise self.failure

    def close(self) -> None:
        """Stop the thread; on return, it no longer uses (or will ever use) the connection."""
        self.stop.set()
        with self.claim:
            claimed = self.claimed
        while claimed and not self.finished.is_set():
            with contextlib.suppress(queue.Empty):
                self.queue.get(timeout=0.05)


# ------------------------------------------------------------------------------ staging


class _Staged:
    """A table read into staging: value columns in memory, vectors in float32 files."""

    def __init__(self, n: int, values: dict[str, pa.Array],
                 vectors: dict[str, tuple[np.ndarray, np.ndarray | None]], folder: Path):
        self.n, self.values, self.vectors, self.folder = n, values, vectors, folder

    def rows(self, start: int, stop: int, order: np.ndarray | None) -> Rows:
        """Output rows ``start:stop``: the staged rows ``order[start:stop]``, or without an
        order the staged rows themselves — then views, not copies (the encoder reads the
        memory-mapped vectors in place)."""
        if order is None:
            return self._slice(start, stop)
        index = order[start:stop]
        rows = Rows(len(index))
        picks = pa.array(index)
        for name, array in self.values.items():
            rows.values[name] = array.take(picks)
        for name, (matrix, valid) in self.vectors.items():
            rows.vectors[name] = (matrix[index], None if valid is None else valid[index])
        return rows

    def _slice(self, start: int, stop: int) -> Rows:
        rows = Rows(stop - start)
        for name, array in self.values.items():
            rows.values[name] = array.slice(start, stop - start)
        for name, (matrix, valid) in self.vectors.items():
            rows.vectors[name] = (matrix[start:stop], None if valid is None else valid[start:stop])
        return rows

    def close(self) -> None:
        self.vectors.clear()
        shutil.rmtree(self.folder, ignore_errors=True)


def _stage(source: Iterator[Rows], plan: TablePlan, folder: Path) -> _Staged:
    folder.mkdir(exist_ok=True)
    value_chunks: dict[str, list[pa.Array]] = {}
    masks: dict[str, list[np.ndarray]] = {}
    files = {}
    n = 0
    try:
        for c in plan.columns:
            if c.kind != "vector":
                value_chunks[c.name] = []
            if c.kind != "value":
                files[c.name] = open(folder / f"{len(files)}.f32", "wb")  # noqa: SIM115
                masks[c.name] = []
        for rows in source:
            for name, array in rows.values.items():
                value_chunks[name].append(array)
            for name, (matrix, valid) in rows.vectors.items():
                files[name].write(np.ascontiguousarray(matrix, dtype="<f4").data)
                masks[name].append(np.ones(rows.n, dtype=bool) if valid is None else valid)
            n += rows.n
    finally:
        for f in files.values():
            f.close()
    types = {c.name: c.type for c in plan.columns}
    values = {
        name: pa.concat_arrays(chunks) if chunks else pa.array([], type=types[name])
        for name, chunks in value_chunks.items()
    }
    vectors = {}
    dims = {c.name: c.dim for c in plan.columns}
    for name, f in files.items():
        shape = (n, dims[name])
        matrix = np.memmap(f.name, dtype="<f4", mode="r", shape=shape) if n else np.zeros(shape, np.float32)
        valid = np.concatenate(masks[name]) if masks[name] else np.ones(0, dtype=bool)
        vectors[name] = (matrix, None if valid.all() else valid)
    return _Staged(n, values, vectors, folder)


def _stage_ahead(make: Callable[[], Iterator[Rows]], plan: TablePlan, folder: Path) -> _Staged:
    """:func:`_stage` of the rows of ``make()``, read by a :class:`_Prefetch` thread (SQLite
    reads the next rows while this thread writes the staging files)."""
    reader = _Prefetch(make)
    try:
        return _stage(reader.consume(lambda rows: None), plan, folder)
    finally:
        reader.close()


def _fit(plan: TablePlan, staged: _Staged, precision: str, seed: int | None) -> dict[str, Any]:
    """The quantizer of each vector column, fitted on all its (non-NULL) vectors."""
    if precision == "float32":
        return {}
    out = {}
    for name, (matrix, valid) in staged.vectors.items():
        if precision == "sq8":
            out[name] = _sq8_fit(matrix, valid)
        else:
            out[name] = Q.rabitq_fit(matrix if valid is None else matrix[valid], seed or 0)
    return out


def _sq8_fit(matrix: np.ndarray, valid: np.ndarray | None) -> Q.Sq8Params:
    """``sq8_fit`` of the valid rows of ``matrix``, ``FIT_ROWS`` at a time: the bounds are the
    same (min and max do not depend on grouping), without a copy of every valid row."""
    if valid is None:
        return Q.sq8_fit(matrix)
    parts = [
        Q.sq8_fit(matrix[i : i + FIT_ROWS][valid[i : i + FIT_ROWS]])
        for i in range(0, len(matrix), FIT_ROWS) if valid[i : i + FIT_ROWS].any()
    ]
    if not parts:
        return Q.sq8_fit(matrix[:0])
    return Q.Sq8Params(np.min([p.lo for p in parts], axis=0), np.max([p.hi for p in parts], axis=0))


def _row_order(n: int, seed: int | None) -> np.ndarray | None:
    """Positions of the primary-key-ordered rows, in the order they are written (None:
    primary-key order itself)."""
    if seed is None:
        return None
    return np.random.default_rng([seed, SHUFFLE_STREAM]).permutation(n)


# ------------------------------------------------------------------------------ reading exports


def read_metadata(path: str | Path) -> dict:
    """The ``galaxlite`` metadata of a training export (TrainingExportError if ``path`` is
    not one)."""
    return json.loads(_open(path)[1].schema.metadata[METADATA_KEY])


def _open(path: str | Path) -> tuple[dict, Any]:
    import lance

    try:
        dataset = lance.dataset(str(path))
    except (OSError, ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise E.TrainingExportError(f"cannot open {str(path)!r} as a Lance dataset: {first}") from None
    raw = (dataset.schema.metadata or {}).get(METADATA_KEY)
    try:
        meta = json.loads(raw) if raw is not None else None
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise E.TrainingExportError(
            f"{str(path)!r} is a Lance dataset but not a galaxlite training export "
            "(no 'galaxlite' schema metadata)"
        )
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise E.NotSupportedError(
            f"{str(path)!r} is a training export of format version {meta['format_version']}; "
            f"this galaxlite reads up to {FORMAT_VERSION}: upgrade galaxlite"
        )
    return meta, dataset


def training_batches(
    path: str | Path,
    *,
    batch_size: int = 1024,
    columns: Sequence[str] | None = None,
    rabitq_mode: str = "norm",
) -> Iterator[dict[str, np.ndarray]]:
    """The rows of a training export, ``batch_size`` at a time, as dicts of numpy arrays.

    Vector columns come back as float32 ``(rows, dim)`` whatever the stored precision (sq8
    and RaBitQ codes are decoded; ``rabitq_mode`` picks the RaBitQ decoder, see
    ``galaxlite.quantize``); a NULL vector is a row of NaN. The RaBitQ factor columns are
    consumed by the decoder and not returned. Other columns are numpy arrays as
    ``pyarrow.Array.to_numpy`` gives them (strings as objects; an integer column with NULLs
    as float64 with NaN). ``columns`` selects columns by name (default: all).

    >>> import tempfile, galaxlite
    >>> db = galaxlite.Database(tempfile.mkdtemp())
    >>> _ = db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v VECTOR(3))")
    >>> _ = db.execute("INSERT INTO t (v) VALUES (vector('[1, 2, 3]'))")
    >>> ts = db.create_training_snapshot("t1", precision="rabitq")
    >>> [(k, v.dtype, v.shape) for k, v in next(training_batches(db.training_dataset("t1"))).items()]
    [('id', dtype('int64'), (1,)), ('v', dtype('float32'), (1, 3))]
    >>> db.close()
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise E.ProgrammingError(f"batch_size must be a positive integer, not {batch_size!r}")
    if rabitq_mode not in Q.RABITQ_MODES:
        raise E.QuantizationModeError(
            f"unknown RaBitQ decode mode {rabitq_mode!r}: use one of {', '.join(Q.RABITQ_MODES)}"
        )
    meta, dataset = _open(path)
    vectors = meta["columns"]
    hidden = {c[k] for c in vectors.values() for k in ("norm_column", "ip_column") if k in c}
    names = [n for n in dataset.schema.names if n not in hidden]
    if columns is not None:
        unknown = [c for c in columns if c not in names]
        if unknown:
            raise E.TrainingExportError(
                f"no column {unknown[0]!r} in training export {str(path)!r} (it has: {', '.join(names)})"
            )
        names = list(columns)
    decoders = {name: _decoder(name, vectors[name], rabitq_mode) for name in names if name in vectors}
    read = [*names, *(x for n in decoders for x in (vectors[n].get("norm_column"), vectors[n].get("ip_column")) if x)]
    for batch in dataset.to_batches(columns=read, batch_size=batch_size):
        yield {
            name: decoders[name](batch) if name in decoders else batch.column(name).to_numpy(zero_copy_only=False)
            for name in names
        }


def _decoder(name: str, meta: dict, mode: str) -> Callable[[pa.RecordBatch], np.ndarray]:
    """A function from a record batch to the float32 ``(rows, dim)`` vectors of ``name``."""
    dim, stored = meta["dim"], meta["stored"]
    if stored == "float32":
        return lambda batch: _nan_nulls(batch.column(name), _fixed_rows(batch.column(name), dim, np.float32))
    if stored == "sq8":
        params = Q.Sq8Params.from_metadata(meta["quantizer"])
        return lambda batch: _nan_nulls(
            batch.column(name), Q.sq8_decode(params, _fixed_rows(batch.column(name), dim, np.uint8))
        )
    if stored == "rabitq":
        model = Q.RabitqModel.from_metadata(meta["quantizer"])

        def rabitq(batch: pa.RecordBatch) -> np.ndarray:
            array = batch.column(name)
            codes = np.frombuffer(array.buffers()[1], dtype=np.uint8, count=len(array) * model.code_bytes,
                                  offset=array.offset * model.code_bytes).reshape(len(array), model.code_bytes)
            norm = batch.column(meta["norm_column"]).fill_null(0.0).to_numpy()
            ip = batch.column(meta["ip_column"]).fill_null(1.0).to_numpy()
            return _nan_nulls(array, Q.rabitq_decode(model, Q.RabitqCodes(codes, norm, ip), mode))

        return rabitq
    raise E.NotSupportedError(f"column {name!r} is stored as {stored!r}, which this galaxlite cannot decode")


def _fixed_rows(array: pa.Array, dim: int, dtype: type) -> np.ndarray:
    """The child values of a fixed-size-list array as ``(rows, dim)`` (null rows included)."""
    flat = array.values.to_numpy(zero_copy_only=False)
    start = array.offset * dim
    return np.asarray(flat[start : start + len(array) * dim], dtype=dtype).reshape(len(array), dim)


def _nan_nulls(array: pa.Array, matrix: np.ndarray) -> np.ndarray:
    if not array.null_count:
        return matrix
    out = np.array(matrix, dtype=np.float32)
    out[array.is_null().to_numpy(zero_copy_only=False)] = np.nan
    return out


def content_hash(path: str | Path) -> str:
    """Recompute the content hash of a training export from its files (the value the catalog
    records, ``Database.exports()[i].content_hash``): a check that the data is intact."""
    _, dataset = _open(path)
    digest = ContentHash(dataset.schema)
    for batch in dataset.to_batches():
        digest.add(batch)
    return digest.hexdigest()


def torch_dataset(
    path: str | Path,
    *,
    batch_size: int | None = None,
    columns: Sequence[str] | None = None,
    rabitq_mode: str = "norm",
) -> Any:
    """A ``torch.utils.data.IterableDataset`` over a training export, vectors as float32
    tensors whatever the stored precision (decoded as in :func:`training_batches`).

    ``batch_size=None`` (default) yields one row at a time (a dict), for
    ``DataLoader(dataset, batch_size=32)``; an integer yields dicts of batched tensors of
    that many rows, for ``DataLoader(dataset, batch_size=None)``. Numeric columns become
    tensors, strings stay Python strings. With several DataLoader workers each reads every
    n-th batch; Lance is not fork-safe, so give the DataLoader
    ``multiprocessing_context="spawn"`` (or ``"forkserver"``) then. Needs PyTorch
    (``pip install torch``): OptionalDependencyError otherwise.
    """
    cls = _torch_class()
    read = 1024 if batch_size is None else batch_size
    next(training_batches(path, batch_size=read, columns=columns, rabitq_mode=rabitq_mode), None)
    return cls(str(path), batch_size, None if columns is None else list(columns), rabitq_mode)


def __getattr__(name: str) -> Any:
    # ``TrainingDataset`` exists once torch is imported; pickle (DataLoader workers started
    # with spawn) finds the class by this name.
    if name == "TrainingDataset":
        return _torch_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _torch_class() -> type:
    """The IterableDataset subclass, made on first use: torch stays optional."""
    try:
        import torch
    except ImportError:
        raise E.OptionalDependencyError(
            "torch_dataset() needs PyTorch, which is not installed: pip install torch "
            "(or read the export with galaxlite.export.training_batches, which needs only numpy)"
        ) from None

    def tensor(value: np.ndarray) -> Any:
        if value.dtype.kind not in "biuf":
            return value.tolist()
        return torch.from_numpy(value if value.flags.writeable else value.copy())

    class TrainingDataset(torch.utils.data.IterableDataset):
        """Rows (or batches) of a galaxlite training export, vectors as float32 tensors."""

        def __init__(self, path: str, batch_size: int | None, columns: list[str] | None, rabitq_mode: str):
            super().__init__()
            self.path, self.batch_size, self.columns, self.rabitq_mode = path, batch_size, columns, rabitq_mode

        def __iter__(self) -> Iterator[dict]:
            info = torch.utils.data.get_worker_info()
            batches = training_batches(
                self.path, batch_size=self.batch_size or 1024, columns=self.columns,
                rabitq_mode=self.rabitq_mode,
            )
            for i, batch in enumerate(batches):
                if info is not None and i % info.num_workers != info.id:
                    continue
                out = {name: tensor(value) for name, value in batch.items()}
                if self.batch_size is not None:
                    yield out
                    continue
                for r in range(len(next(iter(batch.values()))) if batch else 0):
                    yield {name: value[r] for name, value in out.items()}

    TrainingDataset.__module__, TrainingDataset.__qualname__ = __name__, "TrainingDataset"
    return TrainingDataset
