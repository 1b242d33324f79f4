"""What the galaxlite page of Datasette shows, built from ``galaxlite.Database``'s public
catalog methods (no Datasette here, so it is tested on its own).

``galaxlite_page(db, url)`` gives the tags (with readable UTC times, and for each tag every
versioned table as it was: the galaxlite query and the plain SQLite query
``Database.plain_sql`` renders for it, which Datasette runs), the training exports, and the
dataset snapshots with their lineage (root → ... → the snapshot). ``url`` makes the links:
``url.query(sql)`` to Datasette's SQL page, ``url.view(name)`` to a snapshot's view.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Protocol

from galaxlite import Database, TableNotAtVersionError
from galaxlite.transpile import quote_identifier

BOOKKEEPING_PREFIXES = ("_gl_", "galaxlite_")  # tables Datasette does not list


class Links(Protocol):
    def query(self, sql: str) -> str: ...

    def view(self, name: str) -> str: ...


def when(version_us: int) -> str:
    """A µs version (or creation time) as UTC date and time.

    >>> when(1_700_000_000_000_001)
    '2023-11-14 22:13:20 UTC'
    """
    moment = datetime.datetime.fromtimestamp(version_us / 1e6, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class TableAsOf:
    table: str
    galaxlite_sql: str  # SELECT * FROM t AT VERSION 'tag'
    link: str  # Datasette's SQL page running the plain SQL of it


@dataclass
class TagEntry:
    name: str
    version: int
    created: str
    for_training: bool
    precision: str | None
    seed: int | None
    tables: list[TableAsOf] = field(default_factory=list)


@dataclass
class SnapshotEntry:
    name: str
    link: str
    parent: str | None
    mode: str
    rows: int
    published: bool
    archived: bool
    created: str
    comment: str | None
    statements: list[str]
    lineage: list[tuple[str, str]]  # (name, link), root first, the snapshot last


@dataclass
class Page:
    tags: list[TagEntry]
    exports: list[dict]
    snapshots: list[SnapshotEntry]
    tables: list[str]


def galaxlite_page(db: Database, url: Links) -> Page:
    """Everything the galaxlite page of one database shows."""
    tables = db.versioned_tables()
    tags = []
    for tag in db.tags():
        entry = TagEntry(tag.name, tag.version, when(tag.version), tag.for_training,
                         tag.precision, tag.seed)
        literal = "'" + tag.name.replace("'", "''") + "'"
        for table in tables:
            sql = f"SELECT * FROM {quote_identifier(table)} AT VERSION {literal}"
            try:
                plain = db.plain_sql(sql)
            except TableNotAtVersionError:
                continue  # made after the tag
            entry.tables.append(TableAsOf(table, sql, url.query(plain)))
        tags.append(entry)
    exports = [
        {"tag": e.tag, "table": e.table, "rows": e.rows, "precision": e.precision,
         "seed": e.seed, "content hash": e.content_hash, "dataset": e.path}
        for e in db.exports()
    ]
    snapshots = []
    for s in db.snapshots():
        chain = db.lineage(s.name)
        snapshots.append(SnapshotEntry(
            s.name, url.view(s.name), s.parent, s.mode, s.row_count, s.published, s.archived,
            f"{s.created[:19]} UTC", s.comment, list(s.statements),
            [(c.name, url.view(c.name)) for c in chain]))
    return Page(tags, exports, snapshots, tables)
