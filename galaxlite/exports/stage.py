"""Staging a table before it is written: needed to shuffle its rows or to fit a quantizer.

Without a seed and at float32 the rows stream from SQLite into Lance. With a seed, or a
quantizer to fit, the table is staged first (read by a thread while the files are written):
vectors as float32 files in the temporary folder (memory-mapped), the other columns in
memory; the batches then gather the shuffled rows, or are views of the staged ones in key
order.

Quantizers are fitted on all the (non-NULL) vectors of a column (``quantize.Codec.fit``): sq8
bounds, RaBitQ with the rotation of the seed (0 without one). The shuffle is
``np.random.default_rng([seed, 2]).permutation(rows)`` of the primary-key order.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from galaxlite.exports import quantize
from galaxlite.exports.layout import SHUFFLE_STREAM
from galaxlite.exports.pipeline import Prefetch
from galaxlite.exports.plan import TablePlan
from galaxlite.exports.rows import Rows


class Staged:
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


def stage(source: Iterator[Rows], plan: TablePlan, folder: Path) -> Staged:
    """The rows of ``source`` (blocks of ``plan``'s table in key order), staged in ``folder``."""
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
    return Staged(n, values, vectors, folder)


def stage_ahead(make: Callable[[], Iterator[Rows]], plan: TablePlan, folder: Path) -> Staged:
    """:func:`stage` of the rows of ``make()``, read by a :class:`Prefetch` thread (SQLite
    reads the next rows while this thread writes the staging files)."""
    reader = Prefetch(make)
    try:
        return stage(reader.consume(lambda rows: None), plan, folder)
    finally:
        reader.close()


def fit_quantizers(plan: TablePlan, staged: Staged, precision: str, seed: int | None) -> dict[str, Any]:
    """The quantizer of each vector column, fitted on all its (non-NULL) vectors."""
    store = quantize.codec(precision)
    if not store.quantized:
        return {}
    return {name: store.fit(matrix, valid, seed) for name, (matrix, valid) in staged.vectors.items()}


def row_order(n: int, seed: int | None) -> np.ndarray | None:
    """Positions of the primary-key-ordered rows, in the order they are written (None:
    primary-key order itself)."""
    if seed is None:
        return None
    return np.random.default_rng([seed, SHUFFLE_STREAM]).permutation(n)
