"""Dataset snapshots: CREATE / SAMPLE / PUBLISH / ARCHIVE / PURGE SNAPSHOT, ``name@version``
references, and the ``db4ai_*`` parameters (openGauss DB4AI semantics, SPEC.md §4).

The catalog is the plain table ``db4ai_snapshot`` (schema/snapshots.sql). Each snapshot is
a real SQLite view named ``<prefix><delimiter><version>`` ("m0@1.0.0"), plain SQL that any
client can read. Its rows live in one of two storage models, chosen by
``db4ai_snapshot_mode`` when it is made:

* MSS — table ``_gl_s<id>``, the snapshot's rows under the user's column names.
* CSS — one *matrix* table ``_gl_m<id>`` per lineage: a row id ``_gl_rid``, physical
  columns ``f1, f2, ...`` and membership marks. A derived snapshot shares the matrix rows
  it leaves unchanged and appends a copy of each row it changes (copy-on-write per row); a
  new column is a new physical column. A snapshot is the rows up to its ``top`` row id that
  none of its (and its ancestors') exclusion bits mark and that all its inclusion flags
  ``_s<id>`` mark: the view is ``SELECT f3 AS "a", ... FROM _gl_m1 WHERE _gl_rid <= 1020
  AND (_gl_x0 & 5) = 0`` (see ``_store_css``: a version writes only the rows it changes).

Every snapshot is made the same way: a working table W receives the rows (a query's, or a
parent's: in CSS each keeps its matrix rowid as its rowid), the USING commands run on W in
order, then W *is* the MSS table, or is compared with the matrix (CSS): rows equal to their
matrix row (value and type of every inherited column) are shared, the others appended. Both
models therefore give the same rows. W is TEMP table ``snapshot`` whenever a command may
name it, so subqueries read the snapshot being built (``DELETE WHERE rowid NOT IN (SELECT
min(rowid) FROM snapshot GROUP BY a, b)``). Everything happens inside one savepoint of the
caller's write scope: a failure leaves no snapshot, no table and no catalog change.

Storage tables are read-only for every client (triggers ``_gl_*_read_only_*``, lifted by
galaxlite inside its own transaction while it writes a matrix). ``name@version`` in a
statement reads the storage directly (``(SELECT ... FROM _gl_s3)``), so a dropped or
replaced view does not change it; in a definition SQLite keeps (CREATE VIEW / TRIGGER) it
names the view, which a PURGE drops: such a definition then fails instead of reading
storage the purge changed.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import getpass
import itertools
import json
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import apsw

from galaxlite import errors as E
from galaxlite import transpile
from galaxlite.engine import render as rendering
from galaxlite.engine.result import describe
from galaxlite.engine.session import Session
from galaxlite.params import Params
from galaxlite.transpile import plan as P
from galaxlite.transpile import quote_identifier as q

MODE = "db4ai_snapshot_mode"
DELIMITER = "db4ai_snapshot_version_delimiter"
SEPARATOR = "db4ai_snapshot_version_separator"
SEED = "db4ai_sample_seed"
DEFAULTS: dict[str, str | None] = {MODE: "MSS", DELIMITER: "@", SEPARATOR: ".", SEED: None}
SCHEMA = "main"  # snapshots live in SQLite's main database (openGauss: a schema)
MAX_NAME = 63  # characters of a full snapshot name (PostgreSQL's NAMEDATALEN - 1)
OPERATIONS = ("INSERT", "UPDATE", "DELETE", "ALTER")
_WRITER = "db4ai_snapshot_writer"  # galaxlite_meta key that opens the catalog's guards
# The working table W is TEMP "snapshot" (so the commands' subqueries can read the snapshot
# being built by that name: ``DELETE WHERE rowid NOT IN (SELECT min(rowid) FROM snapshot
# GROUP BY a)``), or TEMP _gl_w when the session has a TEMP object of that name already.
# An MSS snapshot whose commands never name it is built in place, in its own _gl_s<id>.
_WORK = "snapshot"
_WORK_FALLBACK = "_gl_w"
_KEEP = "_gl_keep"  # CSS: rowids of W rows equal to their matrix row (TEMP)
_PICK = "_gl_pick"  # SAMPLE: the parent rows a sample takes (TEMP)
_RESERVED = ("_gl_", "galaxlite_", "sqlite_")  # name prefixes of internal tables
_MAX_ARGS = 100  # flags per min(...) call (SQLite allows 127 function arguments)
_BITS = 63  # exclusion bits per _gl_x<j> column (the sign bit stays clear: short varints)
_ORDER_COLUMNS = 500  # SAMPLE's canonical row order: by the first 500 columns (value, type)


# ---------------------------------------------------------------------- catalog records


@dataclass(frozen=True, slots=True)
class Column:
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
    columns: tuple[Column, ...] = ()
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
        return statements(self.commands)


def statements(commands: Sequence[str]) -> list[str]:
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
        storage, tuple(Column(*c) for c in json.loads(columns)), member["top"],
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
    return _snapshot(next(conn.execute(_SELECT + "WHERE s.id = ?", (snapshot_id,))))


def lineage(conn: apsw.Connection, name: str) -> list[Snapshot]:
    """The chain root → ... → snapshot ``name`` (full name; ``main.`` may precede it)."""
    snap = find(conn, name)
    if snap is None and name.lower().startswith(SCHEMA + "."):
        snap = find(conn, name[len(SCHEMA) + 1 :])
    if snap is None:
        raise E.UnknownSnapshotError(f"snapshot {_qualified(SCHEMA, name)} does not exist")
    chain = [snap]
    while chain[-1].parent_id is not None:
        chain.append(by_id(conn, chain[-1].parent_id))
    return chain[::-1]


# ---------------------------------------------------------------------- parameters


@dataclass(frozen=True, slots=True)
class Settings:
    """The ``db4ai_*`` parameters in force: session SET over ALTER DATABASE SET over defaults."""

    mode: str
    delimiter: str
    separator: str
    seed: int | None


def _persisted(conn: apsw.Connection) -> dict[str, str]:
    return {
        k: v for k, v in conn.execute(
            "SELECT key, value FROM galaxlite_meta WHERE key IN (?, ?, ?, ?)", tuple(DEFAULTS)
        )
    }


def _values(conn: apsw.Connection, local: Mapping[str, str]) -> dict[str, str | None]:
    return {**DEFAULTS, **_persisted(conn), **local}


_NAMING = (DELIMITER, SEPARATOR)  # what reading name@version needs


def settings(session: Session, plan: P.Plan | None = None, position: int | None = None,
             need: Sequence[str] = tuple(DEFAULTS)) -> Settings:
    """The parameters in force for ``session``. A bad value stored in the file (by a
    plain client) fails here when a statement ``need``s it, as a bad mode does in openGauss
    when it is used: reading ``name@version`` needs only the delimiter and separator."""
    values = _values(session.conn, session.settings)
    for name in need:
        value = values[name]
        if value is not None and _checked_value(name, str(value), values) is None:
            raise _error(E.SnapshotParameterError, _invalid(name, str(value)), plan, position)
    seed = values[SEED] if SEED in need else None
    return Settings(str(values[MODE]).upper(), str(values[DELIMITER]), str(values[SEPARATOR]),
                    None if seed is None else int(seed))


def _checked_value(name: str, value: str, values: Mapping[str, str | None]) -> str | None:
    """``value`` as stored for parameter ``name`` given the other values in force, or None
    if it is not acceptable."""
    if name == MODE:
        return value.upper() if value.upper() in ("MSS", "CSS") else None
    if name == SEED:
        try:
            return str(int(value))
        except ValueError:
            return None
    other = values[SEPARATOR if name == DELIMITER else DELIMITER]
    if len(value) != 1 or value == other or value.isdigit() or value.isspace():
        return None
    return value


def _invalid(name: str, value: str) -> str:
    if name == MODE:
        return f"invalid snapshot mode: '{value.upper()}'"
    return f'invalid value for parameter "{name}": "{value}"'


def _parameter(plan: P.Plan) -> str:
    """The (lower-cased) name of the parameter a SET / SHOW / RESET names."""
    p: P.Parameter = plan.detail
    name = p.name.lower()
    if name not in DEFAULTS:  # (the front end refuses them first)
        raise _error(
            E.SnapshotParameterError, f'unrecognized configuration parameter "{p.name}"', plan,
            p.position,
        )
    return name


def set_parameter(session: Session, plan: P.Plan) -> None:
    """``SET p = v`` / ``RESET p`` (this session) and ``ALTER DATABASE SET p = v`` /
    ``ALTER DATABASE RESET p`` (stored in the file, for every session that has not SET it)."""
    p: P.Parameter = plan.detail
    conn, local = session.conn, session.settings
    name = _parameter(plan)
    value = None
    if p.value is not None:
        persisted = {**DEFAULTS, **_persisted(conn)}
        scopes = [persisted, {**persisted, **local}] if p.persist else [{**persisted, **local}]
        checked = [_checked_value(name, str(p.value), s) for s in scopes]
        if any(c is None for c in checked):
            raise _error(E.SnapshotParameterError, _invalid(name, str(p.value)), plan, p.position)
        value = checked[0]
    if not p.persist:
        if value is None:
            local.pop(name, None)
        else:
            local[name] = value
        return
    with session.writing(pin=False):
        if value is None:
            conn.execute("DELETE FROM galaxlite_meta WHERE key = ?", (name,))
        else:
            conn.execute(
                "INSERT INTO galaxlite_meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (name, value),
            )


def show_parameter(session: Session, plan: P.Plan) -> tuple[str, str | None]:
    """(parameter name, value in force) for ``SHOW p``; the value is NULL for an unset seed."""
    name = _parameter(plan)
    value = _values(session.conn, session.settings)[name]
    return name, (value.upper() if name == MODE and value is not None else value)


# ---------------------------------------------------------------------- names


_PLAIN_IDENT = re.compile(r"[a-z_][a-z0-9_$]*")


def quote_ident(name: str) -> str:
    """PostgreSQL's quote_ident (without its keyword list): plain lower-case names stay bare.

    >>> quote_ident("main"), quote_ident("m0@1.0.0")
    ('main', '"m0@1.0.0"')
    """
    return name if _PLAIN_IDENT.fullmatch(name) else q(name)


def _qualified(schema: str, name: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def _error(
    cls: type[E.Error], message: str, plan: P.Plan | None, position: int | None,
    hint: str | None = None,
) -> E.Error:
    if hint is not None:
        message = f"{message} (HINT: {hint})"
    err = E.sql_error(cls, message, plan.source if plan else None, position)
    if hint is not None:
        err.hint = hint
    return err


def _schema(plan: P.Plan, name: P.SnapshotName) -> str:
    if name.schema is not None and name.schema.lower() != SCHEMA:
        raise _error(
            E.NotSupportedError,
            f"snapshots live in the main database (schema main), not in {name.schema!r}",
            plan, name.position,
        )
    return SCHEMA


def _version_text(version: P.SnapshotVersion, s: Settings, plan: P.Plan, position: int) -> str:
    """A written version as it goes into a name (openGauss's i_vers rules)."""
    text = version.render(s.separator)
    if text.startswith(s.delimiter):
        text = text[1:]
    if not text:
        raise _error(E.SnapshotError, f"illegal i_vers: '{s.delimiter}'", plan, position)
    if s.delimiter in text:
        raise _error(
            E.SnapshotError,
            f"i_vers may contain only one single, leading '{s.delimiter}' character", plan,
            position,
        )
    return text


def _full_name(
    plan: P.Plan, prefix: str, version: str, s: Settings, position: int, what: str = "snapshot"
) -> str:
    if not prefix:
        raise _error(E.SnapshotError, "i_name cannot be NULL or empty", plan, position)
    if s.delimiter in prefix:
        raise _error(
            E.SnapshotError, f"i_name must not contain '{s.delimiter}' characters", plan, position
        )
    name = prefix + s.delimiter + version
    if len(name) > MAX_NAME:
        raise _error(E.SnapshotError, f"{what} name too long: '{name}'", plan, position)
    if name.lower().startswith(_RESERVED):  # (the view would be named like an internal table)
        raise _error(
            E.SnapshotError,
            f"{what} name '{name}' is reserved: names starting with "
            f"{', '.join(_RESERVED)} are for internal use",
            plan, position,
        )
    return name


def _written(plan: P.Plan, name: P.SnapshotName, s: Settings) -> tuple[str, str]:
    """(schema, full name) of a written ``[schema.]name@version``, under the delimiter and
    separator in force now."""
    version = name.version.render(s.separator) if name.version is not None else ""
    return _schema(plan, name), name.name + s.delimiter + version


def _lookup(
    session: Session, plan: P.Plan, name: P.SnapshotName, s: Settings, what: str = "snapshot"
) -> Snapshot:
    """The existing snapshot ``name@version`` names (UnknownSnapshotError if none)."""
    schema, full = _written(plan, name, s)
    snap = find(session.conn, full, schema)
    if snap is None:
        raise _error(
            E.UnknownSnapshotError, f"{what} {_qualified(schema, full)} does not exist", plan,
            name.position, hint=_made_otherwise(session, name),
        )
    return snap


def _made_otherwise(session: Session, name: P.SnapshotName) -> str | None:
    """A hint when ``name@version`` matches a snapshot made under another delimiter or
    separator (its full name keeps the characters of its creation), else None."""
    version = name.version
    if version is None:
        return None
    for stored, written in session.conn.execute(
        "SELECT name, version FROM db4ai_snapshot WHERE prefix = ? COLLATE NOCASE ORDER BY id",
        (name.name,),
    ):
        same = (
            written == version.literal if version.literal is not None
            else re.split(r"[^0-9]", written) == list(version.parts)
        )
        if same:
            return (
                f'snapshot "{stored}" was made under another db4ai_snapshot_version_delimiter '
                f"or separator: read it by its view name \"{stored}\" (quoted), or SET the "
                "parameters it was made with"
            )
    return None


def _check_free(session: Session, plan: P.Plan, schema: str, name: str, position: int) -> None:
    conn = session.conn
    if find(conn, name, schema) is not None:
        raise _error(
            E.DuplicateSnapshotError, f"snapshot {_qualified(schema, name)} already exists", plan,
            position,
        )
    for (kind,) in conn.execute(
        "SELECT type FROM sqlite_master WHERE name = ? COLLATE NOCASE", (name,)
    ):
        raise _error(
            E.DuplicateSnapshotError,
            f'relation "{name}" already exists (a {kind} of that name is in the database)',
            plan, position,
        )


def view_of(session: Session, plan: P.Plan, ref: P.SnapshotRef) -> tuple[str, str]:
    """(view name, ``SELECT`` of its rows) of the snapshot a reference ``name@version`` names
    (the full name is built with the delimiter and separator in force now). galaxlite reads
    the SELECT, not the view: a view dropped or replaced by a user does not change what
    ``name@version`` returns."""
    schema, full = _written(plan, ref.snapshot, settings(session, plan, ref.position, _NAMING))
    snap = find(session.conn, full, schema)
    if snap is None:
        raise _error(E.UnknownSnapshotError, f'snapshot "{full}" does not exist', plan,
                     ref.position, hint=_made_otherwise(session, ref.snapshot))
    return snap.name, _source_sql(snap)


def check_not_a_snapshot_view(session: Session, plan: P.Plan, view: P.TableName) -> None:
    """``DROP VIEW`` of a snapshot's view is refused: plain clients read snapshots through it
    (PURGE SNAPSHOT removes a snapshot with its view)."""
    if (view.schema or SCHEMA).lower() != SCHEMA:
        return
    snap = find(session.conn, view.name, SCHEMA)
    if snap is not None:
        raise _error(
            E.SnapshotError,
            f'cannot drop view "{view.name}": it is how every client reads snapshot '
            f"{_qualified(snap.schema, snap.name)}, and snapshots are immutable",
            plan, plan.position, hint="PURGE SNAPSHOT removes a snapshot together with its view",
        )


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


def _bumped(plan: P.Plan, parent: Snapshot, commands: Sequence[P.SnapshotCommand],
            s: Settings, position: int) -> str:
    """The version of a CREATE ... FROM without one: ALTER → major+1, INSERT/DELETE →
    minor+1, UPDATE only → patch+1."""
    parts = parent.version.split(s.separator)
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise _error(
            E.SnapshotError,
            f"parent has nonstandard version {parent.version}. i_vers cannot be null or empty",
            plan, position,
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


# ---------------------------------------------------------------------- running SQL


def _bare_message(exc: E.Error) -> str:
    """An error's message without the " at line L, column C near ..." it was given."""
    message = exc.message
    if exc.sql and exc.position is not None and exc.position >= 0:
        suffix = f" at {transpile.describe_position(exc.sql, exc.position)}"
        message = message.removesuffix(suffix)
    return message


def _moved(exc: E.Error, plan: P.Plan, position: int, what: str | None,
           internal: str | None = None) -> E.Error:
    """The same error, about the user's statement at ``position`` (``what``: which part;
    the working table ``internal`` is called "snapshot" in the message)."""
    message = _bare_message(exc)
    if internal is not None:  # "table temp.snapshot has 4 columns" → "table snapshot ..."
        message = re.sub(rf'(?:\b(?:main|temp)\.)?"?\b{re.escape(internal)}\b"?', "snapshot",
                         message)
    message += f" (in {what})" if what else ""
    new = copy.copy(exc)
    text = E.sql_error(E.Error, message, plan.source, position).message
    new.args, new.message, new.sql, new.position = (text,), text, plan.source, position
    return new


@contextmanager
def _blame(plan: P.Plan, position: int, what: str | None = None, text: str | None = None,
           base: int = 0, internal: str | None = None) -> Iterator[None]:
    """Errors raised inside are reported at ``position`` of ``plan``'s SQL, or — for an error
    located in ``text``, the user's text found at offset ``base`` — where it points."""
    try:
        yield
        return
    except transpile.TranspileError as exc:
        err = E.from_transpile(exc)
    except apsw.Error as exc:
        err = E.from_apsw(exc, text)
    except E.Error as exc:
        err = exc
    located = text is not None and err.sql == text and err.position is not None
    at = base + err.position if located else position
    raise _moved(err, plan, at, what, internal) from None


@dataclass
class _Params:
    """The statement's parameters, handed out to the SQL texts that use them, in order."""

    values: Params
    used: int = 0

    def take(self, plan: P.Plan) -> Params:
        values = self.values
        if values is None or isinstance(values, Mapping):
            return values
        taken = list(values[self.used : self.used + plan.param_markers])
        self.used += plan.param_markers
        return taken

    def check_all_used(self, plan: P.Plan) -> None:
        """Too many positional values is an error, as for any statement (apsw's wording)."""
        values = self.values
        if values is not None and not isinstance(values, Mapping) and len(values) > self.used:
            raise _error(
                E.ProgrammingError,
                f"Incorrect number of bindings supplied.  The USING commands use {self.used} "
                f"and there are {len(values)} supplied",
                plan, plan.position,
            )


def _run(session: Session, sql: str, params: _Params | None = None) -> None:
    """Run SQL built from the user's texts the way galaxlite runs any statement: through the
    front end (AT VERSION, ``name@version``, SEMANTIC_MATCH, VECTOR(n) checks) and render."""
    plan = transpile.parse_statement(sql)
    values = params.take(plan) if params is not None else None
    rendered, values = rendering.render(session, plan, values)
    session.conn.execute(rendered, values).fetchall()  # (to the end, even with RETURNING)


def _rowid(names: Sequence[str]) -> str:
    """A name of the rowid that no column shadows."""
    taken = {n.lower() for n in names}
    for alias in ("rowid", "_rowid_", "oid"):
        if alias not in taken:
            return alias
    raise E.NotSupportedError(
        "a snapshot with columns named rowid, _rowid_ and oid cannot be processed "
        "(its rows cannot be addressed): rename one of them"
    )


def _collation(conn: apsw.Connection, schema: str | None, table: str | None,
               column: str | None) -> str | None:
    """The collation of a result column's source table column when it is a built-in one
    other than BINARY (NOCASE, RTRIM), else None. A snapshot column keeps it, so comparisons
    on the snapshot behave as on its source (as in openGauss)."""
    if table is None:
        return None
    collation = conn.column_metadata(schema, table, column)[1].upper()
    return collation if collation in ("NOCASE", "RTRIM") else None


def _check_addressable(plan: P.Plan, names: Sequence[str], position: int) -> None:
    """A snapshot must leave one of rowid / _rowid_ / oid free (MSS and CSS alike)."""
    try:
        _rowid(names)
    except E.NotSupportedError as exc:
        raise _error(E.NotSupportedError, str(exc), plan, position) from None


def _one(conn: apsw.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    return next(conn.execute(sql, params))[0]


# ---------------------------------------------------------------------- the working table


@dataclass
class _Work:
    """The working table W: its name, its columns (name, definition) in order, and — when
    its rows carry the rowids of the parent's matrix rows (CSS child of a CSS parent) — the
    parent's physical column of each inherited column (lower-cased name → column)."""

    table: str
    columns: list[tuple[str, str]]
    matrix: Snapshot | None = None
    inherited: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.columns]

    @property
    def temp(self) -> bool:
        return self.table in (_WORK, _WORK_FALLBACK)

    @property
    def ref(self) -> str:
        """W in SQL, qualified (the TEMP one too: SEMANTIC_* look a bare name up in main)."""
        return f"{'temp' if self.temp else 'main'}.{q(self.table)}"


def _passes(flags: Sequence[str], masks: Mapping[str, int], table: str = "") -> str:
    """SQL true for matrix rows with no bit of ``masks`` set and every flag at 1 (flags
    ``min``-ed 100 at a time: SQLite limits expression depth and function arguments)."""
    parts = [f"({table}{col} & {int(bits)}) = 0" for col, bits in sorted(masks.items())]
    cols = [f"{table}{f}" for f in flags]
    if len(cols) <= _MAX_ARGS:
        parts += cols
    else:
        parts += [f"min({', '.join(cols[i : i + _MAX_ARGS])})"
                  for i in range(0, len(cols), _MAX_ARGS)]
    return " AND ".join(parts) or "1"


def _member(snap: Snapshot, table: str = "") -> str:
    """SQL true for the matrix rows of CSS snapshot ``snap``."""
    rest = _passes(snap.flags, dict(snap.masks), table)
    return f"{table}_gl_rid <= {int(snap.top)}" + ("" if rest == "1" else f" AND {rest}")


def _source_sql(snap: Snapshot, rowid: bool = False) -> str:
    """``SELECT <columns> FROM <storage> [WHERE <membership>]``: the snapshot's rows (the body
    of its view); with ``rowid``, the storage rowid first, as ``_gl_rid``."""
    cols = ", ".join(f"{q(c.physical)} AS {q(c.name)}" for c in snap.columns)
    if rowid:
        rid = "_gl_rid" if snap.mode == "CSS" else _rowid([c.name for c in snap.columns])
        cols = f"{rid} AS _gl_rid, {cols}"
    where = f" WHERE {_member(snap)}" if snap.mode == "CSS" else ""
    return f"SELECT {cols} FROM {q(snap.storage)}{where}"


def _create_table(conn: apsw.Connection, table: str, columns: Sequence[tuple[str, str]],
                  temp: bool) -> None:
    defs = ", ".join(f"{q(n)} {d}".rstrip() for n, d in columns)
    sql = f"CREATE {'TEMP ' if temp else ''}TABLE {q(table)} ({defs})"
    conn.execute(transpile.parse_statement(sql).sql)  # the front end adds VECTOR(n) checks


def _new_work(session: Session, snap_id: int, mode: str, columns: list[tuple[str, str]],
              in_place: bool = True) -> _Work:
    """An empty W: the MSS table itself (``in_place``), or TEMP "snapshot"."""
    conn = session.conn
    if mode == "MSS" and in_place:
        table = f"_gl_s{snap_id}"
    else:
        taken = _one(conn, "SELECT count(*) FROM temp.sqlite_master WHERE name = ? "
                     "COLLATE NOCASE", (_WORK,))
        table = _WORK_FALLBACK if taken else _WORK
    _create_table(conn, table, columns, temp=table != f"_gl_s{snap_id}")
    return _Work(table, list(columns))


_NAMES_SNAPSHOT = re.compile(r"\bsnapshot\b", re.IGNORECASE)


def _work_from(session: Session, snap_id: int, mode: str, parent: Snapshot,
               pick: bool = False, commands: Sequence[P.SnapshotCommand] = ()) -> _Work:
    """W holding the parent's rows (only those in TEMP table _gl_pick when ``pick``); TEMP
    when a command may name ``snapshot`` (its correlation name, or a subquery's table)."""
    in_place = not any(_NAMES_SNAPSHOT.search(p) for c in commands for p in c.pieces[1:])
    work = _new_work(session, snap_id, mode, [(c.name, c.definition) for c in parent.columns],
                     in_place)
    names = ", ".join(q(n) for n in work.names)
    where = f" WHERE _gl_rid IN (SELECT r FROM temp.{_PICK})" if pick else ""
    source = f"(SELECT * FROM ({_source_sql(parent, rowid=True)}){where})"
    if mode == "CSS" and parent.mode == "CSS":
        work.matrix = parent
        work.inherited = {c.name.lower(): c.physical for c in parent.columns}
        rid = _rowid(work.names)
        session.conn.execute(
            f"INSERT INTO {work.ref} ({rid}, {names}) SELECT _gl_rid, {names} FROM {source}"
        )
    else:
        session.conn.execute(
            f"INSERT INTO {work.ref} ({names}) SELECT {names} FROM {source} ORDER BY _gl_rid"
        )
    return work


def _apply(session: Session, plan: P.Plan, work: _Work, cmd: P.SnapshotCommand, params: _Params,
           number: int) -> None:
    """Run one USING command on W."""
    what = f"USING command {number}: {' '.join(p for p in cmd.pieces if p)}"
    table = work.ref
    alias = q(cmd.alias) if cmd.alias else "snapshot"
    where = f" WHERE {cmd.where}" if cmd.where else ""
    with _blame(plan, cmd.position, what, internal=work.table):
        if cmd.op == "INSERT":
            _run(session, f"INSERT INTO {table} {cmd.insert}", params)
        elif cmd.op == "UPDATE":
            from_ = f" FROM {cmd.from_}" if cmd.from_ else ""
            _run(session, f"UPDATE {table} AS {alias} SET {cmd.set}{from_}{where}", params)
        elif cmd.op == "DELETE" and cmd.using:
            rid = _rowid(work.names)
            _run(
                session,
                f"DELETE FROM {table} WHERE {rid} IN (SELECT {alias}.{rid} FROM {table} AS "
                f"{alias}, {cmd.using}{where})",
                params,
            )
        elif cmd.op == "DELETE":
            _run(session, f"DELETE FROM {table} AS {alias}{where}", params)
        elif cmd.op == "ALTER":
            for action in cmd.alter:
                _alter(session, plan, work, action, cmd.position)
        else:  # pragma: no cover - the front end only produces the four operations
            raise E.NotSupportedError(f"unknown USING operation {cmd.op!r}")


def _alter(session: Session, plan: P.Plan, work: _Work, action: P.AlterAction, position: int) -> None:
    names = [n.lower() for n in work.names]
    col = action.column
    if action.action == "add":
        if col.lower() in names:
            raise _error(
                E.SnapshotError, f'column "{col}" already exists in current snapshot', plan,
                position,
            )
        _run(session, f"ALTER TABLE {work.ref} ADD COLUMN {q(col)} {action.definition}".rstrip())
        work.columns.append((col, action.definition))
        _check_addressable(plan, work.names, position)
        return
    if col.lower() not in names:
        if action.if_exists:
            return
        raise _error(
            E.SnapshotError,
            f"unable to map field \"{col}\" to backing table in DROP operation: '{action.text}'",
            plan, position,
        )
    _run(session, f"ALTER TABLE {work.ref} DROP COLUMN {q(col)}")
    del work.columns[names.index(col.lower())]
    work.inherited.pop(col.lower(), None)  # a column added again later is a new one


# ---------------------------------------------------------------------- storing W


def _matrix_columns(conn: apsw.Connection, matrix: str) -> list[tuple[str, str | None]]:
    """(name, default) of each column of a matrix table."""
    return [(r[1], r[4]) for r in conn.execute("SELECT * FROM pragma_table_info(?)", (matrix,))]


def _store_css(session: Session, snap_id: int, work: _Work) -> tuple[str, int, list[Column], dict]:
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
    conn = session.conn
    w = work.ref
    parent = work.matrix
    if parent is not None:
        matrix, matrix_id = parent.storage, parent.matrix_id
        _unguard(conn, matrix)
        flags, masks = list(parent.flags), dict(parent.masks)
        existing = [n for n, _ in _matrix_columns(conn, matrix)]
        numbers = [int(n[1:]) for n in existing if re.fullmatch(r"f\d+", n)]
        nxt = max(numbers, default=0) + 1
    else:
        matrix, matrix_id, flags, masks, nxt = f"_gl_m{snap_id}", snap_id, [], {}, 1
    m = q(matrix)
    columns: list[Column] = []
    added: list[Column] = []
    for name, definition in work.columns:
        physical = work.inherited.get(name.lower())
        if physical is None:
            physical, nxt = f"f{nxt}", nxt + 1
            added.append(Column(name, physical, definition))
        columns.append(Column(name, physical, definition))
    if parent is None:
        defs = ", ".join(f"{c.physical} {c.definition}".rstrip() for c in added)
        # _gl_x0 from the start: a row that later gets an exclusion bit then grows by the
        # bit's value only (0 bytes for bit 0, 1 for bits 1-6), not by a new column too
        conn.execute(f"CREATE TABLE {m} (_gl_rid INTEGER PRIMARY KEY, {defs}, "
                     "_gl_x0 INTEGER NOT NULL DEFAULT 0)")
    else:
        for c in added:
            _add_column(conn, matrix, f"{c.physical} {c.definition}".rstrip())
    rid = _rowid(work.names)
    shared = [c for c in columns if c not in added]
    conn.execute(f"DROP TABLE IF EXISTS temp.{_KEEP}")
    conn.execute(f"CREATE TEMP TABLE {_KEEP} (r INTEGER PRIMARY KEY)")
    if parent is not None and shared:  # parent rows whose every value (and its type) is unchanged
        same = _balanced("AND", [
            f"w.{q(c.name)} IS m.{c.physical} COLLATE BINARY "
            f"AND typeof(w.{q(c.name)}) = typeof(m.{c.physical})"
            for c in shared
        ])
        conn.execute(
            f"INSERT INTO temp.{_KEEP} SELECT w.{rid} FROM {w} AS w JOIN {m} AS m "
            f"ON m._gl_rid = w.{rid} WHERE {_member(parent, 'm.')} AND {same}"
        )
    kept_rows = f"(SELECT r FROM temp.{_KEEP})"
    top = _one(conn, f"SELECT coalesce(max(_gl_rid), 0) FROM {m}")
    if parent is not None:
        kept = _one(conn, f"SELECT count(*) FROM temp.{_KEEP}")
        passing = f"_gl_rid <= {top} AND {_passes(flags, masks)}"
        dropped = _one(conn, f"SELECT count(*) FROM {m} WHERE {passing}") - kept
        if 0 < dropped <= kept:
            col, bit = _free_bit(session, matrix)
            conn.execute(
                f"UPDATE {m} SET {col} = {col} | {bit} WHERE {passing} "
                f"AND _gl_rid NOT IN {kept_rows}"
            )
            masks[col] = masks.get(col, 0) | bit
        elif dropped > kept:
            flag = f"_s{snap_id}"
            _add_column(conn, matrix, f"{flag} INTEGER NOT NULL DEFAULT 0")
            conn.execute(f"UPDATE {m} SET {flag} = 1 WHERE _gl_rid IN {kept_rows}")
            flags.append(flag)
    # appended rows: ids above every snapshot's top (a purge may have deleted the rows at
    # the end, which a snapshot's range still covers); inclusion flags at 1 (exclusion bits
    # default to 0)
    (tops,) = next(conn.execute(
        "SELECT max(json_extract(membership, '$.top')) FROM db4ai_snapshot WHERE storage = ?",
        (matrix,),
    ))
    base = max(top, tops or 0)
    targets = ["_gl_rid"] + [q(c.physical) for c in columns] + flags
    values = [f"{base} + row_number() OVER (ORDER BY w.{rid})"]
    values += [f"w.{q(c.name)}" for c in columns] + ["1"] * len(flags)
    conn.execute(
        f"INSERT INTO {m} ({', '.join(targets)}) SELECT {', '.join(values)} FROM {w} AS w "
        f"WHERE w.{rid} NOT IN {kept_rows} ORDER BY w.{rid}"
    )
    if added and parent is not None:  # new columns of shared rows: only S and its children read them
        sets = ", ".join(f"{c.physical} = w.{q(c.name)}" for c in added)
        conn.execute(
            f"UPDATE {m} SET {sets} FROM {w} AS w WHERE {m}._gl_rid = w.{rid} "
            f"AND w.{rid} IN {kept_rows}"
        )
    conn.execute(f"DROP TABLE temp.{_KEEP}")
    conn.execute(f"DROP TABLE {w}")
    membership = {"top": _one(conn, f"SELECT coalesce(max(_gl_rid), 0) FROM {m}"),
                  "flags": flags, "masks": masks}
    _guard(conn, matrix)
    return matrix, matrix_id, columns, membership


def _free_bit(session: Session, matrix: str) -> tuple[str, int]:
    """An exclusion bit no snapshot of the matrix uses: (column _gl_x<j>, bit value); the
    column is added when all bits of the existing ones are taken. Bits freed by PURGE were
    cleared from every row, so any unused bit is clear everywhere."""
    conn = session.conn
    used: dict[str, int] = {}
    for (membership,) in conn.execute(
        "SELECT membership FROM db4ai_snapshot WHERE storage = ? AND membership IS NOT NULL",
        (matrix,),
    ):
        for col, bits in json.loads(membership)["masks"].items():
            used[col] = used.get(col, 0) | bits
    existing = {n for n, _ in _matrix_columns(conn, matrix)}
    for j in itertools.count():
        col = f"_gl_x{j}"
        if col not in existing:
            _add_column(conn, matrix, f"{col} INTEGER NOT NULL DEFAULT 0")
            return col, 1
        free = next((b for b in range(_BITS) if not used.get(col, 0) >> b & 1), None)
        if free is not None:
            return col, 1 << free
    raise AssertionError("unreachable")


_EVENTS = ("INSERT", "UPDATE", "DELETE")


def _guard(conn: apsw.Connection, table: str) -> None:
    """Make snapshot storage read-only for every client (snapshots are immutable); galaxlite
    lifts the guard (``_unguard``) inside its own transaction while it writes a matrix."""
    for event in _EVENTS:
        conn.execute(
            f"CREATE TRIGGER IF NOT EXISTS main.{q(f'{table}_read_only_{event.lower()}')} "
            f"BEFORE {event} ON {q(table)} "
            f"BEGIN SELECT RAISE(ABORT, 'galaxlite: snapshot storage {table} is "
            "read-only (snapshots are immutable: CREATE SNAPSHOT ... FROM makes a new "
            "version)'); END"
        )


def _unguard(conn: apsw.Connection, table: str) -> None:
    for event in _EVENTS:
        conn.execute(f"DROP TRIGGER IF EXISTS main.{q(f'{table}_read_only_{event.lower()}')}")


def _add_column(conn: apsw.Connection, matrix: str, definition: str) -> None:
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


def _store(session: Session, snap_id: int, mode: str,
           work: _Work) -> tuple[str, int | None, list[Column], dict | None]:
    """(storage table, matrix id, columns, CSS membership) of the finished W."""
    if mode == "CSS":
        return _store_css(session, snap_id, work)
    table = f"_gl_s{snap_id}"
    if work.table != table:  # built in TEMP "snapshot": copied into its own table
        conn = session.conn
        _create_table(conn, table, work.columns, temp=False)
        conn.execute(f"INSERT INTO main.{q(table)} SELECT * FROM {work.ref} "
                     f"ORDER BY {_rowid(work.names)}")
        conn.execute(f"DROP TABLE {work.ref}")
    _guard(session.conn, table)
    return table, None, [Column(n, n, d) for n, d in work.columns], None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _owner() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment (containers)
        return "galaxlite"


@contextmanager
def _catalog_writer(conn: apsw.Connection) -> Iterator[None]:
    """Open the catalog's guards for this transaction only (see schema/snapshots.sql)."""
    conn.execute("INSERT OR REPLACE INTO galaxlite_meta (key, value) VALUES (?, 1)", (_WRITER,))
    yield
    conn.execute("DELETE FROM galaxlite_meta WHERE key = ?", (_WRITER,))


def _register(session: Session, *, schema: str, prefix: str, version: str, name: str, mode: str,
              commands: Sequence[str], comment: str | None, parent: Snapshot | None,
              published: bool) -> int:
    """Add the catalog row (storage filled in by ``_finish``); its id."""
    conn = session.conn
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


def _finish(session: Session, snap_id: int, mode: str, work: _Work) -> Snapshot:
    """Store W, create the view, complete the catalog row."""
    conn = session.conn
    storage, matrix_id, columns, membership = _store(session, snap_id, mode, work)
    conn.execute(
        "UPDATE db4ai_snapshot SET storage = ?, matrix_id = ?, columns = ?, membership = ? "
        "WHERE id = ?",
        (storage, matrix_id, json.dumps([[c.name, c.physical, c.definition] for c in columns]),
         json.dumps(membership) if membership else None, snap_id),
    )
    snap = by_id(conn, snap_id)
    conn.execute(f"CREATE VIEW main.{q(snap.name)} AS {_source_sql(snap)}")
    count = _one(conn, f"SELECT count(*) FROM main.{q(snap.name)}")
    conn.execute("UPDATE db4ai_snapshot SET row_count = ? WHERE id = ?", (count, snap_id))
    return by_id(conn, snap_id)


# ---------------------------------------------------------------------- CREATE SNAPSHOT


def create(session: Session, plan: P.Plan, params: Params) -> list[tuple[str, str]]:
    """``CREATE SNAPSHOT ... AS <query>`` or ``CREATE SNAPSHOT ... FROM @v USING (...)``;
    the (schema, name) of the new snapshot."""
    d: P.CreateSnapshot = plan.detail
    s = settings(session, plan, d.name.position, (MODE, *_NAMING))
    schema = _schema(plan, d.name)
    with _catalog_writer(session.conn):
        if d.query is not None:
            snap = _create_root(session, plan, d, s, schema, params)
        else:
            snap = _create_derived(session, plan, d, s, schema, params)
    return [(snap.schema, snap.name)]


def _create_root(session: Session, plan: P.Plan, d: P.CreateSnapshot, s: Settings, schema: str,
                 params: Params) -> Snapshot:

    pos = d.name.position
    version = (
        _version_text(d.name.version, s, plan, pos) if d.name.version is not None
        else s.separator.join(("1", "0", "0"))
    )
    name = _full_name(plan, d.name.name, version, s, pos)
    _check_free(session, plan, schema, name, pos)
    conn = session.conn
    at = d.query_position
    with _blame(plan, at, text=d.query, base=at):
        query = transpile.parse_statement(d.query)
        if query is None or query.kind != P.READ:
            raise _error(
                E.SnapshotError, "CREATE SNAPSHOT ... AS needs a query (SELECT, WITH or VALUES)",
                plan, at,
            )
        sql, values = rendering.render(session, query, params)
    with _blame(plan, at, text=d.query if sql == d.query else None, base=at):
        described = describe(conn, sql, values, full=True)
    columns: list[tuple[str, str]] = []
    for col, decl, *origin in described or ():
        if col.lower() in (n.lower() for n, _ in columns):
            raise _error(E.SnapshotError, f'column "{col}" specified more than once', plan, at)
        collation = _collation(conn, *origin)
        columns.append((col, f"{decl or ''} COLLATE {collation}".strip() if collation
                        else decl or ""))
    _check_addressable(plan, [n for n, _ in columns], at)
    projection = d.projection if d.projection is not None else d.query
    commands = [projection, d.from_clause or "", ""]
    snap_id = _register(session, schema=schema, prefix=d.name.name, version=version, name=name,
                        mode=s.mode, commands=commands, comment=d.comment, parent=None,
                        published=True)
    work = _new_work(session, snap_id, s.mode, columns)
    with _blame(plan, at, "the snapshot's query"):
        conn.execute(f"INSERT INTO {work.ref} SELECT * FROM ({sql})", values)
    return _finish(session, snap_id, s.mode, work)


def _create_derived(session: Session, plan: P.Plan, d: P.CreateSnapshot, s: Settings, schema: str,
                    params: Params) -> Snapshot:
    pos = d.name.position
    parent = _lookup(session, plan, P.SnapshotName(d.name.schema, d.name.name, d.parent, pos), s,
                     what="parent snapshot")
    if d.name.version is not None:
        version = _version_text(d.name.version, s, plan, pos)
    else:
        version = _bumped(plan, parent, d.commands, s, pos)
    name = _full_name(plan, parent.prefix, version, s, pos)
    _check_free(session, plan, schema, name, pos)
    commands = [piece for cmd in d.commands for piece in cmd.pieces]
    snap_id = _register(session, schema=schema, prefix=parent.prefix, version=version, name=name,
                        mode=s.mode, commands=commands, comment=d.comment, parent=parent,
                        published=False)
    work = _work_from(session, snap_id, s.mode, parent, commands=d.commands)
    values = _Params(params)
    for number, cmd in enumerate(d.commands, 1):
        _apply(session, plan, work, cmd, values, number)
    values.check_all_used(plan)
    return _finish(session, snap_id, s.mode, work)


# ---------------------------------------------------------------------- SAMPLE SNAPSHOT


def _pg_array(items: Sequence[str]) -> str:
    """PostgreSQL's text form of a text array.

    >>> _pg_array(["name", "a b"])
    '{name,"a b"}'
    """
    def element(x: str) -> str:
        if x == "" or x.upper() == "NULL" or re.search(r'[{},"\\\s]', x):
            return '"' + x.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return x

    return "{" + ",".join(element(x) for x in items) + "}"


def _ratio_text(written: str) -> str:
    """A ratio as openGauss prints a numeric: ``0.8`` → ``.8``."""
    text = str(Decimal(written))
    return text[1:] if text.startswith("0.") else text


def _rank(value: Any) -> tuple:
    """A sort key that orders SQLite values of mixed types (NULL, numbers, text, blobs)."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, value) if isinstance(value, str) else (3, value)


def _draw(session: Session, parent: Snapshot, stratify: Sequence[Column],
          samples: Sequence[P.SampleSpec], seed: int | None) -> list[list[int]]:
    """The storage rowids of the parent's rows each sample takes.

    Rows are grouped by the STRATIFY BY values (one group without it); each group is put in
    a canonical order (by value, so the draw does not depend on the storage model), shuffled,
    and cut at round(size · cumulative ratio): every sample gets its ratio of each group,
    within rounding, and no row goes to two samples.
    """
    order = ", ".join(  # (SQLite allows 2000 ORDER BY terms: the first 500 columns decide)
        f"{q(c.name)} COLLATE BINARY, typeof({q(c.name)})" for c in parent.columns[:_ORDER_COLUMNS]
    )
    keys = "".join(f", {q(c.name)}" for c in stratify)
    groups: dict[tuple, list[int]] = {}
    for row in session.conn.execute(
        f"SELECT _gl_rid{keys} FROM ({_source_sql(parent, rowid=True)}) ORDER BY {order}"
    ):
        groups.setdefault(tuple(row[1:]), []).append(row[0])
    rng = random.Random(seed) if seed is not None else random.Random()
    picked: list[list[int]] = [[] for _ in samples]
    for key in sorted(groups, key=lambda k: tuple(_rank(v) for v in k)):
        rows = groups[key]
        rng.shuffle(rows)
        cumulative, start = Decimal(0), 0
        for i, spec in enumerate(samples):
            cumulative += Decimal(spec.ratio_text)
            end = int((cumulative * len(rows) + Decimal("0.5")).to_integral_value(ROUND_FLOOR))
            picked[i].extend(rows[start:end])
            start = end
    return picked


def sample(session: Session, plan: P.Plan, params: Params) -> list[tuple[str, str]]:
    """``SAMPLE SNAPSHOT name@v [STRATIFY BY ...] AS label AT RATIO r [, ...]``: one
    unpublished child per label, with disjoint rows; their (schema, name)."""
    d: P.SampleSnapshot = plan.detail
    s = settings(session, plan, d.name.position)
    pos = d.name.position
    parent = _lookup(session, plan, d.name, s, what="parent snapshot")
    by_name = {c.name.lower(): c for c in parent.columns}
    for col in d.stratify:
        if col.lower() not in by_name:
            raise _error(E.SnapshotError, f'column "{col}" does not exist', plan, pos)
    stratify = [by_name[c.lower()] for c in d.stratify]
    names = []
    total = Decimal(0)
    for spec in d.samples:
        ratio = Decimal(spec.ratio_text)
        if not 0 < ratio <= 1:
            raise _error(E.SnapshotError, "sample ratio must be between 0 and 1", plan, pos)
        total += ratio
        names.append(_full_name(plan, parent.prefix + spec.label, parent.version, s, pos,
                                what="sample snapshot"))
    if total > 1:
        raise _error(
            E.SnapshotError,
            f"sample ratios add up to {total} > 1: the samples of one SAMPLE statement get "
            "disjoint rows",
            plan, pos,
        )
    for name in names:
        _check_free(session, plan, SCHEMA, name, pos)
    if len({n.lower() for n in names}) < len(names):
        raise _error(E.DuplicateSnapshotError, "the samples' labels must differ", plan, pos)
    conn = session.conn
    # openGauss lists the stratification columns by increasing number of distinct values
    ranked = sorted(stratify, key=lambda c: _one(
        conn, f"SELECT count(DISTINCT {q(c.name)}) FROM ({_source_sql(parent)})"
    ))
    strat = f" {_pg_array([c.name for c in ranked])}" if ranked else ""
    picked = _draw(session, parent, stratify, d.samples, s.seed)
    out = []
    with _catalog_writer(conn):
        for spec, name, rows in zip(d.samples, names, picked, strict=True):
            conn.execute(f"DROP TABLE IF EXISTS temp.{_PICK}")
            conn.execute(f"CREATE TEMP TABLE {_PICK} (r INTEGER PRIMARY KEY)")
            conn.executemany(f"INSERT INTO temp.{_PICK} VALUES (?)", ((r,) for r in rows))
            command = f"SAMPLE {spec.label} {_ratio_text(spec.ratio_text)}{strat}"
            snap_id = _register(
                session, schema=SCHEMA, prefix=parent.prefix + spec.label, version=parent.version,
                name=name, mode=s.mode, commands=[command], comment=spec.comment, parent=parent,
                published=False,
            )
            work = _work_from(session, snap_id, s.mode, parent, pick=True)
            conn.execute(f"DROP TABLE temp.{_PICK}")
            snap = _finish(session, snap_id, s.mode, work)
            out.append((snap.schema, snap.name))
    return out


# ---------------------------------------------------------------------- PUBLISH / ARCHIVE / PURGE


def manage(session: Session, plan: P.Plan, params: Params) -> list[tuple[str, str]]:
    """``PUBLISH`` / ``ARCHIVE`` / ``PURGE SNAPSHOT name@version``; its (schema, name)."""
    d: P.ManageSnapshot = plan.detail
    s = settings(session, plan, d.name.position, _NAMING)
    snap = _lookup(session, plan, d.name, s)
    conn = session.conn
    with _catalog_writer(conn):
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
        raise _error(
            E.SnapshotError,
            f"cannot purge root snapshot '{_qualified(snap.schema, snap.name)}' having "
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
    matrix = q(snap.storage)
    if not others:
        conn.execute(f"DROP TABLE {matrix}")
        return
    used_by_others = _balanced("OR", [f"({_member(o)})" for o in others])
    _unguard(conn, snap.storage)
    conn.execute(f"DELETE FROM {matrix} WHERE {_member(snap)} AND NOT ({used_by_others})")
    # marks and physical columns no remaining view reads go (the purged snapshot's own marks
    # stay while its children's views test them); freed bits are cleared for reuse
    flags = {f for o in others for f in o.flags}
    bits: dict[str, int] = {}
    for o in others:
        for col, b in o.masks:
            bits[col] = bits.get(col, 0) | b
    physical = {c.physical for o in others for c in o.columns}
    for name, _ in _matrix_columns(conn, snap.storage):
        unused = (
            (re.fullmatch(r"_s\d+", name) and name not in flags)
            or (re.fullmatch(r"f\d+", name) and name not in physical)
            or (re.fullmatch(r"_gl_x\d+", name) and name != "_gl_x0" and not bits.get(name))
        )
        if unused:
            conn.execute(f"ALTER TABLE {matrix} DROP COLUMN {name}")
        elif freed := dict(snap.masks).get(name, 0) & ~bits.get(name, 0):
            conn.execute(f"UPDATE {matrix} SET {name} = {name} & ~{freed} WHERE {name} & {freed}")
    _guard(conn, snap.storage)


def _balanced(op: str, conditions: Sequence[str]) -> str:
    """``a OP b OP ...`` as a balanced tree (SQLite limits the depth of an expression).

    >>> _balanced("OR", ["a", "b", "c"])
    '(a OR (b OR c))'
    """
    if len(conditions) == 1:
        return conditions[0]
    half = len(conditions) // 2
    return f"({_balanced(op, conditions[:half])} {op} {_balanced(op, conditions[half:])})"
