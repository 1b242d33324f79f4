"""Property test of versioning: every tag and timestamp reads what a plain copy held then.

Hypothesis draws random sequences of writes on one or two versioned tables (INSERT with
and without keys, UPDATE by predicate and of the primary key, DELETE, UPSERT, INSERT OR
REPLACE, BULK INSERT ... VALUES / SELECT, ``Database.bulk_insert``, ``executemany`` on
both sides of the bulk threshold, explicit transactions committed or rolled back,
savepoints, steps through a second connection, closing and reopening the file) with
``CREATE VERSION TAG`` at random points.

Two oracles run beside galaxlite:

* a *shadow*: a plain in-memory SQLite database (apsw, no versioning) that runs the same
  statements. After every step the current tables, errors, ``rowcount`` and RETURNING
  rows must match it: versioning and the bulk paths change nothing a user can see now.
* *plain copies*: after every tag and after every top-level step, ``SELECT *`` of each
  table is copied into Python. At the end, ``AT VERSION 'tag'``, ``AT VERSION <µs>`` and
  ``AT VERSION ?`` / ``:name`` (str and int) must return exactly those copies (as
  multisets), for every tag and for timestamps inside every interval between steps.
  Every tag also gets a view per table (``CREATE VIEW ... AS SELECT * FROM t AT VERSION
  'tag'``), made when the tag is: at the end it must read the same copy, whatever was
  written after it (SQLite reruns a view's stored SQL, so its rewrite must not depend on
  what the file held when it was defined).
"""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import apsw
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import galaxlite

BULK_THRESHOLD = 64  # executemany of at least this many rows takes the trigger-free path

PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ------------------------------------------------------------------------------ table kinds

INTS = st.one_of(st.none(), st.integers(-3, 9))


@dataclass(frozen=True)
class Kind:
    """One shape of versioned table, with the values and SQL pieces the steps need."""

    label: str
    ddl: str  # "{t}" is the table's name
    columns: tuple[str, ...]  # SELECT * columns
    key_columns: tuple[str, ...]  # what names a row ("rowid" for the hidden-rowid table)
    value_columns: tuple[str, ...]
    auto_key: bool  # INSERT without the key columns assigns a key
    conflict: str  # UPSERT conflict target
    keys: st.SearchStrategy = field(repr=False)
    values: st.SearchStrategy = field(repr=False)
    many_row: Callable[[int], tuple] = field(repr=False)  # deterministic full row number n
    select_explicit: str = field(repr=False, default="")  # one "?" (an int)
    select_auto: str | None = field(repr=False, default=None)  # one "?" (an int)

    def __repr__(self) -> str:
        return self.label

    def insert_columns(self, explicit: bool) -> tuple[str, ...]:
        return (self.key_columns if explicit else ()) + self.value_columns

    def key_match(self) -> str:
        return " AND ".join(f"{k} = ?" for k in self.key_columns)

    def key_assign(self) -> str:
        return ", ".join(f"{k} = ?" for k in self.key_columns)


