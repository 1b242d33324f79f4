"""Reading training exports without the database: numpy batches, a torch dataset, the hash.

The dataset's schema metadata ``galaxlite`` (JSON) says what an export holds — tag, table,
version, precision, seed, order, and per vector column its kind, dimension, embedder and
quantizer parameters — so :func:`training_batches` decodes any export to float32 without the
database. :func:`content_hash` recomputes the hash recorded in the catalog from the files.

A training job reads an export on a machine that may not have the database: this module
imports neither apsw nor any module of the engine, only the export's layout, the
quantizers (numpy) and the content hash; Lance and torch are imported when first used.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from galaxlite import errors
from galaxlite.exports import quantize
from galaxlite.exports.decode import Decoder, schema_metadata
from galaxlite.exports.hashing import HASH, ContentHash, check_algorithm
from galaxlite.exports.layout import FORMAT, FORMAT_VERSION, LANCE_VERSION, METADATA_KEY


def read_metadata(
    path: str | Path, *, version: int | None = None, storage_options: dict | None = None
) -> dict:
    """The ``galaxlite`` metadata of a training export (TrainingExportError if ``path`` is
    not one)."""
    return open_export(path, storage_options, version)[0]


def open_export(
    path: str | Path, storage_options: dict | None = None, version: int | None = None
) -> tuple[dict, Any]:
    """(metadata, Lance dataset) of the training export at ``path`` (a folder or an object
    store URI such as ``s3://bucket/prefix/...``, opened with Lance's ``storage_options``),
    at Lance ``version`` (default: the version galaxlite wrote,
    :data:`~galaxlite.exports.layout.LANCE_VERSION`)."""
    import lance

    want = LANCE_VERSION if version is None else version
    try:
        dataset = lance.dataset(str(path), version=want, storage_options=storage_options)
    except (OSError, ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if Path(path).is_dir() and ("version" in first.lower() or "not found" in first.lower()):
            raise errors.TrainingExportError(
                f"{str(path)!r} has no Lance version {want} (the version the export was written "
                f"as): the dataset was overwritten or its old versions removed ({first})"
            ) from None
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


def decoder(source: Any, *, mode: str = "norm", storage_options: dict | None = None) -> Decoder:
    """A picklable callable that decodes the batches of one export (``source``: its path, its
    metadata, or an Arrow schema carrying it): ``ray.data.read_lance(path).map_batches(
    galaxlite.decoder(path))``, or the ``to_tensor_fn`` step of ``lance.torch``. See
    :mod:`galaxlite.exports.decode`."""
    if isinstance(source, str | Path):
        return Decoder(read_metadata(source, storage_options=storage_options), mode)
    return Decoder(source if isinstance(source, dict) else schema_metadata(source), mode)


def decode(batch: Any, metadata: Any = None, *, mode: str = "norm") -> Any:
    """``batch`` (a RecordBatch, Table or dict of numpy arrays of an export) with every vector
    column decoded to float32 under its own name, codes gone (see
    :mod:`galaxlite.exports.decode`). ``metadata``: the export's path or metadata, needed for a
    dict of numpy arrays (a batch read by Lance carries it)."""
    return decoder(schema_metadata(batch) if metadata is None else metadata, mode=mode)(batch)


def training_batches(
    path: str | Path,
    *,
    batch_size: int = 1024,
    columns: Sequence[str] | None = None,
    rabitq_mode: str = "norm",
    version: int | None = None,
    storage_options: dict | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """The rows of a training export, ``batch_size`` at a time, as dicts of numpy arrays.

    Vector columns come back as float32 ``(rows, dim)`` whatever the stored precision (sq8
    and RaBitQ codes are decoded; ``rabitq_mode`` picks the RaBitQ decoder, see
    ``galaxlite.exports.quantize``) and returned under the column's name; a NULL vector is a
    row of NaN. The code and factor columns are consumed by the decoder and not returned. Other columns are numpy arrays as
    ``pyarrow.Array.to_numpy`` gives them (strings as objects; an integer column with NULLs
    as float64 with NaN). ``columns`` selects columns by name (default: all). ``version``: the
    Lance version to read (default: the one galaxlite wrote; later ones are not the tag's).

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
    meta, dataset = open_export(path, storage_options, version)
    read, decode = batch_decoder(path, meta, dataset, columns, rabitq_mode)
    for batch in dataset.to_batches(columns=read, batch_size=batch_size):
        yield decode(batch)


def batch_decoder(
    path: str | Path, meta: dict, dataset: Any, columns: Sequence[str] | None, rabitq_mode: str
) -> tuple[list[str], Callable[[Any], dict[str, np.ndarray]]]:
    """(the stored columns to read, a function from a record batch of them to the dict
    :func:`training_batches` yields) for an export opened with :func:`open_export`."""
    if rabitq_mode not in quantize.RABITQ_MODES:
        raise errors.QuantizationModeError(
            f"unknown RaBitQ decode mode {rabitq_mode!r}: use one of {', '.join(quantize.RABITQ_MODES)}"
        )
    reader = Decoder(meta, rabitq_mode)
    names = reader.visible(dataset.schema.names)
    if columns is not None:
        unknown = [c for c in columns if c not in names]
        if unknown:
            raise errors.TrainingExportError(
                f"no column {unknown[0]!r} in training export {str(path)!r} (it has: {', '.join(names)})"
            )
        names = list(columns)
    return reader.stored(names), lambda batch: reader.numpy(batch, names)


def content_hash(
    path: str | Path, *, version: int | None = None, storage_options: dict | None = None,
    algorithm: str = HASH,
) -> str:
    """Recompute the content hash of a training export from its files (the value the catalog
    records, ``Database.exports()[i].content_hash``): a check that the data is intact.

    ``algorithm``: ``"blake3"`` (what exports record) or ``"sha256"`` (what exports written
    before recorded): the part of a recorded hash before its colon."""
    check_algorithm(algorithm)
    _, dataset = open_export(path, storage_options, version)
    digest = ContentHash(dataset.schema, algorithm)
    for batch in dataset.to_batches():
        digest.add(batch)
    return digest.hexdigest()
