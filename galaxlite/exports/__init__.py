"""Training exports: the tables of a version tag as Lance datasets, and their reader.

``CREATE VERSION TAG 'x' FOR TRAINING [WITH TRAINING PRECISION p] [TRAINING SEED n]`` (and
``Database.create_training_snapshot``) creates the tag and, in the same write transaction,
calls :func:`write_exports`: every versioned table, read ``AT VERSION`` the tag, becomes one
Lance dataset::

    <exports folder>/<tag>-<version>/<table>.lance

The files go to a temporary folder inside the exports folder first, which is renamed when
every table is complete; any failure removes it, and the caller rolls the tag back.

A ``VECTOR(n)`` column becomes a fixed-size vector, a text column with embeddings the vector
of its embedder (its text moves to ``<col>__text``), every other column keeps an Arrow type.
Vectors are stored at the tag's precision: ``float32``, ``sq8`` (¼ the bytes), 1-bit
``rabitq`` (≤ 1/25 the bytes) or ``rabitq2`` … ``rabitq8``, codes under names of their own
(see :mod:`galaxlite.exports.quantize.codecs`). Rows are in primary-key order, or shuffled by
``TRAINING SEED``. The dataset's schema metadata ``galaxlite`` says all that, so
:func:`training_batches` decodes any export to float32 without the database, and
:func:`content_hash` recomputes the hash recorded in the catalog from the files.

The package, in the order the data flows:

* :mod:`~galaxlite.exports.layout`: folder, file and column names, the metadata key;
* :mod:`~galaxlite.exports.plan`: a table's columns, their Arrow types, the SQL reading it;
* :mod:`~galaxlite.exports.rows`: reading the rows out of SQLite, decoded;
* :mod:`~galaxlite.exports.stage`: staging a table to shuffle it or fit a quantizer;
* :mod:`~galaxlite.exports.quantize`: sq8 and RaBitQ (numpy only);
* :mod:`~galaxlite.exports.encode`: record batches, the schema and its metadata;
* :mod:`~galaxlite.exports.hashing`: the content hash;
* :mod:`~galaxlite.exports.pipeline`: the threads (a prefetching reader, an in-order worker);
* :mod:`~galaxlite.exports.leftovers`: locked work folders, and cleaning up after a killed export;
* :mod:`~galaxlite.exports.write`: writing an export, all or nothing;
* :mod:`~galaxlite.exports.decode`: float32 vectors from any reader's batches;
* :mod:`~galaxlite.exports.read`: reading one (no apsw, no engine module);
* :mod:`~galaxlite.exports.torch_reader`: a PyTorch dataset over one, sharded by rank and
  DataLoader worker, reshuffled per epoch;
* :mod:`~galaxlite.exports.arrow`: query results as Arrow tables, Arrow tables as rows.

>>> import tempfile, galaxlite, numpy as np
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

from galaxlite.exports.decode import Decoder
from galaxlite.exports.hashing import ContentHash
from galaxlite.exports.leftovers import clean as clean_leftovers
from galaxlite.exports.read import content_hash, decode, decoder, read_metadata, training_batches
from galaxlite.exports.torch_reader import shard_rows, torch_dataset
from galaxlite.exports.write import (
    ExportResult,
    ProgressCallback,
    Written,
    discard,
    finish,
    write_exports,
)

__all__ = [
    "ContentHash",
    "Decoder",
    "ExportResult",
    "ProgressCallback",
    "Written",
    "clean_leftovers",
    "content_hash",
    "decode",
    "decoder",
    "discard",
    "finish",
    "read_metadata",
    "shard_rows",
    "torch_dataset",
    "training_batches",
    "write_exports",
]