INTPK = Kind(
    "intpk",
    "CREATE TABLE {t} (id INTEGER PRIMARY KEY, name TEXT, v INTEGER)",
    ("id", "name", "v"),
    ("id",),
    ("name", "v"),
    True,
    "(id)",
    keys=st.tuples(st.integers(1, 12)),
    values=st.tuples(st.sampled_from(["p", "q", None]), INTS),
    many_row=lambda n: (n, f"n{n % 3}", n % 7),
    select_explicit="id + ?, name, v",
    select_auto="name, v + ?",
)
ROWID = Kind(
    "rowid",
    "CREATE TABLE {t} (name TEXT UNIQUE, v INTEGER, data BLOB)",
    ("name", "v", "data"),
    ("rowid",),
    ("name", "v", "data"),
    True,
    "(name)",
    keys=st.tuples(st.integers(1, 12)),
    values=st.tuples(
        st.sampled_from(["a", "b", "c", "d", "e", None]),
        INTS,
        st.sampled_from([None, b"", b"\x00", b"xy"]),
    ),
    many_row=lambda n: (n, f"m{n}", n % 7, bytes([n % 256])),
    select_explicit="rowid + ?, name || '+', v, data",
    select_auto="name || ?, v, data",
)
TEXTPK = Kind(
    "textpk",
    "CREATE TABLE {t} (key TEXT PRIMARY KEY, v INTEGER, note TEXT)",
    ("key", "v", "note"),
    ("key",),
    ("v", "note"),
    False,
    "(key)",
    # a TEXT PRIMARY KEY of a rowid table may be NULL (SQLite's legacy rule)
    keys=st.tuples(st.sampled_from(["a", "b", "c", "d", "e", "f", None])),
    values=st.tuples(INTS, st.sampled_from([None, "n1", "n2"])),
    many_row=lambda n: (f"k{n}", n % 7, None),
    select_explicit="key || ?, v, note",
)
COMPOSITE = Kind(
    "composite",
    "CREATE TABLE {t} (a INTEGER NOT NULL, b TEXT NOT NULL, v REAL, PRIMARY KEY (a, b))"
    " WITHOUT ROWID",
    ("a", "b", "v"),
    ("a", "b"),
    ("v",),
    False,
    "(a, b)",
    keys=st.tuples(st.integers(1, 4), st.sampled_from(["x", "y", "z"])),
    values=st.tuples(st.sampled_from([None, 0.5, -1.25, 3.0, 7.0])),
    many_row=lambda n: (n // 3, "xyz"[n % 3], n / 4),
    select_explicit="a + ?, b, v",
)
KINDS = (INTPK, ROWID, TEXTPK, COMPOSITE)

PREDICATES = ("v < ?", "v >= ?", "v IS NULL OR v = ?", "? IS NOT NULL", "v + ? > 2")
SETTERS = ("v = v + ?", "v = coalesce(v, 0) + ?", "v = ?")
INSERT_VERBS = (
    "INSERT",
    "INSERT OR IGNORE",
    "INSERT OR REPLACE",
    "REPLACE",
    "INSERT OR FAIL",
    "INSERT OR ABORT",
)
# BULK INSERT OR FAIL: test_bulk_insert_or_fail_is_all_or_nothing (SPEC: BULK is all-or-nothing)
BULK_VERBS = ("INSERT", "INSERT OR IGNORE", "INSERT OR REPLACE")
MANY_VERBS = ("INSERT", "INSERT OR IGNORE", "INSERT OR REPLACE", "UPSERT")

# ------------------------------------------------------------------------------------ steps


@dataclass(frozen=True)
class Insert:
    t: int
    verb: str
    explicit: bool
    rows: tuple[tuple, ...]
    returning: bool


@dataclass(frozen=True)
class Upsert:
    t: int
    rows: tuple[tuple, ...]
    returning: bool


@dataclass(frozen=True)
class Update:
    t: int
    setter: str
    predicate: str
    params: tuple[int, int]
    returning: bool


@dataclass(frozen=True)
class UpdateKey:
    t: int
    verb: str  # "UPDATE", "UPDATE OR REPLACE", "UPDATE OR IGNORE"
    old: tuple
    new: tuple


@dataclass(frozen=True)
class Delete:
    t: int
    predicate: str
    param: int
    returning: bool


@dataclass(frozen=True)
class DeleteKey:
    t: int
    key: tuple


@dataclass(frozen=True)
class BulkValues:
    t: int
    verb: str
    explicit: bool
    rows: tuple[tuple, ...]


@dataclass(frozen=True)
class InsertSelect:
    t: int
    bulk: bool
    verb: str
    explicit: bool
    shift: int
    predicate: str
    param: int


@dataclass(frozen=True)
class ApiBulk:
    t: int
    explicit: bool
    form: str  # tuples | dicts | arrow
    rows: tuple[tuple, ...]


@dataclass(frozen=True)
class ExecMany:
    t: int
    verb: str
    explicit: bool
    start: int
    n: int


@dataclass(frozen=True)
class ExecManyUpdate:
    t: int
    pairs: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Tag:
    form: str  # sql | api


@dataclass(frozen=True)
class Peek:
    """Read an existing tag now (inside transactions too) and compare with its copy."""

    t: int
    which: int


@dataclass(frozen=True)
class Savepoint:
    style: str  # sql | ctx (Database.transaction() nested)
    ops: tuple
    keep: bool


@dataclass(frozen=True)
class Txn:
    style: str  # sql | api | ctx
    ops: tuple
    keep: bool


@dataclass(frozen=True)
class OnOther:
    """Run a step through a second ``Database`` connection to the same file."""

    op: Any


@dataclass(frozen=True)
class Plain:
    """A write by a plain SQLite client (default pragmas: no recursive_triggers, so its
    REPLACE deletes conflicting rows without DELETE triggers)."""

    op: Any


@dataclass(frozen=True)
class Reopen:
    """Close the database and open the file again."""


@dataclass(frozen=True)
class Unversioned:
    """How a scenario's tables start: plain, made by ``creator`` ("galaxlite": CREATE TABLE
    ... WITHOUT VERSIONING; "plain": a plain SQLite client), written by ``ops`` (galaxlite
    and plain-client writes), tagged (a tag that must never see them), then put under
    versioning by ``ALTER TABLE t ENABLE VERSIONING`` ("sql"), ``Database.enable_versioning``
    ("api"), or both tables in one transaction ("txn"). Their oracle starts there."""

    creator: str
    ops: tuple
    enable: str


def _table(n: int) -> st.SearchStrategy[int]:
    return st.integers(0, n - 1)


def _explicit(kind: Kind) -> st.SearchStrategy[bool]:
    return st.booleans() if kind.auto_key else st.just(True)


def _rows(kind: Kind, explicit: bool, max_size: int) -> st.SearchStrategy[tuple]:
    row = (
        st.tuples(kind.keys, kind.values).map(lambda kv: kv[0] + kv[1]) if explicit else kind.values
    )
    return st.lists(row, min_size=1, max_size=max_size).map(tuple)


@st.composite
def insert_op(draw, kinds: Sequence[Kind]) -> Insert:
    t = draw(_table(len(kinds)))
    explicit = draw(_explicit(kinds[t]))
    return Insert(
        t,
        draw(st.sampled_from(INSERT_VERBS)),
        explicit,
        draw(_rows(kinds[t], explicit, 4)),
        draw(st.booleans()),
    )


@st.composite
def upsert_op(draw, kinds: Sequence[Kind]) -> Upsert:
    t = draw(_table(len(kinds)))
    kind = kinds[t]
    explicit = "rowid" not in kind.key_columns  # the conflict target must be insertable
    return Upsert(t, draw(_rows(kind, explicit, 3)), draw(st.booleans()))


@st.composite
def update_op(draw, kinds: Sequence[Kind]) -> Update:
    return Update(
        draw(_table(len(kinds))),
        draw(st.sampled_from(SETTERS)),
        draw(st.sampled_from(PREDICATES)),
        (draw(st.integers(-2, 5)), draw(st.integers(-2, 6))),
        draw(st.booleans()),
    )


@st.composite
def update_key_op(draw, kinds: Sequence[Kind]) -> UpdateKey:
    t = draw(_table(len(kinds)))
    verb = draw(
        st.sampled_from(("UPDATE", "UPDATE OR REPLACE", "UPDATE OR IGNORE", "UPDATE OR FAIL"))
    )
    return UpdateKey(t, verb, draw(kinds[t].keys), draw(kinds[t].keys))


@st.composite
def delete_op(draw, kinds: Sequence[Kind]) -> Delete:
    return Delete(
        draw(_table(len(kinds))),
        draw(st.sampled_from(PREDICATES)),
        draw(st.integers(-2, 6)),
        draw(st.booleans()),
    )


@st.composite
def delete_key_op(draw, kinds: Sequence[Kind]) -> DeleteKey:
    t = draw(_table(len(kinds)))
    return DeleteKey(t, draw(kinds[t].keys))


@st.composite
def bulk_values_op(draw, kinds: Sequence[Kind]) -> BulkValues:
    t = draw(_table(len(kinds)))
    explicit = draw(_explicit(kinds[t]))
    return BulkValues(
        t, draw(st.sampled_from(BULK_VERBS)), explicit, draw(_rows(kinds[t], explicit, 6))
    )


@st.composite
def insert_select_op(draw, kinds: Sequence[Kind]) -> InsertSelect:
    t = draw(_table(len(kinds)))
    explicit = draw(_explicit(kinds[t]))
    return InsertSelect(
        t,
        draw(st.booleans()),
        draw(st.sampled_from(BULK_VERBS)),
        explicit,
        draw(st.integers(0, 20)),
        draw(st.sampled_from(PREDICATES)),
        draw(st.integers(-2, 6)),
    )


@st.composite
def api_bulk_op(draw, kinds: Sequence[Kind]) -> ApiBulk:
    t = draw(_table(len(kinds)))
    explicit = draw(_explicit(kinds[t]))
    return ApiBulk(
        t,
        explicit,
        draw(st.sampled_from(("tuples", "dicts", "arrow"))),
        draw(_rows(kinds[t], explicit, 8)),
    )


@st.composite
def exec_many_op(draw, kinds: Sequence[Kind]) -> ExecMany:
    t = draw(_table(len(kinds)))
    n = draw(st.one_of(st.integers(1, BULK_THRESHOLD - 1), st.integers(BULK_THRESHOLD, 100)))
    return ExecMany(
        t, draw(st.sampled_from(MANY_VERBS)), draw(_explicit(kinds[t])), draw(st.integers(1, 30)), n
    )


@st.composite
def exec_many_update_op(draw, kinds: Sequence[Kind]) -> ExecManyUpdate:
    pairs = st.lists(st.tuples(st.integers(-2, 4), st.integers(-2, 8)), min_size=1, max_size=5)
    return ExecManyUpdate(draw(_table(len(kinds))), tuple(draw(pairs)))


def write_op(kinds: Sequence[Kind]) -> st.SearchStrategy:
    return st.one_of(
        insert_op(kinds),
        upsert_op(kinds),
        update_op(kinds),
        update_key_op(kinds),
        delete_op(kinds),
        delete_key_op(kinds),
        bulk_values_op(kinds),
        insert_select_op(kinds),
        api_bulk_op(kinds),
        exec_many_op(kinds),
        exec_many_update_op(kinds),
    )


def _tag_or_peek(kinds: Sequence[Kind]) -> st.SearchStrategy:
    return st.one_of(
        st.builds(Tag, st.sampled_from(("sql", "api"))),
        st.builds(Peek, _table(len(kinds)), st.integers(0, 50)),
    )


def savepoint_op(kinds: Sequence[Kind], styles: tuple[str, ...]) -> st.SearchStrategy:
    inner = st.one_of(write_op(kinds), _tag_or_peek(kinds))
    return st.builds(
        Savepoint,
        st.sampled_from(styles),
        st.lists(inner, min_size=1, max_size=4).map(tuple),
        st.booleans(),
    )


def txn_op(kinds: Sequence[Kind]) -> st.SearchStrategy:
    inner = st.one_of(write_op(kinds), _tag_or_peek(kinds), savepoint_op(kinds, ("sql", "ctx")))
    return st.builds(
        Txn,
        st.sampled_from(("sql", "api", "ctx")),
        st.lists(inner, min_size=1, max_size=5).map(tuple),
        st.booleans(),
    )


def top_op(kinds: Sequence[Kind]) -> st.SearchStrategy:
    return st.one_of(
        write_op(kinds),
        _tag_or_peek(kinds),
        txn_op(kinds),
        savepoint_op(kinds, ("sql",)),
        st.builds(OnOther, st.one_of(write_op(kinds), _tag_or_peek(kinds), txn_op(kinds))),
        st.builds(Plain, plain_write_op(kinds)),
        st.just(Reopen()),
    )


def plain_write_op(kinds: Sequence[Kind]) -> st.SearchStrategy:
    """The writes a plain client can make (no galaxlite syntax, no bulk API)."""
    return st.one_of(
        insert_op(kinds), upsert_op(kinds), update_op(kinds), update_key_op(kinds),
        delete_op(kinds), delete_key_op(kinds),
    )


def unversioned_start(kinds: Sequence[Kind]) -> st.SearchStrategy[Unversioned]:
    writes = st.one_of(write_op(kinds), st.builds(Plain, plain_write_op(kinds)))
    return st.builds(
        Unversioned,
        st.sampled_from(("galaxlite", "plain")),
        st.lists(writes, max_size=8).map(tuple),
        st.sampled_from(("sql", "api", "txn")),
    )


def contains_tag(op: Any) -> bool:
    if isinstance(op, Tag):
        return True
    if isinstance(op, OnOther):
        return contains_tag(op.op)
    return isinstance(op, Txn | Savepoint) and any(contains_tag(o) for o in op.ops)


# ---------------------------------------------------------------------------- the runner

Snapshot = dict[str, Counter]


_SHADOWS = itertools.count()


class PlainResult:
    def __init__(self, rows: list, rowcount: int, lastrowid: int):
        self.rows, self.rowcount, self.lastrowid = rows, rowcount, lastrowid

    def fetchall(self) -> list:
        return self.rows


class PlainWriter:
    """A plain SQLite client of the file (raw apsw, SQLite's default pragmas), standing in
    for ``Database`` in write steps; its errors come out as galaxlite's would."""

    def __init__(self, path: Path):
        self.conn = apsw.Connection(str(path))
        self.conn.set_busy_timeout(5000)

    def execute(self, sql: str, params: Any = ()) -> PlainResult:
        try:
            rows = self.conn.execute(sql, params).fetchall()
        except apsw.Error as exc:
            raise galaxlite.errors.from_apsw(exc) from None
        return PlainResult(rows, self.conn.changes(), self.conn.last_insert_rowid())

    def close(self) -> None:
        self.conn.close()


class _Rollback(Exception):
    """Raised inside ``Database.transaction()`` to roll it back."""


@dataclass
class TagRecord:
    name: str
    version: int
    snapshot: Snapshot
    alive: bool = True


@dataclass
class Checkpoint:
    version: int  # db.version right after a top-level step
    snapshot: Snapshot
    exact: bool  # the step that led here wrote at most one version


class Runner:
    """Runs steps on galaxlite and on the plain shadow, checking they agree as it goes."""

    def __init__(self, path: Path, kinds: Sequence[Kind], start: Unversioned | None = None):
        self.path = path
        self.db = galaxlite.Database(path)
        self.other = galaxlite.Database(path)
        # two connections to one in-memory shadow database, like db and other: lastrowid
        # and changes() are per connection
        self.shadow_uri = f"file:/shadow-{next(_SHADOWS)}?vfs=memdb"
        self.shadow = self._open_shadow()
        self.other_shadow = self._open_shadow()
        self.plain: PlainWriter | None = None  # a plain SQLite client, opened by its first step
        self.plain_shadow: apsw.Connection | None = None
        self.kinds = list(kinds)
        self.tables = [f"t{i}" for i in range(len(kinds))]
        self.created: dict[str, int] = {}  # the version each table's versions start at
        self.initial: dict[str, Counter] = {}  # and its rows then
        self.blind_tags: list[str] = []  # tags made before the tables were versioned
        self.tags: list[TagRecord] = []
        self.scopes: list[list[TagRecord]] = []
        self.counter = itertools.count()
        for name, kind in zip(self.tables, self.kinds, strict=True):
            ddl = kind.ddl.format(t=name)
            if start is None:
                self.db.execute(ddl)
            elif start.creator == "plain":
                self.open_plain().execute(ddl)
            else:
                self.db.execute(ddl + (", " if ddl.endswith("WITHOUT ROWID") else " ") + "WITHOUT VERSIONING")
            self.shadow.execute(ddl)
            self.created[name], self.initial[name] = self.db.version, Counter()
        if start is not None:
            self.enable_later(start)
        self.checkpoints = [Checkpoint(self.db.version, self.snapshot(), True)]

    def enable_later(self, start: Unversioned) -> None:
        """Write the plain tables, tag them, then put them under versioning (``start``)."""
        assert self.db.unversioned_tables() == self.tables
        for op in start.ops:
            self.run(op)
            self.snapshot()
        self.blind_tags.append("before versioning")
        self.db.create_tag(self.blind_tags[0])
        with self.db.transaction() if start.enable == "txn" else contextlib.nullcontext():
            for t in self.tables:
                if start.enable == "api":
                    self.created[t] = self.db.enable_versioning(t)
                else:
                    self.db.execute(f"ALTER TABLE {t} ENABLE VERSIONING")
                    self.created[t] = self.db.version
                self.initial[t] = self.read(f"SELECT * FROM {t}")
        if start.enable == "txn":
            assert len(set(self.created.values())) == 1, "one transaction, one version"
        assert self.db.unversioned_tables() == [] and self.db.versioned_tables() == self.tables

    def close(self) -> None:
        self.db.close()
        self.other.close()
        if self.plain is not None:
            self.plain.close()
            self.plain_shadow.close()
        self.shadow.close()
        self.other_shadow.close()

    # ----------------------------------------------------------------- reading

    def snapshot(self) -> Snapshot:
        """A plain copy of every table now (through galaxlite), checked against the shadow."""
        snap = {}
        for t in self.tables:
            mine = Counter(self.db.query(f"SELECT * FROM {t}"))
            theirs = Counter(self.shadow.execute(f"SELECT * FROM {t}"))
            assert mine == theirs, f"current {t} differs from plain SQLite"
            snap[t] = mine
        return snap

    def read(self, sql: str, params: Any = None) -> Counter:
        return Counter(self.db.query(sql, params))

    # ----------------------------------------------------------------- running

    def both(self, what: str, mine: Callable[[], Any], theirs: Callable[[], Any]) -> tuple | None:
        """Run one step on both sides: same success or failure (a constraint is IntegrityError)."""
        my_err = their_err = None
        my = their = None
        try:
            my = mine()
        except galaxlite.Error as exc:
            my_err = exc
        try:
            their = theirs()
        except apsw.Error as exc:
            their_err = exc
        assert (my_err is None) == (their_err is None), (
            f"{what}: galaxlite raised {my_err!r}, plain SQLite raised {their_err!r}"
        )
        if my_err is not None:
            assert isinstance(my_err, galaxlite.IntegrityError) == isinstance(
                their_err, apsw.ConstraintError
            ), f"{what}: {my_err!r} vs {their_err!r}"
            return None
        return my, their

    def statement(
        self,
        sql: str,
        params: Sequence[Any] = (),
        *,
        returning: bool = False,
        lastrowid: bool = False,
        plain_sql: str | None = None,
        atomic: bool = False,
    ) -> None:
        """One statement through ``Database.execute`` and the same one on the shadow.

        ``atomic``: the statement is all-or-nothing even where SQLite's own would keep part
        of its work (BULK INSERT OR FAIL), so the shadow runs it inside a savepoint.
        """

        def mine() -> tuple:
            r = self.db.execute(sql, params)
            return Counter(r.fetchall()), r.rowcount, r.lastrowid

        def theirs() -> tuple:
            if atomic:
                with self.shadow:
                    rows = Counter(self.shadow.execute(plain_sql or sql, params))
            else:
                rows = Counter(self.shadow.execute(plain_sql or sql, params))
            return rows, self.shadow.changes(), self.shadow.last_insert_rowid()

        out = self.both(sql, mine, theirs)
        if out is None:
            return
        (rows, count, rowid), (p_rows, p_count, p_rowid) = out
        assert count == p_count, f"{sql}: rowcount {count} != {p_count}"
        if returning:
            assert rows == p_rows, f"{sql}: RETURNING rows differ"
        if lastrowid:
            assert rowid == p_rowid, f"{sql}: lastrowid {rowid} != {p_rowid}"

    def many(
        self,
        what: str,
        mine: Callable[[], tuple[int, int | None]],
        sql: str,
        rows: Sequence[tuple],
        compare_rowid: bool = True,
    ) -> None:
        """A galaxlite multi-row call vs the statement run per row on the shadow, all-or-none."""

        def theirs() -> tuple[int, int]:
            total = 0
            with self.shadow:
                for row in rows:
                    self.shadow.execute(sql, row)
                    total += self.shadow.changes()
            return total, self.shadow.last_insert_rowid()

        out = self.both(what, mine, theirs)
        if out is None:
            return
        (count, rowid), (p_count, p_rowid) = out
        assert count == p_count, f"{what}: {count} rows != {p_count}"
        if compare_rowid and rowid is not None and p_count > 0:
            assert rowid == p_rowid, f"{what}: lastrowid {rowid} != {p_rowid}"

    def run(self, op: Any) -> None:
        getattr(self, "do_" + type(op).__name__)(op)

    def run_top(self, op: Any) -> None:
        """A top-level step, then a checkpoint (version and plain copies)."""
        before = self.checkpoints[-1].version
        self.run(op)
        assert not self.db.in_transaction
        version = self.db.version
        assert version >= before, "the clock went backwards"
        snap = self.snapshot()
        if snap != self.checkpoints[-1].snapshot:
            assert version > before, f"{op!r} changed data without a new version"
        # a plain client's statement draws a version per row: no single version between steps
        exact = not contains_tag(op) and not isinstance(op, Plain)
        self.checkpoints.append(Checkpoint(version, snap, exact))

    # ----------------------------------------------------------------- write steps

    def _values(self, n: int, rows: int) -> str:
        row = "(" + ", ".join("?" * n) + ")"
        return ", ".join([row] * rows)

    def do_Insert(self, op: Insert) -> None:
        kind, t = self.kinds[op.t], self.tables[op.t]
        cols = kind.insert_columns(op.explicit)
        sql = (
            f"{op.verb} INTO {t} ({', '.join(cols)}) VALUES {self._values(len(cols), len(op.rows))}"
        )
        sql += " RETURNING *" if op.returning else ""
        self.statement(sql, [v for r in op.rows for v in r], returning=op.returning, lastrowid=True)

    def do_Upsert(self, op: Upsert) -> None:
        kind, t = self.kinds[op.t], self.tables[op.t]
        cols = kind.insert_columns("rowid" not in kind.key_columns)
        sql = (
            f"INSERT INTO {t} ({', '.join(cols)}) VALUES {self._values(len(cols), len(op.rows))} "
            f"ON CONFLICT {kind.conflict} DO UPDATE "
            f"SET v = coalesce({t}.v, 0) + coalesce(excluded.v, 1)"
        )
        sql += " RETURNING *" if op.returning else ""
        self.statement(sql, [v for r in op.rows for v in r], returning=op.returning)

    def do_Update(self, op: Update) -> None:
        t = self.tables[op.t]
        sql = f"UPDATE {t} SET {op.setter} WHERE {op.predicate}"
        sql += " RETURNING *" if op.returning else ""
        self.statement(sql, op.params, returning=op.returning)

    def do_UpdateKey(self, op: UpdateKey) -> None:
        kind, t = self.kinds[op.t], self.tables[op.t]
        sql = f"{op.verb} {t} SET {kind.key_assign()} WHERE {kind.key_match()}"
        self.statement(sql, op.new + op.old)

    def do_Delete(self, op: Delete) -> None:
        t = self.tables[op.t]
        sql = f"DELETE FROM {t} WHERE {op.predicate}"
        sql += " RETURNING *" if op.returning else ""
        self.statement(sql, (op.param,), returning=op.returning)

    def do_DeleteKey(self, op: DeleteKey) -> None:
        kind, t = self.kinds[op.t], self.tables[op.t]
        self.statement(f"DELETE FROM {t} WHERE {kind.key_match()}", op.key)

    def do_BulkValues(self, op: BulkValues) -> None:
        kind, t = self.kinds[op.t], self.tables[op.t]
        cols = kind.insert_columns(op.explicit)
        body = (
            f"{op.verb} INTO {t} ({', '.join(cols)}) VALUES {self._values(len(cols), len(op.rows))}"
        )
        self.statement(
            "BULK " + body,
            [v for r in op.rows for v in r],
            plain_sql=body,
            lastrowid=True,
            atomic=True,
        )

    def do_InsertSelect(self, op: InsertSelect) -> None:
        kind, t = self.kinds[op.t], self.tables[op.t]
        explicit = op.explicit or kind.select_auto is None
        cols = kind.insert_columns(explicit)
        select = kind.select_explicit if explicit else kind.select_auto
        body = (
            f"{op.verb} INTO {t} ({', '.join(cols)}) SELECT {select} FROM {t} WHERE {op.predicate}"
        )
        sql = ("BULK " if op.bulk else "") + body
        self.statement(sql, (op.shift, op.param), plain_sql=body, lastrowid=True, atomic=op.bulk)

    def do_ApiBulk(self, op: ApiBulk) -> None:
        kind, t = self.kinds[op.t], self.tables[op.t]
        cols = kind.insert_columns(op.explicit)

        def mine() -> tuple[int, None]:
            if op.form == "tuples":
                return self.db.bulk_insert(t, list(op.rows), columns=cols), None
            if op.form == "dicts":
                return self.db.bulk_insert(
                    t, [dict(zip(cols, r, strict=True)) for r in op.rows]
                ), None
            table = pa.table({c: [r[i] for r in op.rows] for i, c in enumerate(cols)})
            return self.db.bulk_insert(t, table), None

        sql = f"INSERT INTO {t} ({', '.join(cols)}) VALUES {self._values(len(cols), 1)}"
        self.many(f"bulk_insert({op!r})", mine, sql, op.rows)

    def do_ExecMany(self, op: ExecMany) -> None:
        kind, t = self.kinds[op.t], self.tables[op.t]
        cols = kind.insert_columns(op.explicit)
        skip = 0 if op.explicit else len(kind.key_columns)
        rows = [kind.many_row(op.start + i)[skip:] for i in range(op.n)]
        verb = "INSERT" if op.verb == "UPSERT" else op.verb
        sql = f"{verb} INTO {t} ({', '.join(cols)}) VALUES {self._values(len(cols), 1)}"
        if op.verb == "UPSERT":
            sql += f" ON CONFLICT {kind.conflict} DO UPDATE SET v = excluded.v"

        def mine() -> tuple[int, int | None]:
            r = self.db.executemany(sql, rows)
            return r.rowcount, r.lastrowid

        self.many(f"executemany({op!r})", mine, sql, rows, compare_rowid=op.verb != "UPSERT")

    def do_ExecManyUpdate(self, op: ExecManyUpdate) -> None:
        sql = f"UPDATE {self.tables[op.t]} SET v = coalesce(v, 0) + ? WHERE v = ?"

        def mine() -> tuple[int, None]:
            return self.db.executemany(sql, list(op.pairs)).rowcount, None

        self.many(f"executemany({op!r})", mine, sql, op.pairs)

    # ----------------------------------------------------------------- tags and reads

    def do_Tag(self, op: Tag) -> None:
        name = f"tag {next(self.counter)}"
        if op.form == "api":
            version = self.db.create_tag(name)
        else:
            result = self.db.execute("CREATE VERSION TAG ?", (name,))
            (version,) = result.fetchall()[0]
        assert version == self.db.version, "a tag's version is the clock's version"
        for rec in self.tags:
            if rec.alive:
                assert version > rec.version, "tag versions must strictly increase"
        assert version > self.checkpoints[-1].version
        rec = TagRecord(name, version, self.snapshot())
        quoted = name.replace("'", "''")
        for t in self.tables:  # a view over the tag must keep reading it after later writes
            self.db.execute(f'CREATE VIEW "{self.view_of(rec, t)}" AS SELECT * FROM {t} AT VERSION \'{quoted}\'')
        self.tags.append(rec)
        if self.scopes:
            self.scopes[-1].append(rec)

    @staticmethod
    def view_of(rec: TagRecord, table: str) -> str:
        return f"{table} as of {rec.name}"

    def do_Peek(self, op: Peek) -> None:
        alive = [r for r in self.tags if r.alive]
        if not alive:
            return
        rec = alive[op.which % len(alive)]
        t = self.tables[op.t]
        got = self.read(f"SELECT * FROM {t} AT VERSION '{rec.name}'")
        assert got == rec.snapshot[t], f"{t} AT VERSION {rec.name!r} read while running {op!r}"

    def _open_shadow(self) -> apsw.Connection:
        flags = apsw.SQLITE_OPEN_URI | apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
        return apsw.Connection(self.shadow_uri, flags=flags)

    def _swap(self) -> None:
        self.db, self.other = self.other, self.db
        self.shadow, self.other_shadow = self.other_shadow, self.shadow

    def do_OnOther(self, op: OnOther) -> None:
        self._swap()
        try:
            self.run(op.op)
        finally:
            self._swap()

    def open_plain(self) -> PlainWriter:
        """The plain client (its own connection on both sides: lastrowid and changes() are
        per connection)."""
        if self.plain is None:
            self.plain, self.plain_shadow = PlainWriter(self.path), self._open_shadow()
        return self.plain

    def do_Plain(self, op: Plain) -> None:
        self.open_plain()
        self.db, self.plain = self.plain, self.db
        self.shadow, self.plain_shadow = self.plain_shadow, self.shadow
        try:
            self.run(op.op)
        finally:
            self.db, self.plain = self.plain, self.db
            self.shadow, self.plain_shadow = self.plain_shadow, self.shadow

    def do_Reopen(self, op: Reopen) -> None:
        self.db.close()
        self.db = galaxlite.Database(self.path)
        self.shadow.close()
        self.shadow = self._open_shadow()

    # ----------------------------------------------------------------- transactions

    def _close_scope(self, keep: bool) -> None:
        scope = self.scopes.pop()
        if keep:
            if self.scopes:
                self.scopes[-1].extend(scope)
        else:
            for rec in scope:
                rec.alive = False

    def do_Txn(self, op: Txn) -> None:
        self.scopes.append([])
        if op.style == "ctx":
            try:
                with self.db.transaction():
                    self.shadow.execute("BEGIN")
                    self._run_all(op.ops)
                    if not op.keep:
                        raise _Rollback
            except _Rollback:
                pass
        else:
            if op.style == "sql":
                self.db.execute("BEGIN")
            else:
                self.db.begin()
            self.shadow.execute("BEGIN")
            self._run_all(op.ops)
            if op.style == "sql":
                self.db.execute("COMMIT" if op.keep else "ROLLBACK")
            elif op.keep:
                self.db.commit()
            else:
                self.db.rollback()
        self.shadow.execute("COMMIT" if op.keep else "ROLLBACK")
        self._close_scope(op.keep)

    def do_Savepoint(self, op: Savepoint) -> None:
        name = f"sp{next(self.counter)}"
        self.scopes.append([])
        self.shadow.execute(f"SAVEPOINT {name}")
        if op.style == "ctx":
            try:
                with self.db.transaction():
                    self._run_all(op.ops)
                    if not op.keep:
                        raise _Rollback
            except _Rollback:
                pass
        else:
            self.db.execute(f"SAVEPOINT {name}")
            self._run_all(op.ops)
            if not op.keep:
                self.db.execute(f"ROLLBACK TO {name}")
            self.db.execute(f"RELEASE {name}")
        if not op.keep:
            self.shadow.execute(f"ROLLBACK TO {name}")
        self.shadow.execute(f"RELEASE {name}")
        self._close_scope(op.keep)

    def _run_all(self, ops: Sequence[Any]) -> None:
        for o in ops:
            self.run(o)
            self.snapshot()  # the current state agrees with plain SQLite inside, too

    # ----------------------------------------------------------------- the final check

    def verify(self) -> None:
        """Every tag, and timestamps in every interval between steps, read their copies."""
        for rec in self.tags:
            self.verify_tag(rec)
        for before, after in itertools.pairwise(self.checkpoints):
            if not after.exact or after.version - 1 < before.version:
                continue
            lo, hi = before.version, after.version - 1
            for ts in sorted({lo, (lo + hi) // 2, hi}):
                self.verify_timestamp(ts, before.snapshot)
        last = self.checkpoints[-1]
        self.verify_timestamp(last.version, last.snapshot)
        for t, kind in zip(self.tables, self.kinds, strict=True):
            result = self.db.execute(f"SELECT * FROM {t} AT VERSION {self.created[t]}")
            assert Counter(result.fetchall()) == self.initial[t], "a table's first version"
            assert result.columns == list(kind.columns)
            with pytest.raises(galaxlite.TableNotAtVersionError):
                self.db.execute(f"SELECT * FROM {t} AT VERSION {self.created[t] - 1}")
            for name in self.blind_tags:
                with pytest.raises(galaxlite.TableNotAtVersionError):
                    self.db.execute(f"SELECT * FROM {t} AT VERSION ?", (name,))

    def verify_tag(self, rec: TagRecord) -> None:
        t0 = self.tables[0]
        if not rec.alive:
            with pytest.raises(galaxlite.UnknownTagError):
                self.db.execute(f"SELECT * FROM {t0} AT VERSION ?", (rec.name,))
            assert rec.name not in {tag.name for tag in self.db.tags()}
            return
        assert self.db.tag_version(rec.name) == rec.version
        for t in self.tables:
            want = rec.snapshot[t]
            quoted = rec.name.replace("'", "''")
            assert self.read(f"SELECT * FROM {t} AT VERSION '{quoted}'") == want, (t, rec.name)
            assert self.read(f"SELECT * FROM {t} AT VERSION ?", (rec.name,)) == want
            assert self.read(f"SELECT * FROM {t} AT VERSION :v", {"v": rec.name}) == want
            assert self.read(f"SELECT * FROM {t} AT VERSION {rec.version}") == want
            assert self.read(f"SELECT * FROM {t} AT VERSION ?", (rec.version,)) == want
            # no ties: everything the tag sees was written strictly before its version
            assert self.read(f"SELECT * FROM {t} AT VERSION :v", {"v": rec.version - 1}) == want
            assert self.read(f'SELECT * FROM "{self.view_of(rec, t)}"') == want, (t, rec.name, "view")

    def verify_timestamp(self, ts: int, snap: Snapshot) -> None:
        for t in self.tables:
            got = self.read(f"SELECT * FROM {t} AT VERSION {ts}")
            assert got == snap[t], f"{t} AT VERSION {ts}"
            assert self.read(f"SELECT * FROM {t} AT VERSION ?", (ts,)) == snap[t]


def run_scenario(kinds: Sequence[Kind], ops: Sequence[Any], start: Unversioned | None = None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        runner = Runner(Path(folder) / "p.db", kinds, start)
        try:
            for op in ops:
                runner.run_top(op)
            runner.verify()
        finally:
            runner.close()


# ------------------------------------------------------------------------------------ tests


@PROPERTY_SETTINGS
@given(st.data())
def test_random_history_on_two_tables(data: st.DataObject) -> None:
    """One or two tables of random kinds; steps may touch either, in one transaction too."""
    kinds = data.draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=2), label="kinds")
    ops = data.draw(st.lists(top_op(kinds), min_size=4, max_size=40), label="steps")
    run_scenario(kinds, ops)


@pytest.mark.parametrize("kind", KINDS, ids=[k.label for k in KINDS])
@settings(PROPERTY_SETTINGS, max_examples=60)
@given(data=st.data())
def test_random_history_per_table_kind(kind: Kind, data: st.DataObject) -> None:
    """Each table shape alone: INTEGER PRIMARY KEY, hidden rowid, TEXT key, WITHOUT ROWID."""
    ops = data.draw(st.lists(top_op([kind]), min_size=4, max_size=40), label="steps")
    run_scenario([kind], ops)


@settings(PROPERTY_SETTINGS, max_examples=60)
@given(st.data())
def test_random_history_of_tables_versioned_later(data: st.DataObject) -> None:
    """Tables that start plain (WITHOUT VERSIONING, or made by a plain client), are written,
    then put under versioning: from then on, the same property as tables versioned from birth."""
    kinds = data.draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=2), label="kinds")
    start = data.draw(unversioned_start(kinds), label="start")
    ops = data.draw(st.lists(top_op(kinds), min_size=2, max_size=30), label="steps")
    run_scenario(kinds, ops, start)


