"""Encoding decoded rows into the record batches of an export, and the export's schema and metadata.

Precision of the vectors (:mod:`galaxlite.exports.quantize`):

* ``float32``: ``fixed_size_list<float32>[n]``;
* ``sq8``: ``fixed_size_list<uint8>[n]``, per-dimension bounds in the metadata (¼ the bytes);
* ``rabitq``: 1-bit RaBitQ codes ``fixed_size_binary[ceil(n/8)]`` plus float32 columns
  ``<col>__rabitq_norm`` and ``<col>__rabitq_ip``; the rotation is regenerated from the seed
  (``TRAINING SEED``, 0 without one) and the centroid is in the metadata (≤ 1/25 the bytes).

Row order: the primary key without a seed; with ``TRAINING SEED n``, the permutation
``np.random.default_rng([n, 2]).permutation(rows)`` of that order, so the same data and seed
give the same dataset. :func:`describe` writes all that into the dataset's ``galaxlite``
metadata (see :mod:`galaxlite.exports.layout`), which is how a reader decodes an export
without the database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from galaxlite.exports import quantize
from galaxlite.exports.layout import (
    FORMAT,
    FORMAT_VERSION,
    IP_SUFFIX,
    METADATA_KEY,
    NORM_SUFFIX,
    SHUFFLE_STREAM,
    TEXT_SUFFIX,
)
from galaxlite.exports.plan import ExportColumn, TablePlan
from galaxlite.exports.rows import Rows


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

    def _vector_arrays(self, column: ExportColumn, matrix: np.ndarray, valid: np.ndarray | None) -> list[pa.Array]:
        n, dim = matrix.shape
        mask = None if valid is None else pa.array(~valid)
        if self.precision == "float32":
            values = pa.array(np.ascontiguousarray(matrix, dtype=np.float32).reshape(-1))
            return [pa.FixedSizeListArray.from_arrays(values, dim, mask=mask)]
        model = self.quantizers[column.name]
        if self.precision == "sq8":
            codes = quantize.sq8_encode(model, matrix)
            return [pa.FixedSizeListArray.from_arrays(pa.array(codes.reshape(-1)), dim, mask=mask)]
        encoded = quantize.rabitq_encode(model, matrix)
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
