"""Writing the catalog: a new snapshot's row, its storage and its view.

A snapshot statement adds the catalog row first (``register``: the id names the storage),
fills the working table, then ``finish`` stores W — as the MSS table ``_gl_s<id>``, or in
the lineage's matrix (CSS, ``css.store_css``) — creates the view named after the snapshot
and completes the row (storage, columns, CSS membership, row count). Everything happens
inside one savepoint of the caller's write scope: a failure leaves no snapshot, no table
and no catalog change.

Like openGauss's catalog, ``db4ai_snapshot`` is read-only for users: its triggers let a
write through only inside ``galaxlite.storage.guards.catalog_writer``, as for every catalog.
"""

from __future__ import annotations

import datetime
import getpass
import json
from collections.abc import Sequence

import apsw

from galaxlite.snapshots.css import guard, store_css
from galaxlite.snapshots.work import Work, create_table, scalar
from galaxlite.storage.snapshot_catalog import (
    Snapshot,
    SnapshotColumn,
    by_id,
    free_rowid,
    source_sql,
)
from galaxlite.transpile import quote_identifier as q


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _owner() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment (containers)
        return "galaxlite"


def register(conn: apsw.Connection, *, schema: str, prefix: str, version: str, name: str,
             mode: str, commands: Sequence[str], comment: str | None, parent: Snapshot | None,
             published: bool) -> int:
    """Add the catalog row (storage filled in by ``finish``); its id."""
    conn.execute(
        "INSERT INTO db4ai_snapshot (parent_id, root_id, schema, name, owner, commands, comment, "
        "published, created, row_count, prefix, version, mode, storage, columns) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, '', '[]')",
        (
            parent.id if parent else None, parent.root_id if parent else None, schema, name,
            _owner(), json.dumps(list(commands)), comment, int(published), _now(), prefix,
            version, mode,
        ),
    )
    snap_id = conn.last_insert_rowid()
    if parent is None:
        conn.execute("UPDATE db4ai_snapshot SET root_id = id WHERE id = ?", (snap_id,))
    return snap_id


def _store(conn: apsw.Connection, snap_id: int, mode: str,
           work: Work) -> tuple[str, int | None, list[SnapshotColumn], dict | None]:
    """(storage table, matrix id, columns, CSS membership) of the finished W."""
    if mode == "CSS":
        return store_css(conn, snap_id, work)
    table = f"_gl_s{snap_id}"
    if work.table != table:  # built in TEMP "snapshot": copied into its own table
        create_table(conn, table, work.columns, temp=False)
        conn.execute(f"INSERT INTO main.{q(table)} SELECT * FROM {work.ref} "
                     f"ORDER BY {free_rowid(work.names)}")
        conn.execute(f"DROP TABLE {work.ref}")
    guard(conn, table)
    return table, None, [SnapshotColumn(n, n, d) for n, d in work.columns], None


def finish(conn: apsw.Connection, snap_id: int, mode: str, work: Work) -> Snapshot:
    """Store W, create the view, complete the catalog row."""
    storage, matrix_id, columns, membership = _store(conn, snap_id, mode, work)
    conn.execute(
        "UPDATE db4ai_snapshot SET storage = ?, matrix_id = ?, columns = ?, membership = ? "
        "WHERE id = ?",
        (storage, matrix_id, json.dumps([[c.name, c.physical, c.definition] for c in columns]),
         json.dumps(membership) if membership else None, snap_id),
    )
    snap = by_id(conn, snap_id)
    conn.execute(f"CREATE VIEW main.{q(snap.name)} AS {source_sql(snap)}")
    count = scalar(conn, f"SELECT count(*) FROM main.{q(snap.name)}")
    conn.execute("UPDATE db4ai_snapshot SET row_count = ? WHERE id = ?", (count, snap_id))
    return by_id(conn, snap_id)
