"""Reading training exports without the database: numpy batches, the hash (the torch
dataset is :mod:`galaxlite.exports.torch_reader`).

The dataset's schema metadata ``galaxlite`` (JSON) says what an export holds — tag, table,
version, precision, seed, order, and per vector column its kind, dimension, embedder and
quantizer parameters — so :func:`training_batches` decodes any export to float32 without the
database. :func:`content_hash` recomputes the hash recorded in the catalog from the files.

A training job reads an export on a machine that may not have the database: this module
imports neither apsw nor any module of the engine, only the export's layout, the
quantizers (numpy) and the content hash; Lance is imported when first used. An export may
live on an object store (``s3://...``): every reader takes Lance's ``storage_options``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from galaxlite import errors
from galaxlite.exports import quantize
from galaxlite.exports.hashing import ContentHash
from galaxlite.exports.layout import FORMAT, FORMAT_VERSION, METADATA_KEY


def read_metadata(path: str | Path, *, storage_options: dict | None = None) -> dict:
    """The ``galaxlite`` metadata of a training export (TrainingExportError if ``path`` is
    not one)."""
    return json.loads(open_export(path, storage_options)[1].schema.metadata[METADATA_KEY])


def open_export(path: str | Path, storage_options: dict | None = None) -> tuple[dict, Any]:
    """(metadata, Lance dataset) of the training export at ``path`` (a folder or an object
    store URI such as ``s3://bucket/prefix/...``, opened with Lance's ``storage_options``)."""
    import lance

    try:
        dataset = lance.dataset(str(path), storage_options=storage_options)
    except (OSError, ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise errors.TrainingExportError(f"cannot open {str(path)!r} as a Lance dataset: {first}") from None
    raw = (dataset.schema.metadata or {}).get(METADATA_KEY)
    try:
        meta = json.loads(raw) if raw is not None else None
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise errors.TrainingExportError(
            f"{str(path)!r} is a Lance dataset but not a galaxlite training export "
            "(no 'galaxlite' schema metadata)"
        )
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise errors.NotSupportedError(
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
    storage_options: dict | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """The rows of a training export, ``batch_size`` at a time, as dicts of numpy arrays.

    Vector columns come back as float32 ``(rows, dim)`` whatever the stored precision (sq8
    and RaBitQ codes are decoded; ``rabitq_mode`` picks the RaBitQ decoder, see
    ``galaxlite.exports.quantize``); a NULL vector is a row of NaN. The RaBitQ factor
    columns are consumed by the decoder and not returned. Other columns are numpy arrays as
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
        raise errors.ProgrammingError(f"batch_size must be a positive integer, not {batch_size!r}")
    meta, dataset = open_export(path, storage_options)
    read, decode = batch_decoder(path, meta, dataset, columns, rabitq_mode)
    for batch in dataset.to_batches(columns=read, batch_size=batch_size):
        yield decode(batch)


def batch_decoder(
    path: str | Path, meta: dict, dataset: Any, columns: Sequence[str] | None, rabitq_mode: str
) -> tuple[list[str], Callable[[pa.RecordBatch], dict[str, np.ndarray]]]:
    """(the stored columns to read, a function from a record batch of them to the dict
    :func:`training_batches` yields) for an export opened with :func:`open_export`."""
    if rabitq_mode not in quantize.RABITQ_MODES:
        raise errors.QuantizationModeError(
            f"unknown RaBitQ decode mode {rabitq_mode!r}: use one of {', '.join(quantize.RABITQ_MODES)}"
        )
    vectors = meta["columns"]
    hidden = {c[k] for c in vectors.values() for k in ("norm_column", "ip_column") if k in c}
    names = [n for n in dataset.schema.names if n not in hidden]
    if columns is not None:
        unknown = [c for c in columns if c not in names]
        if unknown:
            raise errors.TrainingExportError(
                f"no column {unknown[0]!r} in training export {str(path)!r} (it has: {', '.join(names)})"
            )
        names = list(columns)
    decoders = {name: _decoder(name, vectors[name], rabitq_mode) for name in names if name in vectors}
    read = [*names, *(x for n in decoders for x in (vectors[n].get("norm_column"), vectors[n].get("ip_column")) if x)]

    def decode(batch: pa.RecordBatch) -> dict[str, np.ndarray]:
        return {
            name: decoders[name](batch) if name in decoders else batch.column(name).to_numpy(zero_copy_only=False)
            for name in names
        }

    return read, decode


def _decoder(name: str, meta: dict, mode: str) -> Callable[[pa.RecordBatch], np.ndarray]:
    """A function from a record batch to the float32 ``(rows, dim)`` vectors of ``name``."""
    dim, stored = meta["dim"], meta["stored"]
    if stored == "float32":
        return lambda batch: _nan_nulls(batch.column(name), _fixed_rows(batch.column(name), dim, np.float32))
    if stored == "sq8":
        params = quantize.Sq8Params.from_metadata(meta["quantizer"])
        return lambda batch: _nan_nulls(
            batch.column(name), quantize.sq8_decode(params, _fixed_rows(batch.column(name), dim, np.uint8))
        )
    if stored == "rabitq":
        model = quantize.RabitqModel.from_metadata(meta["quantizer"])

        def rabitq(batch: pa.RecordBatch) -> np.ndarray:
            array = batch.column(name)
            codes = np.frombuffer(array.buffers()[1], dtype=np.uint8, count=len(array) * model.code_bytes,
                                  offset=array.offset * model.code_bytes).reshape(len(array), model.code_bytes)
            norm = batch.column(meta["norm_column"]).fill_null(0.0).to_numpy()
            ip = batch.column(meta["ip_column"]).fill_null(1.0).to_numpy()
            return _nan_nulls(array, quantize.rabitq_decode(model, quantize.RabitqCodes(codes, norm, ip), mode))

        return rabitq
    raise errors.NotSupportedError(f"column {name!r} is stored as {stored!r}, which this galaxlite cannot decode")


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


def content_hash(path: str | Path, *, storage_options: dict | None = None) -> str:
    """Recompute the content hash of a training export from its files (the value the catalog
    records, ``Database.exports()[i].content_hash``): a check that the data is intact."""
    _, dataset = open_export(path, storage_options)
    digest = ContentHash(dataset.schema)
    for batch in dataset.to_batches():
        digest.add(batch)
    return digest.hexdigest()
