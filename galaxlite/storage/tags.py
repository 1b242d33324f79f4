"""Version tags and training-export records: the catalogs ``galaxlite_tags`` and
``galaxlite_exports`` read as small dataclasses.

A tag names one version; creating one copies nothing. Seeds of training exports are
uint64, SQLite stores int64: a seed of 2^63 or more is stored as ``seed - 2^64`` (the same
64 bits).

>>> seed_to_sql(2**64 - 1), seed_from_sql(-1)
(-1, 18446744073709551615)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import apsw

from galaxlite.storage.files import RemoteExports

SEED_BITS = 2**64


@dataclass(frozen=True, slots=True)
class Tag:
    """A version tag: ``name`` → ``version`` (µs since the epoch)."""

    name: str
    version: int
    created_us: int
    for_training: bool
    precision: str | None
    seed: int | None


@dataclass(frozen=True, slots=True)
class TrainingExport:
    """One table of a training export (``CREATE VERSION TAG ... FOR TRAINING``): a Lance
    dataset at ``path`` holding ``rows`` rows of ``table`` as of tag ``tag`` (``version``)."""

    tag: str
    version: int
    table: str
    path: str  # absolute
    precision: str
    seed: int | None
    rows: int
    content_hash: str  # "blake3:<hex>" ("sha256:<hex>" before), see galaxlite.content_hash
    created_us: int
    lance_version: int = 1  # the dataset's Lance version galaxlite wrote (its readers open it)


def seed_to_sql(seed: int | None) -> int | None:
    """A uint64 seed as the int64 SQLite stores."""
    return seed - SEED_BITS if seed is not None and seed >= SEED_BITS // 2 else seed


def seed_from_sql(seed: int | None) -> int | None:
    """The uint64 seed of a stored int64."""
    return None if seed is None else seed % SEED_BITS


def all_tags(conn: apsw.Connection) -> list[Tag]:
    """Every version tag, oldest first."""
    return [
        Tag(n, v, c, bool(t), p, seed_from_sql(s))
        for n, v, c, t, p, s in conn.execute(
            "SELECT name, version, created_us, for_training, precision, seed "
            "FROM galaxlite_tags ORDER BY version"
        )
    ]


def tag_version(conn: apsw.Connection, name: str) -> int | None:
    """The version of tag ``name``, None if there is none."""
    for (v,) in conn.execute("SELECT version FROM galaxlite_tags WHERE name = ?", (name,)):
        return v
    return None


def tag_exists(conn: apsw.Connection, name: str) -> bool:
    return tag_version(conn, name) is not None


def all_exports(
    conn: apsw.Connection, root: Path | RemoteExports | None, tag: str | None = None
) -> list[TrainingExport]:
    """The training exports (one record per exported table), oldest first; only those of
    tag name ``tag`` if given. Paths are made absolute against ``root``, the exports folder
    (URIs under an object store location)."""
    where, args = ("WHERE tag = ?", (tag,)) if tag is not None else ("", ())
    columns = {row[1] for row in conn.execute("SELECT * FROM pragma_table_info('galaxlite_exports')")}
    lance = "lance_version" if "lance_version" in columns else "1"  # a file not brought up to date yet

    def where_is(p: str) -> str:
        if isinstance(root, RemoteExports):
            return root.join(p)
        return str((root / p).absolute()) if root else p

    return [
        TrainingExport(t, v, n, where_is(p), pr,
                       seed_from_sql(s), r, h, c, lv)
        for t, v, n, p, pr, s, r, h, c, lv in conn.execute(
            "SELECT tag, version, table_name, path, precision, seed, row_count, content_hash, "
            f"created_us, {lance} FROM galaxlite_exports {where} ORDER BY rowid",  # as made
            args,
        )
    ]


def export_folders(conn: apsw.Connection) -> set[str]:
    """The folders (in the exports folder) that the catalog's exports are in."""
    return {p.split("/", 1)[0] for (p,) in conn.execute("SELECT path FROM galaxlite_exports")}


def tables_at(conn: apsw.Connection, version: int) -> list[str]:
    """Names (then) of the versioned tables that existed at ``version``: what an export of a
    tag of that version holds."""
    return [
        n for (n,) in conn.execute(
            "SELECT name FROM galaxlite_tables WHERE valid_from <= ? AND (valid_to IS NULL OR "
            "valid_to > ?) ORDER BY name", (version, version),
        )
    ]


def versioned_tables(conn: apsw.Connection) -> list[str]:
    """Names of the versioned tables that exist now."""
    return [
        n for (n,) in conn.execute(
            "SELECT name FROM galaxlite_tables WHERE valid_to IS NULL ORDER BY name"
        )
    ]


def no_tag_sees(rows: str) -> str:
    """SQL true for a row of ``rows`` (a table with ``valid_from``/``valid_to``) that no tag's
    version falls in: what ``PURGE HISTORY`` may delete (a range probe of ``UNIQUE (version)``).

    >>> no_tag_sees("h")
    'NOT EXISTS (SELECT 1 FROM galaxlite_tags AS g WHERE g.version >= h.valid_from AND g.version < h.valid_to)'
    """
    return (f"NOT EXISTS (SELECT 1 FROM galaxlite_tags AS g WHERE g.version >= {rows}.valid_from "
            f"AND g.version < {rows}.valid_to)")
