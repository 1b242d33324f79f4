"""Schema versions of versioned tables: ``TableVersion`` (a row of ``galaxlite_tables``),
reading and recording them.

>>> TableVersion(1, "t", 10, None, "_gl_h1", "_gl_c1", ("rowid",), (("a", "h0"),)).prefix
'_gl_t1'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import apsw

MAX_VERSION = 2**63 - 1


@dataclass(frozen=True, slots=True)
class TableVersion:
    """One schema version of a versioned table (a row of ``galaxlite_tables``)."""

    table_id: int
    name: str
    valid_from: int
    valid_to: int | None
    history: str
    companion: str
    key_columns: tuple[str, ...]  # ("rowid",) or the WITHOUT ROWID primary key
    columns: tuple[tuple[str, str], ...]  # (user column name, history column)

    @property
    def rowid_table(self) -> bool:
        return self.key_columns in (("rowid",), ("_rowid_",), ("oid",))

    @property
    def prefix(self) -> str:
        return f"_gl_t{self.table_id}"

    @property
    def stash(self) -> str:
        """The versions a plain client's insert is about to replace (see versioned.sql)."""
        return f"_gl_p{self.table_id}"

    @property
    def ranges(self) -> str:
        """Rowid ranges appended by bulk inserts, with their valid_from (rowid tables)."""
        return f"_gl_r{self.table_id}"

    def history_column(self, name: str) -> str | None:
        return next((h for n, h in self.columns if n.lower() == name.lower()), None)


SELECT_VERSION = (
    "SELECT table_id, name, valid_from, valid_to, history, companion, key_columns, columns "
    "FROM galaxlite_tables "
)


def version_of_row(row) -> TableVersion:
    tid, name, vf, vt, hist, comp, keys, cols = row
    return TableVersion(
        tid, name, vf, vt, hist, comp, tuple(json.loads(keys)), tuple(map(tuple, json.loads(cols)))
    )


def current_version(conn: apsw.Connection, name: str) -> TableVersion | None:
    """The schema in force of versioned table ``name``; None if it is not versioned."""
    for row in conn.execute(
        SELECT_VERSION + "WHERE name = ? COLLATE NOCASE AND valid_to IS NULL", (name,)
    ):
        return version_of_row(row)
    return None


def version_at(conn: apsw.Connection, name: str, version: int) -> TableVersion | None:
    """The schema of table ``name`` as of ``version``; None if it did not exist then."""
    for row in conn.execute(
        SELECT_VERSION + "WHERE name = ? COLLATE NOCASE AND valid_from <= ? "
        "AND (valid_to IS NULL OR valid_to > ?) ORDER BY valid_from DESC LIMIT 1",
        (name, version, version),
    ):
        return version_of_row(row)
    return None


def current_versions(conn: apsw.Connection) -> list[TableVersion]:
    """The schema in force of every versioned table the catalog lists as existing."""
    return [version_of_row(row) for row in conn.execute(SELECT_VERSION + "WHERE valid_to IS NULL ORDER BY name")]


def current_of(conn: apsw.Connection, table_id: int) -> TableVersion | None:
    """The schema in force of the table with this id (None once it was dropped)."""
    for row in conn.execute(
        SELECT_VERSION + "WHERE table_id = ? AND valid_to IS NULL", (table_id,)
    ):
        return version_of_row(row)
    return None


def is_intact(conn: apsw.Connection, tv: TableVersion) -> bool:
    """Does the user's table of ``tv`` still exist with its versioning triggers? (A client
    that bypassed galaxlite — a plain DROP TABLE, a rebuild by create-copy-drop-rename —
    leaves the catalog saying the table is versioned when it no longer is.)"""
    if not conn.table_exists("main", tv.name):
        return False
    (found,) = next(conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?) "
        "AND tbl_name = ? COLLATE NOCASE",
        (f"{tv.prefix}_au", f"{tv.prefix}_ad", tv.name),
    ))
    return found == 2


def first_version(conn: apsw.Connection, name: str) -> int | None:
    """When a versioned table of this name first appeared (for error messages)."""
    for (vf,) in conn.execute(
        "SELECT min(valid_from) FROM galaxlite_tables WHERE name = ? COLLATE NOCASE", (name,)
    ):
        return vf
    return None


def record_version(conn: apsw.Connection, tv: TableVersion) -> None:
    # Several schema changes in one transaction share its version: only the last one counts.
    conn.execute(
        "DELETE FROM galaxlite_tables WHERE table_id = ? AND valid_from = ?",
        (tv.table_id, tv.valid_from),
    )
    conn.execute(
        "UPDATE galaxlite_tables SET valid_to = ? WHERE table_id = ? AND valid_to IS NULL",
        (tv.valid_from, tv.table_id),
    )
    conn.execute(
        "INSERT INTO galaxlite_tables (table_id, name, valid_from, valid_to, history, companion, "
        "key_columns, columns) VALUES (?, ?, ?, NULL, ?, ?, ?, ?)",
        (
            tv.table_id,
            tv.name,
            tv.valid_from,
            tv.history,
            tv.companion,
            json.dumps(list(tv.key_columns)),
            json.dumps([list(c) for c in tv.columns]),
        ),
    )


def table_columns(conn: apsw.Connection, name: str) -> list[tuple[str, int]]:
    """(name, pk position) of every column of ``name``, generated ones included."""
    return [
        (row[1], row[5])
        for row in conn.execute("SELECT * FROM pragma_table_xinfo(?)", (name,))
        if row[6] in (0, 2, 3)
    ]


def rowid_alias(column_names: Sequence[str]) -> str | None:
    """The first of rowid, _rowid_, oid that no column of ``column_names`` shadows (None:
    all three are columns, and the rows cannot be addressed by rowid).

    >>> rowid_alias(["a", "ROWID"]), rowid_alias(["rowid", "_rowid_", "oid"])
    ('_rowid_', None)
    """
    taken = {c.lower() for c in column_names}
    return next((a for a in ("rowid", "_rowid_", "oid") if a not in taken), None)
