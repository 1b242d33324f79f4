"""What lives in the file: the version clock, versioned tables and their past, the catalogs.

* ``clock`` — one strictly increasing µs version per committed transaction, kept in the
  file so that every client's triggers share it.
* ``tables`` — the storage of one versioned table (user's table, companion, ranges,
  history, triggers) and its schema versions; ALTER / DROP keep the past readable.
* ``bulk`` — the trigger-free bulk-insert path.
* ``as_of`` — reading a table as it was at a version.
* ``tags`` — version tags and training-export records.

The names below are this layer's public API; the modules above hold them.
"""

from galaxlite.storage.as_of import (
    MAX_INLINE_RANGES,
    as_of_sql,
    closed_since,
    collations,
    ranges_after,
)
from galaxlite.storage.bulk import bulk_append
from galaxlite.storage.tables import (
    MAX_VERSION,
    TableVersion,
    alter_table,
    close_current_rows,
    current_of,
    current_version,
    drop_table,
    fill_companion,
    first_version,
    is_intact,
    make_versioned,
    refresh_insert_triggers,
    restart_current_rows,
    version_at,
)

__all__ = [
    "MAX_INLINE_RANGES", "MAX_VERSION", "TableVersion", "alter_table", "as_of_sql", "bulk_append",
    "close_current_rows", "closed_since", "collations", "current_of", "current_version",
    "drop_table", "fill_companion", "first_version", "is_intact", "make_versioned", "refresh_insert_triggers", "ranges_after",
    "restart_current_rows", "version_at",
]