@pytest.mark.parametrize("creator", ["galaxlite", "plain"])
def test_scenario_versioned_later_runs_clean(creator: str) -> None:
    """A fixed scenario of a table versioned later (so the start is exercised every run)."""
    start = Unversioned(
        creator,
        (Insert(0, "INSERT", False, (("p", 1), ("q", 2)), False),
         Plain(Insert(0, "REPLACE", True, ((1, "r", 3),), False)),
         ApiBulk(0, True, "tuples", ((7, "b", 7),))),
        "api" if creator == "plain" else "sql",
    )
    ops = [
        Tag("sql"),
        Plain(Update(0, "v = v + ?", "v >= ?", (1, 2), False)),
        Plain(Insert(0, "REPLACE", True, ((2, "plain", 2),), False)),
        Plain(DeleteKey(0, (1,))),
        Tag("api"),
        Plain(Upsert(0, ((7, "u", 5),), False)),
        Peek(0, 0),
    ]
    run_scenario([INTPK], ops, start)


def test_scenario_with_every_step_kind_runs_clean() -> None:
    """A fixed scenario that uses each step type once, so none is silently never exercised."""
    ops = [
        Insert(0, "INSERT", False, (("p", 1), ("q", 2)), True),
        Tag("sql"),
        Upsert(0, ((1, "r", 5), (9, "s", 9)), True),
        Update(0, "v = v + ?", "v >= ?", (1, 2), True),
        ExecMany(0, "INSERT", False, 1, BULK_THRESHOLD + 6),
        Tag("api"),
        UpdateKey(0, "UPDATE OR REPLACE", (1,), (2,)),
        Delete(0, "v < ?", 3, True),
        DeleteKey(0, (9,)),
        BulkValues(0, "INSERT OR REPLACE", True, ((3, "x", 1), (200, "y", 2))),
        InsertSelect(0, True, "INSERT", False, 1, "v >= ?", 5),
        ApiBulk(0, False, "arrow", (("a", 1), (None, None))),
        ExecMany(0, "INSERT OR REPLACE", True, 1, BULK_THRESHOLD),
        ExecManyUpdate(0, ((1, 1), (2, 2))),
        Txn("sql", (Insert(0, "INSERT", False, (("t", 1),), False), Tag("sql"), Peek(0, 0)), True),
        Txn("ctx", (Delete(0, "? IS NOT NULL", 0, False), Tag("api")), False),
        Savepoint("sql", (Update(0, "v = ?", "? IS NOT NULL", (7, 0), False),), False),
        Txn("api", (Savepoint("ctx", (Tag("api"), DeleteKey(0, (3,))), False), Peek(0, 1)), True),
        OnOther(Txn("sql", (Update(0, "v = ?", "v >= ?", (1, 0), False), Tag("sql")), True)),
        Reopen(),
        OnOther(ExecMany(0, "INSERT", False, 1, BULK_THRESHOLD)),
        Peek(0, 2),
        Tag("sql"),
        Plain(Insert(0, "REPLACE", True, ((1, "plain", 1), (2, "plain", 2)), False)),
        Plain(Upsert(0, ((1, "u", 5),), False)),
        Plain(Update(0, "v = v + ?", "v >= ?", (1, 2), False)),
        Plain(DeleteKey(0, (2,))),
        Peek(0, 3),
    ]
    run_scenario([INTPK], ops)


