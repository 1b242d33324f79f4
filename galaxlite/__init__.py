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
from galaxlite.dbapi import *  # noqa: F403 - the PEP 249 module surface (connect, types, ...)
from galaxlite.errors import *  # noqa: F403 - every galaxlite exception

__version__ = "0.1.0"

__all__ = sorted({"Database", "Result", "Tag", *dbapi.__all__, *errors.__all__})
