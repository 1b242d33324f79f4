"""CSS storage: one matrix table per lineage, its membership marks, and the guards that keep
snapshot storage read-only.

CSS keeps one *matrix* table ``_gl_m<id>`` per lineage: a row id ``_gl_rid``, physical
columns ``f1, f2, ...`` and membership marks. A derived snapshot shares the matrix rows it
leaves unchanged and appends a copy of each row it changes (copy-on-write per row); a new
column is a new physical column. A snapshot is the rows up to its ``top`` row id that none
of its (and its ancestors') exclusion bits mark and that all its inclusion flags
``_s<id>`` mark (``galaxlite.storage.snapshot_catalog.member``).

The finished working table W is compared with the matrix: rows equal to their matrix row
(value and type of every inherited column) are shared, the others appended, so MSS and CSS
give the same rows. Storage tables are read-only for every client (triggers
``_gl_*_read_only_*``, lifted by galaxlite inside its own transaction while it writes a
matrix).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import apsw

from galaxlite import errors as E
from galaxlite.snapshots.work import Work, scalar
from galaxlite.storage.guards import read_only_triggers
from galaxlite.storage.snapshot_catalog import (
    Snapshot,
    SnapshotColumn,
    free_rowid,
    member,
    passes,
)
from galaxlite.transpile import quote_identifier as q

_KEEP = "_gl_keep"  # rowids of W rows equal to their matrix row (TEMP)
_BITS = 63  # exclusion bits per _gl_x<j> column (the sign bit stays clear: short varints)


def balanced(op: str, conditions: Sequence[str]) -> str:
    """``a OP b OP ...`` as a balanced tree (SQLite limits the depth of an expression).

    >>> balanced("OR", ["a", "b", "c"])
    '(a OR (b OR c))'
    """
    if len(conditions) == 1:
        return conditions[0]
    half = len(conditions) // 2
    return f"({balanced(op, conditions[:half])} {op} {balanced(op, conditions[half:])})"


def matrix_columns(conn: apsw.Connection, matrix: str) -> list[tuple[str, str | None]]:
    """(name, default) of each column of a matrix table."""
    return [(r[1], r[4]) for r in conn.execute("SELECT * FROM pragma_table_info(?)", (matrix,))]


# ---------------------------------------------------------------------- storing W


@dataclass
class _Matrix:
    """The matrix a CSS snapshot goes into, and the new snapshot's marks as they are made
    (the parent's to start with)."""

    name: str
    id: int
    flags: list[str]
    masks: dict[str, int]

    @property
    def ref(self) -> str:
        return q(self.name)


def store_css(conn: apsw.Connection, snap_id: int,
              work: Work) -> tuple[str, int, list[SnapshotColumn], dict]:
    """Put W into a matrix (the parent's, or a new one): W's rows equal to their matrix row
    are shared, the others appended. Returns (matrix, matrix id, columns, membership).

    The new snapshot S is the rows with ``_gl_rid <= top`` that pass the parent's marks and
    its own: rows appended later get ``_gl_rid`` values above every snapshot's ``top``, so
    they stay out of S with no write at all. Of the old rows that pass the parent's
    marks, only the minority is written, in place: when S keeps most of them, the dropped
    ones get an exclusion bit (one bit of an integer column ``_gl_x<j>``, which grows a row
    by a byte or two); when S keeps few (a small sample), the kept ones get 1 in a new
    inclusion flag column ``_s<id>`` (default 0). A lineage of updates thus writes only the
    rows each version changes and appends their new copies.
    """
    parent = work.matrix
    matrix, next_column = _open_matrix(conn, snap_id, parent)
    columns, added = _physical_columns(work, next_column)
    _add_physical(conn, matrix, added, new=parent is None)
    rid = free_rowid(work.names)
    _keep_unchanged(conn, work, matrix, [c for c in columns if c not in added], rid)
    top = scalar(conn, f"SELECT coalesce(max(_gl_rid), 0) FROM {matrix.ref}")
    if parent is not None:
        _mark_old_rows(conn, snap_id, matrix, top)
    _append_changed(conn, work, matrix, top, columns, rid)
    if added and parent is not None:
        _fill_added(conn, work, matrix, added, rid)
    conn.execute(f"DROP TABLE temp.{_KEEP}")
    conn.execute(f"DROP TABLE {work.ref}")
    membership = {"top": scalar(conn, f"SELECT coalesce(max(_gl_rid), 0) FROM {matrix.ref}"),
                  "flags": matrix.flags, "masks": matrix.masks}
    guard(conn, matrix.name)
    return matrix.name, matrix.id, columns, membership


def _open_matrix(conn: apsw.Connection, snap_id: int,
                 parent: Snapshot | None) -> tuple[_Matrix, int]:
    """The matrix S goes into (the parent's, unguarded; or a new one, named after S) and
    the number of its next physical column."""
    if parent is None:
        return _Matrix(f"_gl_m{snap_id}", snap_id, [], {}), 1
    unguard(conn, parent.storage)
    numbers = [int(n[1:]) for n, _ in matrix_columns(conn, parent.storage)
               if re.fullmatch(r"f\d+", n)]
    matrix = _Matrix(parent.storage, parent.matrix_id, list(parent.flags), dict(parent.masks))
    return matrix, max(numbers, default=0) + 1


def _physical_columns(work: Work,
                      next_column: int) -> tuple[list[SnapshotColumn], list[SnapshotColumn]]:
    """(S's columns, those of them that need a new physical column ``f<n>``)."""
    columns: list[SnapshotColumn] = []
    added: list[SnapshotColumn] = []
    for name, definition in work.columns:
        physical = work.inherited.get(name.lower())
        if physical is None:
            physical, next_column = f"f{next_column}", next_column + 1
            added.append(SnapshotColumn(name, physical, definition))
        columns.append(SnapshotColumn(name, physical, definition))
    return columns, added


def _add_physical(conn: apsw.Connection, matrix: _Matrix, added: Sequence[SnapshotColumn],
                  new: bool) -> None:
    """Create the ``new`` matrix with the ``added`` columns, or add them to it."""
    if new:
        defs = ", ".join(f"{c.physical} {c.definition}".rstrip() for c in added)
        # _gl_x0 from the start: a row that later gets an exclusion bit then grows by the
        # bit's value only (0 bytes for bit 0, 1 for bits 1-6), not by a new column too
        conn.execute(f"CREATE TABLE {matrix.ref} (_gl_rid INTEGER PRIMARY KEY, {defs}, "
                     "_gl_x0 INTEGER NOT NULL DEFAULT 0)")
        return
    for c in added:
        add_column(conn, matrix.name, f"{c.physical} {c.definition}".rstrip())


def _keep_unchanged(conn: apsw.Connection, work: Work, matrix: _Matrix,
                    shared: Sequence[SnapshotColumn], rid: str) -> None:
    """TEMP _gl_keep: the rowids of W's parent rows whose every value (and its type) is
    unchanged; those stay shared."""
    conn.execute(f"DROP TABLE IF EXISTS temp.{_KEEP}")
    conn.execute(f"CREATE TEMP TABLE {_KEEP} (r INTEGER PRIMARY KEY)")
    parent = work.matrix
    if parent is None or not shared:
        return
    same = balanced("AND", [
        f"w.{q(c.name)} IS m.{c.physical} COLLATE BINARY "
        f"AND typeof(w.{q(c.name)}) = typeof(m.{c.physical})"
        for c in shared
    ])
    conn.execute(
        f"INSERT INTO temp.{_KEEP} SELECT w.{rid} FROM {work.ref} AS w JOIN {matrix.ref} AS m "
        f"ON m._gl_rid = w.{rid} WHERE {member(parent, 'm.')} AND {same}"
    )


_KEPT_ROWS = f"(SELECT r FROM temp.{_KEEP})"


def _mark_old_rows(conn: apsw.Connection, snap_id: int, matrix: _Matrix, top: int) -> None:
    """Mark the minority of the parent's rows: the dropped ones with an exclusion bit when S
    keeps most, the kept ones with an inclusion flag when S keeps few."""
    kept = scalar(conn, f"SELECT count(*) FROM temp.{_KEEP}")
    passing = f"_gl_rid <= {top} AND {passes(matrix.flags, matrix.masks)}"
    dropped = scalar(conn, f"SELECT count(*) FROM {matrix.ref} WHERE {passing}") - kept
    if 0 < dropped <= kept:
        col, bit = _free_bit(conn, matrix.name)
        conn.execute(
            f"UPDATE {matrix.ref} SET {col} = {col} | {bit} WHERE {passing} "
            f"AND _gl_rid NOT IN {_KEPT_ROWS}"
        )
        matrix.masks[col] = matrix.masks.get(col, 0) | bit
    elif dropped > kept:
        flag = f"_s{snap_id}"
        add_column(conn, matrix.name, f"{flag} INTEGER NOT NULL DEFAULT 0")
        conn.execute(f"UPDATE {matrix.ref} SET {flag} = 1 WHERE _gl_rid IN {_KEPT_ROWS}")
        matrix.flags.append(flag)


def _append_changed(conn: apsw.Connection, work: Work, matrix: _Matrix, top: int,
                    columns: Sequence[SnapshotColumn], rid: str) -> None:
    """Append W's rows that are not shared: ids above every snapshot's top (a purge may have
    deleted the rows at the end, which a snapshot's range still covers); inclusion flags at
    1 (exclusion bits default to 0)."""
    (tops,) = next(conn.execute(
        "SELECT max(json_extract(membership, '$.top')) FROM db4ai_snapshot WHERE storage = ?",
        (matrix.name,),
    ))
    base = max(top, tops or 0)
    targets = ["_gl_rid"] + [q(c.physical) for c in columns] + matrix.flags
    values = [f"{base} + row_number() OVER (ORDER BY w.{rid})"]
    values += [f"w.{q(c.name)}" for c in columns] + ["1"] * len(matrix.flags)
    conn.execute(
        f"INSERT INTO {matrix.ref} ({', '.join(targets)}) SELECT {', '.join(values)} "
        f"FROM {work.ref} AS w WHERE w.{rid} NOT IN {_KEPT_ROWS} ORDER BY w.{rid}"
    )


def _fill_added(conn: apsw.Connection, work: Work, matrix: _Matrix,
                added: Sequence[SnapshotColumn], rid: str) -> None:
    """The new columns of shared rows (only S and its children read them)."""
    m = matrix.ref
    sets = ", ".join(f"{c.physical} = w.{q(c.name)}" for c in added)
    conn.execute(
        f"UPDATE {m} SET {sets} FROM {work.ref} AS w WHERE {m}._gl_rid = w.{rid} "
        f"AND w.{rid} IN {_KEPT_ROWS}"
    )


def _free_bit(conn: apsw.Connection, matrix: str) -> tuple[str, int]:
    """An exclusion bit no snapshot of the matrix uses: (column _gl_x<j>, bit value); the
    column is added when all bits of the existing ones are taken. Bits freed by PURGE were
    cleared from every row, so any unused bit is clear everywhere."""
    used: dict[str, int] = {}
    for (membership,) in conn.execute(
        "SELECT membership FROM db4ai_snapshot WHERE storage = ? AND membership IS NOT NULL",
        (matrix,),
    ):
        for col, bits in json.loads(membership)["masks"].items():
            used[col] = used.get(col, 0) | bits
    existing = {n for n, _ in matrix_columns(conn, matrix)}
    for j in itertools.count():
        col = f"_gl_x{j}"
        if col not in existing:
            add_column(conn, matrix, f"{col} INTEGER NOT NULL DEFAULT 0")
            return col, 1
        free = next((b for b in range(_BITS) if not used.get(col, 0) >> b & 1), None)
        if free is not None:
            return col, 1 << free
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------- PURGE


def remove_from_matrix(conn: apsw.Connection, snap: Snapshot, others: Sequence[Snapshot]) -> None:
    """Delete the rows only purged snapshot ``snap`` read from its matrix, which ``others``
    (at least one) still use."""
    matrix = q(snap.storage)
    used_by_others = balanced("OR", [f"({member(o)})" for o in others])
    unguard(conn, snap.storage)
    conn.execute(f"DELETE FROM {matrix} WHERE {member(snap)} AND NOT ({used_by_others})")
    # marks and physical columns no remaining view reads go (the purged snapshot's own marks
    # stay while its children's views test them); freed bits are cleared for reuse
    flags = {f for o in others for f in o.flags}
    bits: dict[str, int] = {}
    for o in others:
        for col, b in o.masks:
            bits[col] = bits.get(col, 0) | b
    physical = {c.physical for o in others for c in o.columns}
    for name, _ in matrix_columns(conn, snap.storage):
        unused = (
            (re.fullmatch(r"_s\d+", name) and name not in flags)
            or (re.fullmatch(r"f\d+", name) and name not in physical)
            or (re.fullmatch(r"_gl_x\d+", name) and name != "_gl_x0" and not bits.get(name))
        )
        if unused:
            conn.execute(f"ALTER TABLE {matrix} DROP COLUMN {name}")
        elif freed := dict(snap.masks).get(name, 0) & ~bits.get(name, 0):
            conn.execute(f"UPDATE {matrix} SET {name} = {name} & ~{freed} WHERE {name} & {freed}")
    guard(conn, snap.storage)


# ---------------------------------------------------------------------- guards


def guard(conn: apsw.Connection, table: str) -> None:
    """Make snapshot storage read-only for every client (snapshots are immutable); galaxlite
    lifts the guard (``unguard``) inside its own transaction while it writes a matrix."""
    for name, sql in read_only_triggers(table).items():
        conn.execute(f"DROP TRIGGER IF EXISTS main.{q(name)}")
        conn.execute(sql)


def unguard(conn: apsw.Connection, table: str) -> None:
    for name in read_only_triggers(table):
        conn.execute(f"DROP TRIGGER IF EXISTS main.{q(name)}")


def add_column(conn: apsw.Connection, matrix: str, definition: str) -> None:
    """ALTER TABLE ``matrix`` ADD COLUMN ``definition``, or a clear error at SQLite's limit."""
    try:
        conn.execute(f"ALTER TABLE {q(matrix)} ADD COLUMN {definition}")
    except apsw.SQLError as exc:
        if "too many columns" in str(exc):
            raise E.NotSupportedError(
                f"the CSS lineage stored in {matrix} has reached SQLite's limit of columns per "
                "table (one per snapshot and per added column): make this snapshot with "
                "SET db4ai_snapshot_mode = MSS"
            ) from None
        raise
