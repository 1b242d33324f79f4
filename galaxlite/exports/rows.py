"""Reading a table out of SQLite for an export: blocks of rows decoded into Arrow and numpy.

:func:`read_rows` runs :class:`~galaxlite.exports.plan.TablePlan`'s SQL and yields
:class:`Rows`: Arrow arrays for value and text columns, float32 matrices for vector columns
(``VECTOR(n)`` BLOBs gathered block by block) and for text columns with embeddings (each
distinct text of a block looked up in the file's embedding cache, or embedded now and cached).

Rows are taken from SQLite ``plan.fetch_rows`` at a time (about ``READ_BLOCK_BYTES``), so
that the Python objects of a block are still in the CPU cache when their values are gathered
into the arrays of the batch. While an export runs, SQLite reads the file through mmap
(:func:`mmap_reads`).

The reader runs in a thread of its own (:class:`galaxlite.exports.pipeline.Prefetch`), which
alone uses the database connection while the export runs.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import apsw
import numpy as np
import pyarrow as pa

from galaxlite import errors, semantic
from galaxlite.exports.plan import ExportColumn, TablePlan
from galaxlite.semantic.embedders import get_embedder

MMAP_BYTES = 1 << 40  # SQLite reads the file through mmap during an export (fewer copies)


@dataclass(slots=True)
class Rows:
    """A block of rows, decoded: Arrow arrays for value and text columns; for vector and text
    columns, float32 vectors ``(n, dim)`` and which rows have one (``None``: all)."""

    n: int
    values: dict[str, pa.Array] = field(default_factory=dict)
    vectors: dict[str, tuple[np.ndarray, np.ndarray | None]] = field(default_factory=dict)

    @property
    def num_rows(self) -> int:  # as a record batch's, for pipeline.Prefetch
        return self.n



def read_rows(
    conn: apsw.Connection, engine: semantic.SemanticEngine, plan: TablePlan
) -> Iterator[Rows]:
    """The rows of ``plan`` in blocks of ``plan.batch_rows``, decoded.

    Rows are taken from SQLite ``plan.fetch_rows`` at a time (about ``READ_BLOCK_BYTES``),
    so that the Python objects of a block are still in the CPU cache when their values are
    gathered into the arrays of the batch: three times less work than fetching a whole batch
    of rows first, for large vectors.
    """
    embedders = {
        c.name: get_embedder(c.embedder)
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


def _values(table: str, column: ExportColumn, values: Sequence[Any]) -> pa.Array:
    try:
        return pa.array(values, type=column.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        kinds = sorted({type(v).__name__ for v in values if v is not None})
        raise errors.DataError(
            f"cannot export table {table!r}: column {column.name!r} is declared "
            f"{column.declared or 'without a type'!r} (exported as {column.type}) but holds "
            f"{' and '.join(kinds)} values ({exc}); CAST or clean them first"
        ) from None


class _VectorGather:
    """The ``VECTOR(dim)`` BLOBs of one batch, gathered block by block into one float32
    matrix; NULLs are remembered and become zero rows (and a valid mask) at the end."""

    def __init__(self, table: str, column: ExportColumn, capacity: int):
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
        raise errors.VectorDimensionError(
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
    engine: semantic.SemanticEngine, emb: Any, texts: pa.Array
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
