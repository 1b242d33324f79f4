"""The dataset-snapshot catalog read as records, and the SQL of a snapshot's rows.

The catalog is the plain table ``db4ai_snapshot`` (schema/snapshots.sql). Each snapshot is
a real SQLite view named ``<prefix><delimiter><version>`` ("m0@1.0.0"), plain SQL that any
client can read. Its rows live in one of two storage models, chosen by
``db4ai_snapshot_mode`` when it is made:

* MSS — table ``_gl_s<id>``, the snapshot's rows under the user's column names.
* CSS — one *matrix* table ``_gl_m<id>`` per lineage: a row id ``_gl_rid``, physical
  columns ``f1, f2, ...`` and membership marks. A snapshot is the rows up to its ``top``
  row id that none of its (and its ancestors') exclusion bits mark and that all its
  inclusion flags ``_s<id>`` mark: the view is ``SELECT f3 AS "a", ... FROM _gl_m1 WHERE
  _gl_rid <= 1020 AND (_gl_x0 & 5) = 0`` (``source_sql``; how a version writes the matrix
  is ``galaxlite.snapshots.css``).

``name@version`` in a statement reads the storage directly (``(SELECT ... FROM _gl_s3)``,
``view_of``), so a dropped or replaced view does not change it; in a definition SQLite
keeps (CREATE VIEW / TRIGGER) it names the view, which a PURGE drops: such a definition
then fails instead of reading storage the purge changed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import apsw

from galaxlite import errors as E
from galaxlite.storage.snapshot_names import (
    NAMING,
    SCHEMA,
    Settings,
    error_at,
    made_otherwise,
    qualified,
    settings_in_force,
    written,
)
from galaxlite.storage.table_versions import rowid_alias
from galaxlite.transpile import plan as P
from galaxlite.transpile import quote_identifier as q

OPERATIONS = ("INSERT", "UPDATE", "DELETE", "ALTER")
MAX_ARGS = 100  # flags per min(...) call (SQLite allows 127 function arguments)


# ---------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class SnapshotColumn:
    """One column of a snapshot: its ``name``, the ``physical`` column holding it in the
    storage table, and its ``definition`` (declared type, or the ALTER ADD text)."""

    name: str
    physical: str
    definition: str = ""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A dataset snapshot (a row of the catalog ``db4ai_snapshot``).

    ``name`` is the full name (``"m0@1.1.0"``), ``version`` the part after the delimiter;
    ``parent`` / ``root`` are the full names of its parent (None for a root) and of its
    lineage's root. ``commands`` is the lineage recipe in openGauss's encoding; ``statements``
    the same as readable statements.
    """

    id: int
    name: str
    version: str
    parent: str | None
    root: str | None
    published: bool
    archived: bool
    row_count: int
    mode: str  # "MSS" | "CSS"
    created: str  # UTC "YYYY-MM-DD HH:MM:SS.ffffff"
    comment: str | None
    commands: tuple[str, ...]
    schema: str = SCHEMA
    prefix: str = ""
    owner: str = ""
    parent_id: int | None = None
    root_id: int | None = None
    matrix_id: int | None = None
    storage: str = ""  # _gl_s<id> (MSS) or the matrix _gl_m<matrix_id> (CSS)
    columns: tuple[SnapshotColumn, ...] = ()
    # CSS: the snapshot is the matrix rows with _gl_rid <= top, with none of the exclusion
    # bits ``masks`` ((column, bits) pairs) set and all inclusion ``flags`` (columns) at 1;
    # the marks of its CSS ancestors in the matrix included
    top: int | None = None
    flags: tuple[str, ...] = ()
    masks: tuple[tuple[str, int], ...] = ()

    @property
    def statements(self) -> list[str]:
        """``commands`` as statements.

        >>> Snapshot(1, "m@2.0.0", "2.0.0", "m@1.0.0", "m@1.0.0", False, False, 1, "MSS", "",
        ...          None, ("ALTER", "ADD c int", "DELETE", "WHERE c > 2")).statements
        ['ALTER ADD c int', 'DELETE WHERE c > 2']
        """
        return statements_of(self.commands)


