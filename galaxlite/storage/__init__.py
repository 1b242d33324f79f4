"""What lives in the file: the version clock, versioned tables and their past, the catalogs.

* ``clock`` — one strictly increasing µs version per committed transaction, kept in the
  file so that every client's triggers share it.
* ``table_versions`` — the schema versions of versioned tables (``galaxlite_tables``).
* ``tables`` — the storage of one versioned table (user's table, companion, ranges,
  history); ALTER / DROP keep the past readable.
* ``triggers`` — the versioning triggers that make every client's writes versioned.
* ``bulk`` — the trigger-free bulk-insert path.
* ``as_of`` — reading a table as it was at a version.
* ``tags`` — version tags and training-export records.
* ``declarations`` — the history of embedding declarations (what an export of a tag uses).

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
from galaxlite.storage.table_versions import (
    MAX_VERSION,
    TableVersion,
    current_of,
    current_version,
    first_version,
    is_intact,
    version_at,
)
from galaxlite.storage.tables import (
    alter_table,
    close_current_rows,
    drop_table,
    fill_companion,
    make_versioned,
    restart_current_rows,
)
from galaxlite.storage.triggers import refresh_insert_triggers

__all__ = [
    "MAX_INLINE_RANGES", "MAX_VERSION", "TableVersion", "alter_table", "as_of_sql", "bulk_append",
    "close_current_rows", "closed_since", "collations", "current_of", "current_version",
    "drop_table", "fill_companion", "first_version", "is_intact", "make_versioned", "refresh_insert_triggers", "ranges_after",
    "restart_current_rows", "version_at",
]
