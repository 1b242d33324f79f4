"""galaxlite: a single-file, versioned SQL database for ML training data, built on SQLite.

>>> import galaxlite
>>> db = galaxlite.Database(":memory:")
>>> db.execute("SELECT 42").fetchone()
(42,)
"""

from galaxlite import dbapi, errors
from galaxlite.database import Database as Database
from galaxlite.database import EmbeddingHealth as EmbeddingHealth
from galaxlite.database import Result as Result
from galaxlite.database import Tag as Tag
from galaxlite.database import TrainingExport as TrainingExport
from galaxlite.database import Verification as Verification
from galaxlite.dbapi import *  # noqa: F403 - the PEP 249 module surface (connect, types, ...)
from galaxlite.errors import *  # noqa: F403 - every galaxlite exception
from galaxlite.exports import content_hash as content_hash
from galaxlite.exports import decode as decode
from galaxlite.exports import decoder as decoder
from galaxlite.exports import read_metadata as read_metadata
from galaxlite.exports import torch_dataset as torch_dataset
from galaxlite.exports import training_batches as training_batches
from galaxlite.storage.snapshot_catalog import Snapshot as Snapshot

__version__ = "0.1.0"

__all__ = sorted({
    "Database", "EmbeddingHealth", "Result", "Snapshot", "Tag", "TrainingExport", "Verification",
    "content_hash", "decode", "decoder", "read_metadata", "torch_dataset", "training_batches",
    *dbapi.__all__, *errors.__all__,
})