def statements_of(commands: Sequence[str]) -> list[str]:
    """openGauss's flat command pieces as one string per statement."""
    out: list[str] = []
    for piece in commands:
        if not piece:
            continue
        if not out or piece in OPERATIONS or piece.startswith("SAMPLE "):
            out.append(piece)
        else:
            out[-1] += " " + piece
    return out


# ---------------------------------------------------------------------- queries


_SELECT = (
    "SELECT s.id, s.name, s.version, p.name, r.name, s.published, s.archived, s.row_count, "
    "s.mode, s.created, s.comment, s.commands, s.schema, s.prefix, s.owner, s.parent_id, "
    "s.root_id, s.matrix_id, s.storage, s.columns, s.membership FROM db4ai_snapshot AS s "
    "LEFT JOIN db4ai_snapshot AS p ON p.id = s.parent_id "
    "LEFT JOIN db4ai_snapshot AS r ON r.id = s.root_id "
)


def _snapshot(row: tuple) -> Snapshot:
    (i, name, version, parent, root, pub, arch, count, mode, created, comment, commands, schema,
     prefix, owner, parent_id, root_id, matrix_id, storage, columns, membership) = row
    member = json.loads(membership) if membership else {"top": None, "flags": (), "masks": {}}
    return Snapshot(
        i, name, version, parent, root, bool(pub), bool(arch), count, mode, created, comment,
        tuple(json.loads(commands)), schema, prefix, owner, parent_id, root_id, matrix_id,
        storage, tuple(SnapshotColumn(*c) for c in json.loads(columns)), member["top"],
        tuple(member["flags"]), tuple(sorted(member["masks"].items())),
    )


def find(conn: apsw.Connection, name: str, schema: str = SCHEMA) -> Snapshot | None:
    """The snapshot of this full name (case-insensitive, like SQLite names), or None."""
    for row in conn.execute(_SELECT + "WHERE s.schema = ? AND s.name = ?", (schema, name)):
        return _snapshot(row)
    return None


def all_snapshots(conn: apsw.Connection) -> list[Snapshot]:
    """Every snapshot, oldest first."""
    return [_snapshot(row) for row in conn.execute(_SELECT + "ORDER BY s.id")]


def by_id(conn: apsw.Connection, snapshot_id: int) -> Snapshot:
    """The snapshot of catalog id ``snapshot_id`` (which exists)."""
    return _snapshot(next(conn.execute(_SELECT + "WHERE s.id = ?", (snapshot_id,))))


def lineage(conn: apsw.Connection, name: str) -> list[Snapshot]:
    """The chain root → ... → snapshot ``name`` (full name; ``main.`` may precede it)."""
    snap = find(conn, name)
    if snap is None and name.lower().startswith(SCHEMA + "."):
        snap = find(conn, name[len(SCHEMA) + 1 :])
    if snap is None:
        raise E.UnknownSnapshotError(f"snapshot {qualified(SCHEMA, name)} does not exist")
    chain = [snap]
    while chain[-1].parent_id is not None:
        chain.append(by_id(conn, chain[-1].parent_id))
    return chain[::-1]


def lookup(
    conn: apsw.Connection, plan: P.Plan, name: P.SnapshotName, s: Settings,
    what: str = "snapshot",
) -> Snapshot:
    """The existing snapshot ``name@version`` names (UnknownSnapshotError if none)."""
    schema, full = written(plan, name, s)
    snap = find(conn, full, schema)
    if snap is None:
        raise error_at(
            E.UnknownSnapshotError, f"{what} {qualified(schema, full)} does not exist", plan,
            name.position, hint=made_otherwise(conn, name),
        )
    return snap


# ---------------------------------------------------------------------- the SQL of the rows


