"""galaxlite: a single-file, versioned SQL database for ML training data, built on SQLite.

>>> import galaxlite
>>> db = galaxlite.Database(":memory:")
>>> db.execute("SELECT 42").fetchone()
(42,)
"""

from galaxlite import dbapi, errors
from galaxlite.database import Database as Database
from galaxlite.database import Result as Result
from galaxlite.database import Tag as Tag
from galaxlite.database import TrainingExport as TrainingExport
from galaxlite.dbapi import *  # noqa: F403 - the PEP 249 module surface (connect, types, ...)
from galaxlite.errors import *  # noqa: F403 - every galaxlite exception
from galaxlite.storage.snapshot_catalog import Snapshot as Snapshot

__version__ = "0.1.0"

# Readers of training exports (galaxlite.export), imported on first use: they need pyarrow.
_EXPORT_READERS = ("content_hash", "read_metadata", "torch_dataset", "training_batches")

__all__ = sorted({
    "Database", "Result", "Snapshot", "Tag", "TrainingExport", *_EXPORT_READERS,
    *dbapi.__all__, *errors.__all__,
})


def __getattr__(name: str):
    if name in _EXPORT_READERS:
        from galaxlite import export

        return getattr(export, name)
    raise AttributeError(f"module 'galaxlite' has no attribute {name!r}")
