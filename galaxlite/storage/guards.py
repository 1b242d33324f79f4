"""The catalogs' guards: how galaxlite's own statements get past them.

Every catalog (``galaxlite_tags``, ``galaxlite_exports``, ``galaxlite_tables``) refuses
writes from other clients (triggers in ``schema/catalog.sql``). galaxlite's statements
announce themselves with the ``galaxlite_meta`` row ``galaxlite_catalog_writer``, added and
removed inside their own transaction, so that no other connection ever sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import apsw

CATALOG_WRITER = "galaxlite_catalog_writer"
CATALOG_GUARDS = (
    "galaxlite_tags_no_insert", "galaxlite_tags_no_delete", "galaxlite_exports_no_insert",
    "galaxlite_exports_no_delete", "galaxlite_tables_no_insert", "galaxlite_tables_no_update",
    "galaxlite_tables_no_delete", "galaxlite_clock_forward", "galaxlite_clock_no_delete",
    "galaxlite_clock_no_insert",
)


@contextmanager
def catalog_writer(conn: apsw.Connection) -> Iterator[None]:
    """Open the catalogs' guards for the statements inside (in an open transaction)."""
    conn.execute("INSERT OR REPLACE INTO galaxlite_meta (key, value) VALUES (?, 1)", (CATALOG_WRITER,))
    try:
        yield
    finally:
        if conn.in_transaction:  # (a failed COMMIT-time check may have ended it)
            conn.execute("DELETE FROM galaxlite_meta WHERE key = ?", (CATALOG_WRITER,))


def missing_guards(conn: apsw.Connection) -> list[str]:
    """The catalog guards this file lacks (made by an older galaxlite, or dropped)."""
    have = {
        name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'galaxlite\\_%' ESCAPE '\\'"
        )
    }
    return [g for g in CATALOG_GUARDS if g not in have]
