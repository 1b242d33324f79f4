"""Encoding decoded rows into the record batches of an export, and the export's schema and metadata.

Precision of the vectors: see :mod:`galaxlite.exports.quantize.codecs` (float32 vectors under
the column's name; sq8 and RaBitQ codes as binary columns named for what they are, their
parameters in the metadata; the RaBitQ rotation is regenerated from the seed, ``TRAINING
SEED``, 0 without one).

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

import pyarrow as pa

from galaxlite.exports import quantize
from galaxlite.exports.layout import (
    FORMAT,
    FORMAT_VERSION,
    METADATA_KEY,
    SHUFFLE_STREAM,
    TEXT_SUFFIX,
)
from galaxlite.exports.plan import TablePlan
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
        store = quantize.codec(self.precision)
        for c in self.plan.columns:
            if c.kind == "value":
                arrays.append(rows.values[c.name])
                continue
            matrix, valid = rows.vectors[c.name]
            arrays += store.arrays(self.quantizers.get(c.name), matrix, valid)
            if c.kind == "text":
                arrays.append(rows.values[c.name])
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def export_schema(
    plan: TablePlan, precision: str, quantizers: dict[str, Any], metadata: dict
) -> pa.Schema:
    """The Arrow schema of ``plan``'s dataset, ``metadata`` (JSON) under ``galaxlite``."""
    store = quantize.codec(precision)
    fields = []
    for c in plan.columns:
        if c.kind == "value":
            fields.append(pa.field(c.name, c.type))
            continue
        fields += store.fields(c.name, c.dim, quantizers.get(c.name))
        if c.kind == "text":
            fields.append(pa.field(c.name + TEXT_SUFFIX, pa.string()))
    return pa.schema(fields, metadata={METADATA_KEY: json.dumps(metadata, sort_keys=True).encode()})


def describe(
    plan: TablePlan, *, tag: str, version: int, precision: str, seed: int | None,
    quantizers: dict[str, Any],
) -> dict:
    """The ``galaxlite`` metadata of a dataset (JSON-serialisable)."""
    store = quantize.codec(precision)
    columns = {}
    for c in plan.columns:
        if c.kind == "value":
            continue
        entry: dict[str, Any] = {
            "kind": "vector" if c.kind == "vector" else "text-embedding",
            "dim": c.dim,
            "declared_type": c.declared,
            "embedder": c.embedder,
            **store.describe(c.name, quantizers.get(c.name)),
        }
        if c.kind == "text":
            entry["text_column"] = c.name + TEXT_SUFFIX
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
