"""PUBLISH / ARCHIVE / PURGE SNAPSHOT, and the refusal to DROP VIEW a snapshot's view.

PUBLISH and ARCHIVE only change the catalog row's flags. PURGE removes a snapshot with its
view and its rows: an MSS snapshot's table goes; a CSS snapshot's matrix rows that no other
snapshot of the lineage reads go, as do the marks and physical columns no remaining view
tests (``css.remove_from_matrix``), and the whole matrix with its last snapshot. A root
with dependent snapshots cannot be purged; a purged parent's children keep its recipe (its
commands are prepended to theirs) and its comment. ``name@version`` in a definition SQLite
keeps names the view, so such a definition fails after a purge instead of reading storage
the purge changed.
"""

from __future__ import annotations

import json

from galaxlite import errors as E
from galaxlite.engine.session import Session
from galaxlite.params import Params
from galaxlite.snapshots.css import remove_from_matrix
from galaxlite.snapshots.parameters import in_force
from galaxlite.storage.guards import catalog_writer
from galaxlite.storage.snapshot_catalog import Snapshot, by_id, find, lookup
from galaxlite.storage.snapshot_names import NAMING, SCHEMA, error_at, qualified
from galaxlite.transpile import plan as P
from galaxlite.transpile import quote_identifier as q


def manage_snapshot(session: Session, plan: P.Plan, params: Params) -> list[tuple[str, str]]:
    """``PUBLISH`` / ``ARCHIVE`` / ``PURGE SNAPSHOT name@version``; its (schema, name)."""
    d: P.ManageSnapshot = plan.detail
    s = in_force(session, plan, d.name.position, NAMING)
    conn = session.conn
    snap = lookup(conn, plan, d.name, s)
    with catalog_writer(conn):
        if d.action == "publish":
            conn.execute("UPDATE db4ai_snapshot SET published = 1, archived = 0 WHERE id = ?",
                         (snap.id,))
        elif d.action == "archive":
            conn.execute("UPDATE db4ai_snapshot SET published = 0, archived = 1 WHERE id = ?",
                         (snap.id,))
        elif d.action == "purge":
            _purge(session, plan, snap, d.name.position)
        else:  # pragma: no cover - the front end only produces the three actions
            raise E.NotSupportedError(f"unknown snapshot action {d.action!r}")
    return [(snap.schema, snap.name)]


def _purge(session: Session, plan: P.Plan, snap: Snapshot, position: int) -> None:
    conn = session.conn
    children = [
        by_id(conn, i) for (i,) in conn.execute(
            "SELECT id FROM db4ai_snapshot WHERE parent_id = ? ORDER BY id", (snap.id,)
        )
    ]
    if snap.parent_id is None and children:
        raise error_at(
            E.SnapshotError,
            f"cannot purge root snapshot '{qualified(snap.schema, snap.name)}' having "
            "dependent snapshots",
            plan, position, hint="purge all dependent snapshots first",
        )
    for child in children:  # the children keep the purged snapshot's recipe
        comment = " | ".join(c for c in (snap.comment, child.comment) if c is not None) or None
        conn.execute(
            "UPDATE db4ai_snapshot SET parent_id = ?, commands = ?, comment = ? WHERE id = ?",
            (snap.parent_id, json.dumps([*snap.commands, *child.commands]), comment, child.id),
        )
    conn.execute(f"DROP VIEW IF EXISTS main.{q(snap.name)}")
    conn.execute("DELETE FROM db4ai_snapshot WHERE id = ?", (snap.id,))
    if snap.mode == "MSS":
        conn.execute(f"DROP TABLE IF EXISTS {q(snap.storage)}")
        return
    others = [
        by_id(conn, i) for (i,) in conn.execute(
            "SELECT id FROM db4ai_snapshot WHERE mode = 'CSS' AND storage = ?", (snap.storage,)
        )
    ]
    if not others:
        conn.execute(f"DROP TABLE {q(snap.storage)}")
        return
    remove_from_matrix(conn, snap, others)


def check_not_a_snapshot_view(session: Session, plan: P.Plan, view: P.TableName) -> None:
    """``DROP VIEW`` of a snapshot's view is refused: plain clients read snapshots through it
    (PURGE SNAPSHOT removes a snapshot with its view)."""
    if (view.schema or SCHEMA).lower() != SCHEMA:
        return
    snap = find(session.conn, view.name, SCHEMA)
    if snap is not None:
        raise error_at(
            E.SnapshotError,
            f'cannot drop view "{view.name}": it is how every client reads snapshot '
            f"{qualified(snap.schema, snap.name)}, and snapshots are immutable",
            plan, plan.position, hint="PURGE SNAPSHOT removes a snapshot together with its view",
        )
