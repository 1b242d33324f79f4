"""Naming a new snapshot: its version (written, or bumped from the parent's), its full name,
and the check that the name is free.

A full name is ``<prefix><delimiter><version>`` ("m0@1.0.0") under the delimiter and
separator in force when the snapshot is made, and it is also the name of the snapshot's
view: it must fit PostgreSQL's 63 characters, must not look like an internal table, and
must not be taken by a snapshot or by any table, view, index or trigger. A CREATE ... FROM
without a version bumps the parent's as openGauss does: ALTER → major+1, INSERT/DELETE →
minor+1, UPDATE only → patch+1.
"""

from __future__ import annotations

from collections.abc import Sequence

from galaxlite import errors as E
from galaxlite.engine.session import Session
from galaxlite.storage.snapshot_catalog import Snapshot, find
from galaxlite.storage.snapshot_names import Settings, error_at, qualified
from galaxlite.transpile import plan as P

MAX_NAME = 63  # characters of a full snapshot name (PostgreSQL's NAMEDATALEN - 1)
_RESERVED = ("_gl_", "galaxlite_", "sqlite_")  # name prefixes of internal tables


def version_text(version: P.SnapshotVersion, s: Settings, plan: P.Plan, position: int) -> str:
    """A written version as it goes into a name (openGauss's i_vers rules)."""
    text = version.render(s.separator)
    if text.startswith(s.delimiter):
        text = text[1:]
    if not text:
        raise error_at(E.SnapshotError, f"illegal i_vers: '{s.delimiter}'", plan, position)
    if s.delimiter in text:
        raise error_at(
            E.SnapshotError,
            f"i_vers may contain only one single, leading '{s.delimiter}' character", plan,
            position,
            hint=f"specify snapshot version as [{s.delimiter}]x{s.separator}y{s.separator}z or "
            f"[{s.delimiter}]label with optional, leading '{s.delimiter}'",
        )
    return text


def full_name(
    plan: P.Plan, prefix: str, version: str, s: Settings, position: int, what: str = "snapshot"
) -> str:
    """``prefix`` + delimiter + ``version``, if that is an acceptable name."""
    if not prefix:
        raise error_at(E.SnapshotError, "i_name cannot be NULL or empty", plan, position)
    if s.delimiter in prefix:
        raise error_at(
            E.SnapshotError, f"i_name must not contain '{s.delimiter}' characters", plan, position
        )
    name = prefix + s.delimiter + version
    if len(name) > MAX_NAME:
        raise error_at(E.SnapshotError, f"{what} name too long: '{name}'", plan, position)
    if name.lower().startswith(_RESERVED):  # (the view would be named like an internal table)
        raise error_at(
            E.SnapshotError,
            f"{what} name '{name}' is reserved: names starting with "
            f"{', '.join(_RESERVED)} are for internal use",
            plan, position,
        )
    return name


def check_free(session: Session, plan: P.Plan, schema: str, name: str, position: int) -> None:
    """DuplicateSnapshotError if a snapshot or any schema object is named ``name``."""
    conn = session.conn
    if find(conn, name, schema) is not None:
        raise error_at(
            E.DuplicateSnapshotError, f"snapshot {qualified(schema, name)} already exists", plan,
            position,
        )
    for (kind,) in conn.execute(
        "SELECT type FROM sqlite_master WHERE name = ? COLLATE NOCASE", (name,)
    ):
        raise error_at(
            E.DuplicateSnapshotError,
            f'relation "{name}" already exists (a {kind} of that name is in the database)',
            plan, position,
        )


def bumped(plan: P.Plan, parent: Snapshot, commands: Sequence[P.SnapshotCommand],
           s: Settings, position: int) -> str:
    """The version of a CREATE ... FROM without one: ALTER → major+1, INSERT/DELETE →
    minor+1, UPDATE only → patch+1."""
    parts = parent.version.split(s.separator)
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise error_at(
            E.SnapshotError,
            f"parent has nonstandard version {parent.version}. i_vers cannot be null or empty",
            plan, position, hint="provide custom version using i_vers parameter for new snapshot",
        )
    major, minor, patch = (int(p) for p in parts)
    ops = {c.op for c in commands}
    if "ALTER" in ops:
        major, minor, patch = major + 1, 0, 0
    elif ops & {"INSERT", "DELETE"}:
        minor, patch = minor + 1, 0
    else:
        patch += 1
    return s.separator.join(map(str, (major, minor, patch)))