# ------------------------------------------------------------- behaviours the shadow found


def test_insert_or_fail_keeps_rows_before_the_failure(db: galaxlite.Database) -> None:
    """``INSERT OR FAIL`` keeps the rows inserted before the failing one, as in SQLite."""
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE)")
    db.execute("INSERT INTO t VALUES (1, 1)")
    with pytest.raises(galaxlite.IntegrityError):
        db.execute("INSERT OR FAIL INTO t VALUES (2, 2), (3, 1), (4, 4)")
    assert db.query("SELECT * FROM t ORDER BY id") == [(1, 1), (2, 2)]


def test_bulk_insert_or_fail_is_all_or_nothing(db: galaxlite.Database) -> None:
    """SPEC §2: BULK INSERT is all-or-nothing, so unlike INSERT OR FAIL (which keeps the rows
    before the failing one) BULK INSERT OR FAIL keeps none."""
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER UNIQUE)")
    db.execute("INSERT INTO t VALUES (1, 1)")
    before = db.version
    with pytest.raises(galaxlite.IntegrityError):
        db.execute("BULK INSERT OR FAIL INTO t VALUES (2, 2), (3, 1), (4, 4)")
    assert db.query("SELECT * FROM t ORDER BY id") == [(1, 1)]
    assert db.version == before