def free_rowid(names: Sequence[str]) -> str:
    """A name of the rowid that none of a snapshot's columns ``names`` shadows."""
    alias = rowid_alias(names)
    if alias is None:
        raise E.NotSupportedError(
            "a snapshot with columns named rowid, _rowid_ and oid cannot be processed "
            "(its rows cannot be addressed): rename one of them"
        )
    return alias


def passes(flags: Sequence[str], masks: Mapping[str, int], table: str = "") -> str:
    """SQL true for matrix rows with no bit of ``masks`` set and every flag at 1 (flags
    ``min``-ed 100 at a time: SQLite limits expression depth and function arguments).

    >>> passes(["_s3"], {"_gl_x0": 5}, "m.")
    '(m._gl_x0 & 5) = 0 AND m._s3'
    """
    parts = [f"({table}{col} & {int(bits)}) = 0" for col, bits in sorted(masks.items())]
    cols = [f"{table}{f}" for f in flags]
    if len(cols) <= MAX_ARGS:
        parts += cols
    else:
        parts += [f"min({', '.join(cols[i : i + MAX_ARGS])})"
                  for i in range(0, len(cols), MAX_ARGS)]
    return " AND ".join(parts) or "1"


def member(snap: Snapshot, table: str = "") -> str:
    """SQL true for the matrix rows of CSS snapshot ``snap``."""
    rest = passes(snap.flags, dict(snap.masks), table)
    return f"{table}_gl_rid <= {int(snap.top)}" + ("" if rest == "1" else f" AND {rest}")


def source_sql(snap: Snapshot, rowid: bool = False) -> str:
    """``SELECT <columns> FROM <storage> [WHERE <membership>]``: the snapshot's rows (the body
    of its view); with ``rowid``, the storage rowid first, as ``_gl_rid``."""
    cols = ", ".join(f"{q(c.physical)} AS {q(c.name)}" for c in snap.columns)
    if rowid:
        rid = "_gl_rid" if snap.mode == "CSS" else free_rowid([c.name for c in snap.columns])
        cols = f"{rid} AS _gl_rid, {cols}"
    where = f" WHERE {member(snap)}" if snap.mode == "CSS" else ""
    return f"SELECT {cols} FROM {q(snap.storage)}{where}"


# ---------------------------------------------------------------------- reading name@version


def view_of(conn: apsw.Connection, local: Mapping[str, str], plan: P.Plan,
            ref: P.SnapshotRef) -> tuple[str, str]:
    """(view name, ``SELECT`` of its rows) of the snapshot a reference ``name@version`` names
    (the full name is built with the delimiter and separator in force now for a session that
    SET ``local``). galaxlite reads the SELECT, not the view: a view dropped or replaced by a
    user does not change what ``name@version`` returns."""
    s = settings_in_force(conn, local, plan, ref.position, NAMING)
    schema, full = written(plan, ref.snapshot, s)
    snap = find(conn, full, schema)
    if snap is None:
        raise error_at(E.UnknownSnapshotError, f'snapshot "{full}" does not exist', plan,
                       ref.position, hint=made_otherwise(conn, ref.snapshot))
    return snap.name, source_sql(snap)


def with_views(plan: P.Plan, views: Mapping[int, str]) -> P.Plan:
    """``plan`` with the SEMANTIC_* sources that are snapshot references (index → view name
    in ``views``) turned into what they read: the snapshot's view, under the same alias."""
    def source(item: P.SourceItem) -> P.SourceItem:
        if item.ref not in views:
            return item
        alias = item.alias if item.alias is not None else item.name
        return dataclasses.replace(item, schema=SCHEMA, name=views[item.ref], alias=alias, ref=None)

    calls = tuple(
        dataclasses.replace(call, scopes=tuple(tuple(map(source, scope)) for scope in call.scopes))
        for call in plan.semantic
    )
    return dataclasses.replace(plan, semantic=calls)