def test_bulk_insert_lastrowid_is_the_last_row_inserted(db: galaxlite.Database) -> None:
    """BULK INSERT gives the same ``lastrowid`` as INSERT: the rowid of the last row."""
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
    assert db.execute("INSERT INTO t VALUES (20, 0), (17, 0)").lastrowid == 17
    assert db.execute("BULK INSERT INTO t VALUES (30, 0), (27, 0)").lastrowid == 27


def test_tags_do_not_change_lastrowid(db: galaxlite.Database) -> None:
    """An INSERT that inserts nothing reports the previous insert's rowid, tag or no tag."""
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
    assert db.execute("INSERT INTO t VALUES (5, 0)").lastrowid == 5
    db.create_tag("v1")
    assert db.execute("INSERT OR IGNORE INTO t VALUES (5, 1)").lastrowid == 5


def test_lastrowid_of_without_rowid_insert(db: galaxlite.Database) -> None:
    """Inserting into a WITHOUT ROWID table leaves lastrowid as plain SQLite does (0 here)."""
    db.execute("CREATE TABLE w (a INTEGER, b TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID")
    plain = apsw.Connection(":memory:")
    plain.execute("CREATE TABLE w (a INTEGER, b TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID")
    plain.execute("INSERT INTO w VALUES (1, 'x')")
    assert db.execute("INSERT INTO w VALUES (1, 'x')").lastrowid == plain.last_insert_rowid() == 0


@pytest.mark.parametrize("verb", ["INSERT", "BULK INSERT"])
def test_restore_the_past_into_the_present(db: galaxlite.Database, verb: str) -> None:
    """``INSERT ... SELECT ... FROM t AT VERSION 'x'`` writes the past back as a new version;
    the tag it read from is untouched."""
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, v INTEGER)")
    db.execute("INSERT INTO t (name, v) VALUES ('a', 1), ('b', 2), ('c', 3)")
    db.create_tag("v1")
    then = Counter(db.query("SELECT * FROM t"))
    db.execute("UPDATE t SET v = v * 10")
    db.execute("DELETE FROM t WHERE name = 'b'")
    db.create_tag("v2")
    mid = Counter(db.query("SELECT * FROM t"))
    db.execute("DELETE FROM t")
    result = db.execute(f"{verb} INTO t SELECT * FROM t AT VERSION 'v1' WHERE v >= ?", (2,))
    assert result.rowcount == 2
    assert Counter(db.query("SELECT * FROM t")) == Counter([(2, "b", 2), (3, "c", 3)])
    assert Counter(db.query("SELECT * FROM t AT VERSION 'v1'")) == then
    assert Counter(db.query("SELECT * FROM t AT VERSION 'v2'")) == mid
    db.create_tag("v3")
    assert Counter(db.query("SELECT * FROM t AT VERSION 'v3'")) == Counter(
        [(2, "b", 2), (3, "c", 3)]
    )
