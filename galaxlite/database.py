"""``galaxlite.Database``: a versioned SQLite database in one file.

>>> import tempfile, os
>>> db = Database(os.path.join(tempfile.mkdtemp(), "shop.db"))
>>> _ = db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
>>> _ = db.execute("INSERT INTO items (name) VALUES ('apple')")
>>> v1 = db.create_tag("v1")
>>> _ = db.execute("UPDATE items SET name = 'pear'")
>>> db.query("SELECT name FROM items AT VERSION 'v1'")
[('apple',)]
>>> db.query("SELECT name FROM items")
[('pear',)]
>>> db.close()
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import apsw

from galaxlite import clock, schema, semantic, snapshots, storage, transpile
from galaxlite import errors as E
from galaxlite.params import Params, bound_value
from galaxlite.transpile import plan as P
from galaxlite.transpile import quote_identifier as q

DATABASE_FILE = "galaxlite.db"  # the file inside a database directory
RESERVED_PREFIXES = ("_gl_", "galaxlite_")
_BULK_EXECUTEMANY_MIN = 64  # executemany of at least this many INSERTs takes the bulk path


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
    content_hash: str  # "sha256:<hex>", see galaxlite.export.content_hash
    created_us: int


_SEED_BITS = 2**64  # seeds are uint64; SQLite stores int64: seeds >= 2^63 as seed - 2^64


def _seed_to_sql(seed: int | None) -> int | None:
    return seed - _SEED_BITS if seed is not None and seed >= _SEED_BITS // 2 else seed


def _seed_from_sql(seed: int | None) -> int | None:
    return None if seed is None else seed % _SEED_BITS


class Result:
    """The rows and metadata of one executed statement.

    Iterate it, or use ``fetchone``/``fetchmany``/``fetchall``. ``description`` holds PEP 249
    7-tuples (name, declared type, None, ...), and stays valid after the last row.
    ``rowcount`` is the number of rows changed by INSERT/UPDATE/DELETE (-1 otherwise);
    ``lastrowid`` the rowid of the last inserted row.
    """

    __slots__ = ("_rows", "_raw_description", "_source", "rowcount", "lastrowid")

    def __init__(
        self,
        rows: Iterator[tuple],
        raw_description: tuple | None = None,
        source: tuple | None = None,
        rowcount: int = -1,
        lastrowid: int | None = None,
    ):
        self._rows = rows
        self._raw_description = raw_description
        self._source = source  # (connection, sql, params): to describe a finished statement
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    @property
    def description(self) -> tuple | None:
        raw = self._raw_description
        if raw is None and self._source is not None:
            conn, sql, params = self._source
            try:
                raw = self._rows.get_description()  # still running
            except (apsw.ExecutionCompleteError, AttributeError):
                raw = _describe(conn, sql, params)
            self._raw_description, self._source = raw, None
        if not raw:
            return None
        return tuple((name, decl, None, None, None, None, None) for name, decl in raw)

    @property
    def columns(self) -> list[str]:
        return [d[0] for d in self.description or ()]

    def __iter__(self) -> Iterator[tuple]:
        return self

    def __next__(self) -> tuple:
        try:
            return next(self._rows)
        except apsw.Error as exc:  # an error met while stepping (overflow, interrupt, ...)
            raise E.from_apsw(exc) from None

    def fetchone(self) -> tuple | None:
        try:
            return next(self._rows, None)
        except apsw.Error as exc:
            raise E.from_apsw(exc) from None

    def fetchmany(self, size: int = 1) -> list[tuple]:
        return list(itertools.islice(self, size))

    def fetchall(self) -> list[tuple]:
        try:
            return list(self._rows)
        except apsw.Error as exc:
            raise E.from_apsw(exc) from None


def _locate(path: str | Path) -> tuple[str, Path | None]:
    """(SQLite file name, exports folder) for a file path, a directory path or ':memory:'."""
    if str(path) == ":memory:":
        return ":memory:", None
    p = Path(path)
    if p.is_dir() or (not p.exists() and p.suffix == ""):
        p.mkdir(parents=True, exist_ok=True)
        return str(p / DATABASE_FILE), p / "exports"
    if not p.parent.exists():
        raise E.OperationalError(f"cannot open database {str(p)!r}: folder {str(p.parent)!r} does not exist")
    return str(p), p.parent / (p.name + ".exports")


def _describe(conn: apsw.Connection, sql: str, params: Params, full: bool = False) -> tuple | None:
    """Column names and declared types of ``sql``, found by preparing it without running it
    (``full``: apsw's ``description_full``, which adds each column's origin database, table
    and column)."""
    found: list[tuple] = []

    def tracer(cursor: apsw.Cursor, _sql: str, _bindings: Any) -> bool:
        found.append(cursor.description_full if full else cursor.get_description())
        return False

    cur = conn.cursor()
    cur.exec_trace = tracer
    try:
        cur.execute(sql, params)
    except apsw.ExecTraceAbort:
        pass
    return found[0] if found else None


class Database:
    """A galaxlite database: one SQLite file whose ordinary tables are all versioned.

    ``path`` names a file (``shop.db``), a directory (``./data``, which then holds
    ``galaxlite.db`` and the ``exports/`` folder), or ``":memory:"``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        timeout: float = 5.0,
        foreign_keys: bool = True,
        embedder: str | None = None,
    ):
        self.path = str(path)
        self.filename, self.exports_dir = _locate(path)
        try:
            self._conn = apsw.Connection(self.filename)
            self._conn.set_busy_timeout(int(timeout * 1000))
            if self.filename != ":memory:" and self._conn.pragma("journal_mode") != "wal":
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(
                f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}; PRAGMA synchronous = NORMAL"
            )
            # changes() must count the user's statement, not the clock bookkeeping after it.
            self._conn.create_scalar_function("changes", lambda: self._changes, 0)
            if not all(  # no write lock when the catalog is complete
                self._conn.table_exists("main", t)
                for t in (
                    "galaxlite_clock", "galaxlite_embeddings", "galaxlite_embedding_columns",
                    "db4ai_snapshot", "galaxlite_exports",
                )
            ):
                with self._conn:
                    self._conn.execute(schema.catalog_sql())
                self._conn.set_last_insert_rowid(0)
        except apsw.Error as exc:
            raise E.from_apsw(exc) from None
        self._plans: dict[str, P.Plan | None] = {}
        self._plain_reads: set[str] = set()  # SQL texts that run as written (no rewrite)
        self._outer_savepoint: str | None = None
        self._changes = 0  # what SQL changes() reports: rows changed by the last user write
        # True once the open transaction holds its version (see clock.py): every later write
        # in it skips the pin. Reset whenever the transaction ends or may have lost the pin.
        self._pinned = False
        self._conn.set_commit_hook(self._transaction_ended)
        self._conn.set_rollback_hook(self._transaction_ended)
        self._schema_clauses: frozenset[str] | None = None  # REPLACE/FAIL used in the schema
        # SET db4ai_* parameters of this session (over ALTER DATABASE SET ones; snapshots.py)
        self._snapshot_settings: dict[str, str] = {}
        # SEMANTIC_MATCH / SEMANTIC_SCORE, the embedding cache, vector() and list/array bindings;
        # ``embedder``: the default embedder's name (None: a column's recorded one, else minilm)
        try:
            self._semantic = semantic.SemanticEngine(self._conn, embedder)
            self._semantic.install()
        except BaseException:
            self._conn.close()
            self._conn = None
            raise

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the database. An open transaction is rolled back."""
        conn = getattr(self, "_conn", None)
        if conn is None:
            return
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        finally:
            conn.close()
            self._conn = None

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._conn is None

    @property
    def in_transaction(self) -> bool:
        return self._live.in_transaction

    @property
    def _live(self) -> apsw.Connection:
        conn = self._conn
        if conn is None:
            raise E.InterfaceError("the database is closed")
        return conn

    # ------------------------------------------------------------------ SQL

    def execute(self, sql: str, parameters: Params = None, _cursor: apsw.Cursor | None = None) -> Result:
        """Run one statement (SQLite or galaxlite syntax) and return its result.

        (``_cursor``: an apsw cursor to run a plain query on, which the DB-API reuses.)

        >>> db = Database(":memory:")
        >>> db.execute("SELECT 1 + ?", (1,)).fetchone()
        (2,)
        """
        if sql in self._plain_reads:  # the hot path: a plain query, run as written
            conn = self._conn
            if conn is None:
                raise E.InterfaceError("the database is closed")
            cur = _cursor or conn.cursor()
            try:
                cur.execute(sql, parameters)
            except _BIND_ERRORS as exc:
                raise _binding_error(exc, sql) from None
            return Result(cur, None, (conn, sql, parameters))
        plan = self._plans.get(sql)
        if plan is None:
            plan = self._plan(sql)
            if plan is None:
                return Result(iter(()))
        return _RUNNERS[plan.kind](self, plan, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Params]) -> Result:
        """Run one statement once per parameter set, as one version.

        A plain ``INSERT`` into a versioned table with many parameter sets takes the bulk
        path (no per-row trigger work), with the same result.
        """
        plan = self._plans.get(sql) or self._plan(sql)
        if plan is None:
            return Result(iter(()))
        if plan.kind not in (P.WRITE, P.BULK_INSERT, P.READ, P.OTHER):
            raise E.ProgrammingError(f"executemany() cannot run a {plan.kind.replace('_', ' ')} statement")
        if plan.refs:
            raise E.NotSupportedError("executemany() with AT VERSION: use execute() per parameter set")
        if not isinstance(seq_of_parameters, Sequence):
            seq_of_parameters = list(seq_of_parameters)
        target = plan.detail.table if isinstance(plan.detail, P.InsertInto) else None
        conn = self._live
        counter = _ChangeCounter(conn)
        bulk = target is not None and (
            plan.kind == P.BULK_INSERT or len(seq_of_parameters) >= _BULK_EXECUTEMANY_MIN
        )
        try:
            with self._writing(plan):
                version = clock.current(conn)

                def run() -> int:  # rowcount: the sum of changes() of every execution
                    counter.reset()
                    conn.cursor().executemany(plan.sql, counter.wrap(seq_of_parameters))
                    return counter.total()

                def fast_run() -> int:  # no trigger: every change counted is an inserted row
                    before = conn.total_changes()
                    conn.cursor().executemany(plan.sql, seq_of_parameters)
                    counter.last = conn.changes()
                    return conn.total_changes() - before

                if bulk:
                    inserted = self._bulk(target, version, run, fast_run)
                else:
                    inserted = run()
                lastrowid = conn.last_insert_rowid()
        except _BIND_ERRORS as exc:
            raise _binding_error(exc, plan.source, plan.position) from None
        self._changes = counter.last
        return Result(iter(()), rowcount=inserted, lastrowid=lastrowid)

    def executescript(self, script: str) -> None:
        """Run every statement of ``script``.

        Outside a transaction, a script without its own BEGIN/COMMIT runs as one atomic
        transaction: if a statement fails, none of the script's changes remain.
        """
        try:
            plans = transpile.parse_script(script)
        except transpile.TranspileError as exc:
            raise E.from_transpile(exc) from None
        controls = {P.BEGIN, P.COMMIT, P.ROLLBACK, P.SAVEPOINT, P.RELEASE}
        atomic = not self.in_transaction and not any(p.kind in controls for p in plans)
        if not atomic:
            for plan in plans:
                _RUNNERS[plan.kind](self, plan, None).fetchall()
            return
        self.begin()
        try:
            for plan in plans:
                _RUNNERS[plan.kind](self, plan, None).fetchall()
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def query(self, sql: str, parameters: Params = None) -> list[tuple]:
        """All rows of a query, as tuples."""
        return self.execute(sql, parameters).fetchall()

    def query_arrow(self, sql: str, parameters: Params = None):
        """The result of a query as a ``pyarrow.Table``."""
        from galaxlite.arrow import result_to_arrow

        return result_to_arrow(self.execute(sql, parameters))

    def bulk_insert(
        self, table: str, rows: Iterable[Sequence[Any]] | Any, columns: Sequence[str] | None = None
    ) -> int:
        """Insert many rows into ``table`` as one version, on the fast path; returns the count.

        ``rows`` is an iterable of tuples (in ``columns`` order, or the table's column
        order), of dicts, or a ``pyarrow.Table``/``RecordBatch``. All rows or none.
        """
        from galaxlite.arrow import rows_of

        columns, rows = rows_of(rows, columns)
        if columns is None and rows:
            first = rows[0]
            if isinstance(first, Mapping):
                columns = list(first)
        if isinstance(rows, list) and rows and isinstance(rows[0], Mapping):
            rows = [tuple(r[c] for c in columns) for r in rows]
        if not rows:
            return 0
        width = len(columns) if columns else len(rows[0])
        cols = f" ({', '.join(q(c) for c in columns)})" if columns else ""
        sql = f"BULK INSERT INTO {q(table)}{cols} VALUES ({', '.join('?' * width)})"
        return self.executemany(sql, rows).rowcount

    # ------------------------------------------------------------------ tags

    def create_tag(self, name: str) -> int:
        """Create version tag ``name`` for the current state; returns its version (µs)."""
        return self.execute("CREATE VERSION TAG ?", (name,)).fetchone()[0]

    def drop_tag(self, name: str) -> None:
        """Remove version tag ``name`` (its exports stay)."""
        self.execute("DROP VERSION TAG ?", (name,))

    def tags(self) -> list[Tag]:
        """Every version tag, oldest first."""
        return [
            Tag(n, v, c, bool(t), p, _seed_from_sql(s))
            for n, v, c, t, p, s in self._live.execute(
                "SELECT name, version, created_us, for_training, precision, seed "
                "FROM galaxlite_tags ORDER BY version"
            )
        ]

    def tag_version(self, name: str) -> int:
        """The version of tag ``name``; UnknownTagError if there is none."""
        for (v,) in self._live.execute("SELECT version FROM galaxlite_tags WHERE name = ?", (name,)):
            return v
        raise E.UnknownTagError(f"unknown version tag {name!r}")

    def create_training_snapshot(
        self,
        tag: str,
        seed: int | None = None,
        precision: str = "float32",
        progress: Callable[[int, int], object] | None = None,
    ) -> int:
        """``CREATE VERSION TAG tag FOR TRAINING WITH TRAINING PRECISION precision [TRAINING
        SEED seed]``: tag the current state and export every versioned table as a Lance
        dataset (see ``galaxlite.export``); returns the tag's version (µs).

        ``progress(done_rows, total_rows)`` is called, on this thread, as rows go to Lance
        (counting them first costs one extra pass over the tables). All or nothing: on any
        error, Ctrl-C included, there is no tag, no catalog row and no folder. Not inside an
        open transaction.
        """
        key = precision.strip().lower() if isinstance(precision, str) else precision
        if key not in transpile.PRECISIONS:
            raise E.QuantizationModeError(
                f"unknown training precision {precision!r}: use one of "
                + ", ".join(repr(p) for p in transpile.PRECISIONS)
            )
        sql = f"CREATE VERSION TAG ? FOR TRAINING WITH TRAINING PRECISION '{key}'"
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < _SEED_BITS:
                raise E.ProgrammingError(f"seed must be an integer from 0 to 2**64 - 1, not {seed!r}")
            sql += f" TRAINING SEED {seed}"
        plan = self._plans.get(sql) or self._plan(sql)
        # errors name the call, not a place in SQL the caller never wrote
        return _run_create_tag(self, replace(plan, source=""), (tag,), progress).fetchone()[0]

    def training_dataset(self, tag: str, table: str | None = None) -> str:
        """The path of the Lance dataset of ``table`` in the training export of ``tag``
        (``table`` may be left out when the export has one table).

        UnknownTagError for an unknown tag; TrainingExportError when the tag was not made
        FOR TRAINING or did not export that table.
        """
        version = self.tag_version(tag)
        found = [e for e in self.exports(tag) if e.version == version]
        if not found:
            raise E.TrainingExportError(
                f"version tag {tag!r} has no training export: it was created without FOR "
                "TRAINING (or when there was no versioned table to export)"
                if not any(t.for_training for t in self.tags() if t.name == tag)
                else f"version tag {tag!r} has no training export: there was no versioned table"
            )
        names = ", ".join(repr(e.table) for e in found)
        if table is None:
            if len(found) > 1:
                raise E.TrainingExportError(
                    f"the training export of {tag!r} has {len(found)} tables ({names}): name "
                    f"one, e.g. db.training_dataset({tag!r}, {found[0].table!r})"
                )
            return found[0].path
        for e in found:
            if e.table.lower() == table.lower():
                return e.path
        raise E.TrainingExportError(
            f"table {table!r} is not in the training export of {tag!r} (it has {names})"
        )

    def exports(self, tag: str | None = None) -> list[TrainingExport]:
        """The training exports (one record per exported table), oldest first; only those of
        tag name ``tag`` if given (a dropped tag's exports stay listed)."""
        where, args = ("WHERE tag = ?", (tag,)) if tag is not None else ("", ())
        root = self.exports_dir
        return [
            TrainingExport(t, v, n, str((root / p).absolute()) if root else p, pr,
                           _seed_from_sql(s), r, h, c)
            for t, v, n, p, pr, s, r, h, c in self._live.execute(
                "SELECT tag, version, table_name, path, precision, seed, row_count, content_hash, "
                f"created_us FROM galaxlite_exports {where} ORDER BY version, table_name",
                args,
            )
        ]

    # ------------------------------------------------------------------ dataset snapshots

    def snapshots(self) -> list[snapshots.Snapshot]:
        """Every dataset snapshot (CREATE SNAPSHOT ...), oldest first."""
        return snapshots.all_snapshots(self._live)

    def snapshot(self, name: str) -> snapshots.Snapshot:
        """The snapshot of full name ``name`` (``"m0@1.0.0"``); UnknownSnapshotError if none."""
        return self.lineage(name)[-1]

    def lineage(self, name: str) -> list[snapshots.Snapshot]:
        """How snapshot ``name`` was made: its chain root → ... → itself, each with the
        ``commands`` (and ``statements``) that made it from the one before.

        >>> db = Database(":memory:")
        >>> _ = db.execute("CREATE TABLE t (x)")
        >>> _ = db.execute("INSERT INTO t VALUES (1), (2), (3)")
        >>> _ = db.execute("CREATE SNAPSHOT s AS SELECT x FROM t")
        >>> _ = db.execute("CREATE SNAPSHOT s FROM @1.0.0 USING (DELETE WHERE x = 2)")
        >>> [(s.name, s.statements, s.row_count) for s in db.lineage("s@1.1.0")]
        [('s@1.0.0', ['SELECT x FROM t'], 3), ('s@1.1.0', ['DELETE WHERE x = 2'], 2)]
        """
        return snapshots.lineage(self._live, name)

    # ------------------------------------------------------------------ versions

    @property
    def version(self) -> int:
        """The last version handed out (µs)."""
        return clock.current(self._live)

    def versioned_tables(self) -> list[str]:
        """Names of the versioned tables that exist now."""
        return [
            n for (n,) in self._live.execute(
                "SELECT name FROM galaxlite_tables WHERE valid_to IS NULL ORDER BY name"
            )
        ]

    # ------------------------------------------------------------------ transactions

    def begin(self) -> None:
        """Start a transaction (deferred, like SQLite's BEGIN)."""
        self.execute("BEGIN")

    def commit(self) -> None:
        """Commit the open transaction, if any: its writes become one version."""
        if self.in_transaction:
            self.execute("COMMIT")

    def rollback(self) -> None:
        """Roll back the open transaction, if any."""
        if self.in_transaction:
            self.execute("ROLLBACK")

    @contextmanager
    def transaction(self, mode: str = "IMMEDIATE") -> Iterator[Database]:
        """``with db.transaction():`` commits on success and rolls back on error; nests.

        ``mode`` is the BEGIN mode. IMMEDIATE (the default) takes the write lock up front,
        so a transaction that reads before it writes cannot fail with "database is locked"
        when another connection commits in between (DEFERRED is SQLite's default).
        """
        mode = mode.upper()
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise E.ProgrammingError(f"unknown transaction mode {mode!r}")
        if self.in_transaction:
            name = f"_gl_sp{id(self)}_{itertools.count().__next__()}"
            self._live.execute(f"SAVEPOINT {name}")
            try:
                yield self
            except BaseException:
                self._live.execute(f"ROLLBACK TO {name}")
                self._live.execute(f"RELEASE {name}")
                self._pinned = False
                raise
            self._live.execute(f"RELEASE {name}")
            return
        self.execute(f"BEGIN {mode}")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    # ------------------------------------------------------------------ internals

    def _plan(self, sql: str) -> P.Plan | None:
        if not isinstance(sql, str):
            raise E.InterfaceError(f"SQL must be a str, not {type(sql).__name__}")
        try:
            plan = transpile.parse_statement(sql)
        except transpile.TranspileError as exc:
            raise E.from_transpile(exc) from None
        if len(self._plans) > 2048:
            self._plans.clear()
            self._plain_reads.clear()
        self._plans[sql] = plan
        if plan is not None and plan.kind == P.READ and not plan.refs and plan.sql == sql:
            self._plain_reads.add(sql)
        return plan

    def _transaction_ended(self) -> bool:
        self._pinned = False
        return False  # (a commit hook returning True would turn the commit into a rollback)

    def _pin(self) -> None:
        """Give the open transaction its version, once."""
        if not self._pinned:
            clock.pin(self._conn)
            self._pinned = True

    def _writing(self, plan: P.Plan | None = None, *, pin: bool = True, atomic: bool = True) -> _WriteScope:
        """``with db._writing(plan):`` a write that becomes (part of) one version.

        ``atomic=False`` for a single statement, which SQLite already makes all-or-nothing
        inside a transaction (no savepoint needed). With a ``plan``, REPLACE and
        ON CONFLICT FAIL get what they need (see ``_WriteScope``).
        """
        conflicts = plan.conflict_clauses | self._schema_conflicts() if plan is not None else ()
        return _WriteScope(
            self,
            pin=pin,
            atomic=atomic,
            keep_partial="FAIL" in conflicts and not atomic,  # BULK stays all-or-nothing
            recursive="REPLACE" in conflicts,
        )

    def _schema_conflicts(self) -> frozenset[str]:
        """Conflict resolutions (REPLACE, FAIL) named by table constraints or user triggers."""
        if self._schema_clauses is None:
            found = set()
            for word in ("REPLACE", "FAIL"):
                (used,) = next(
                    self._live.execute(
                        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE sql LIKE ? "
                        "AND name NOT LIKE '\\_gl\\_%' ESCAPE '\\')",
                        (f"%{word}%",),
                    )
                )
                if used:
                    found.add(word)
            self._schema_clauses = frozenset(found)
        return self._schema_clauses

    def _bulk(
        self,
        table: P.TableName,
        version: int,
        run: Callable[[], int],
        fast_run: Callable[[], int] | None = None,
    ) -> int:
        """Run an insert on the trigger-free path when the table allows it, else through
        triggers (``run``). ``fast_run``, if given, is how to run it without the insert
        trigger (its count may include changes other than inserted rows: then the fast path
        is refused, and the triggers give the same result)."""
        conn = self._live
        tv = storage.current_version(conn, table.name) if not table.is_temp else None
        if tv is not None:
            inserted = [0]

            def counted() -> int:
                inserted[0] = (fast_run or run)()
                return inserted[0]

            if storage.bulk_append(conn, tv, version, counted):
                return inserted[0]
        return run()

    def _render(self, plan: P.Plan, params: Params) -> tuple[str, Params]:
        """The SQL to run for ``plan``: AT VERSION references resolved into subqueries,
        SEMANTIC_MATCH / SEMANTIC_SCORE calls into lookups of TEMP tables filled now."""
        if not plan.refs and not plan.semantic:
            return plan.sql, params
        versions: list[int] = []
        subqueries: list[str] = []
        views: dict[int, str] = {}  # snapshot refs (name@version) → view name
        for i, ref in enumerate(plan.refs):
            if isinstance(ref, P.SnapshotRef):
                # a statement reads the snapshot's storage; a definition that SQLite keeps
                # (CREATE VIEW / TRIGGER) names its view, so a PURGE makes it fail loudly
                views[i], rows = snapshots.view_of(self, plan, ref)
                versions.append(-1)
                subqueries.append(f"main.{q(views[i])}" if plan.kind == P.OTHER else f"({rows})")
                continue
            versions.append(self._version_of(plan, ref, params))
            subqueries.append(self._as_of(plan, ref, versions[-1]))
        consumed = set(plan.consumed_params)
        pieces = subqueries
        if plan.semantic:
            if views:
                plan = snapshots.with_views(plan, views)
            pieces = subqueries + self._semantic.render(plan, params, versions, subqueries)
            consumed |= self._semantic.consumed(plan)
        if consumed and params is not None and not isinstance(params, Mapping):
            params = [p for i, p in enumerate(params) if i not in consumed]
        return plan.template.render(pieces), params

    def embed(self, table: str, column: str, embedder: str | None = None) -> int:
        """Compute and cache the embeddings of every distinct text of ``table.column``, as
        it is now and in its history (so AT VERSION queries find them too).

        Returns how many texts the embedder computed (0 when all were cached already).
        ``embedder``: use this embedder (by name); if the column was embedded with another,
        it is re-embedded and switched to this one (embedders are never mixed).
        SEMANTIC_MATCH embeds lazily anyway: this only moves the work ahead of time.
        """
        return self._semantic.embed_column(table, column, embedder)

    def _version_of(self, plan: P.Plan, ref: P.VersionRef, params: Params) -> int:
        spec = ref.version
        tag, ts = spec.tag, spec.timestamp
        if spec.param is not None:
            value = _param_value(plan, ref, params)
            if isinstance(value, str):
                tag = value
            elif isinstance(value, int) and not isinstance(value, bool):
                ts = value
            else:
                raise E.sql_error(
                    E.ProgrammingError,
                    f"AT VERSION parameter must be a tag name (str) or a µs timestamp (int), "
                    f"not {type(value).__name__}",
                    plan.source,
                    ref.position,
                )
        if tag is not None:
            for (v,) in self._live.execute("SELECT version FROM galaxlite_tags WHERE name = ?", (tag,)):
                return v
            raise E.sql_error(E.UnknownTagError, f"unknown version tag {tag!r}", plan.source, ref.position)
        latest = max(clock.now_us(), clock.current(self._live))
        if ts < 0 or ts > latest:
            raise E.sql_error(
                E.FutureVersionError,
                f"AT VERSION {ts} is in the future (now is {latest})" if ts >= 0
                else f"AT VERSION {ts} is not a valid timestamp",
                plan.source,
                ref.position,
            )
        return ts

    def _as_of(self, plan: P.Plan, ref: P.VersionRef, version: int) -> str:
        conn = self._live
        if ref.schema is not None and ref.schema.lower() != "main":
            raise E.sql_error(
                E.NotSupportedError,
                f"AT VERSION reads versioned tables of the main database, not {ref.schema!r}",
                plan.source,
                ref.position,
            )
        past = storage.version_at(conn, ref.table, version)
        if past is None:
            first = storage.first_version(conn, ref.table)
            if first is not None and first > version:
                why = f"table {ref.table!r} did not exist at version {version} (created at {first})"
            elif first is not None:
                why = f"table {ref.table!r} did not exist at version {version} (it had been dropped)"
            elif conn.table_exists(None, ref.table):
                why = f"table {ref.table!r} is not versioned, so it has no past to read"
            elif snapshots.find(conn, ref.table) is not None:
                why = (
                    f"{ref.table!r} is a dataset snapshot: snapshots never change, so they have "
                    "no versions to read (leave out AT VERSION)"
                )
            else:
                why = f"no such table: {ref.table}"
            raise E.sql_error(E.TableNotAtVersionError, why, plan.source, ref.position)
        now = storage.current_of(conn, past.table_id)
        if plan.kind == P.OTHER:  # CREATE VIEW / TRIGGER: SQLite keeps the SQL and reruns it
            return storage.as_of_sql(past, now, version, collations=storage.collations(conn, now), durable=True)
        # Leaving out the history part is only safe when the probe and the query share one
        # read snapshot, i.e. inside a transaction (in autocommit a writer could close rows
        # in between).
        with_history = not conn.in_transaction or storage.closed_since(conn, past, version)
        newer = storage.ranges_after(conn, now, version) if now is not None else []
        return storage.as_of_sql(past, now, version, with_history, newer, storage.collations(conn, now))

    def _check_not_internal(self, plan: P.Plan, name: str) -> None:
        if name.lower().startswith(RESERVED_PREFIXES):
            raise E.sql_error(
                E.ProgrammingError,
                f"{name!r} is a galaxlite internal table (names starting with _gl_ or galaxlite_ "
                "are reserved)",
                plan.source,
                plan.position,
            )


def _param_value(plan: P.Plan, ref: P.VersionRef, params: Params) -> Any:
    key = ref.version.param
    try:
        return bound_value(params, key)
    except LookupError:
        raise E.sql_error(
            E.ProgrammingError, f"no value bound for AT VERSION parameter {key!r}", plan.source, ref.position
        ) from None


_BIND_ERRORS = (apsw.Error, KeyError, TypeError, OverflowError, ValueError)


def _binding_error(exc: Exception, sql: str, base: int = 0) -> E.Error:
    """An apsw error, or a parameter apsw could not bind, as a galaxlite error."""
    if isinstance(exc, E.Error):  # raised by the binding conversion (a VECTOR(n) check)
        return exc
    if isinstance(exc, apsw.Error):
        return E.from_apsw(exc, sql, base)
    if isinstance(exc, KeyError):
        return E.ProgrammingError(f"you did not supply a value for binding parameter :{exc.args[0]}")
    return E.ProgrammingError(f"error binding a parameter: {exc}")


class _WriteScope:
    """A write that becomes (part of) one version.

    Outside a transaction: BEGIN IMMEDIATE, pin the clock, ..., unpin, COMMIT (ROLLBACK on
    error). Inside one: pin the clock (idempotent), within a savepoint when ``atomic`` so a
    multi-statement operation is all-or-nothing there too.

    ``keep_partial``: a statement failing under ON CONFLICT FAIL keeps the rows it wrote
    before the failing one, as in plain autocommit SQLite, so they are committed.
    ``recursive``: REPLACE deletes conflicting rows without firing DELETE triggers unless
    recursive_triggers is on, and their history would be lost; it is turned on only for
    statements that can REPLACE, so users' own triggers keep SQLite's default elsewhere.
    A class, not a generator context manager: it is on every write's path.
    """

    __slots__ = ("db", "conn", "pin", "atomic", "keep_partial", "recursive", "mode")

    def __init__(self, db: Database, *, pin: bool, atomic: bool, keep_partial: bool, recursive: bool):
        self.db, self.conn, self.pin, self.atomic = db, db._live, pin, atomic
        self.keep_partial, self.recursive = keep_partial, recursive
        self.mode = ""

    def __enter__(self) -> _WriteScope:
        conn = self.conn
        if not conn.in_transaction:
            self.mode = "begin"
            conn.execute("BEGIN IMMEDIATE")
        elif self.atomic:
            self.mode = "savepoint"
            conn.execute("SAVEPOINT _gl_write")
        else:
            self.mode = "inside"
        try:
            if self.pin:
                self.db._pin()
            if self.recursive:
                conn.execute("PRAGMA recursive_triggers = ON")
        except BaseException:
            self.recursive = False
            self.__exit__(Exception, None, None)
            raise
        return self

    def __exit__(self, exc_type: type | None, exc: object, tb: object) -> bool:
        conn, mode = self.conn, self.mode
        if self.recursive:
            conn.execute("PRAGMA recursive_triggers = OFF")
        if exc_type is None:
            if mode == "begin":
                try:
                    clock.unpin(conn)
                    conn.execute("COMMIT")
                except BaseException:  # e.g. a deferred foreign key fails at COMMIT
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            elif mode == "savepoint":
                conn.execute("RELEASE _gl_write")
            return False
        if mode == "begin" and conn.in_transaction:
            if self.keep_partial and issubclass(exc_type, apsw.Error):
                clock.unpin(conn)
                conn.execute("COMMIT")
            else:
                conn.execute("ROLLBACK")
        elif mode == "savepoint":
            conn.execute("ROLLBACK TO _gl_write")  # may undo the pin
            conn.execute("RELEASE _gl_write")
            self.db._pinned = False
        return False


class _ChangeCounter:
    """Sums ``changes()`` over an executemany: read as each next parameter set is drawn."""

    __slots__ = ("conn", "count", "started", "last")

    def __init__(self, conn: apsw.Connection):
        self.conn = conn
        self.reset()

    def reset(self) -> None:
        self.count = self.last = 0
        self.started = False

    def wrap(self, seq: Iterable[Params]) -> Iterator[Params]:
        changes = self.conn.changes
        for params in seq:
            if self.started:
                self.count += changes()
            self.started = True
            yield params

    def total(self) -> int:
        self.last = self.conn.changes() if self.started else 0
        return self.count + self.last


# ---------------------------------------------------------------------- runners
# One small function per plan kind (see transpile.plan); _RUNNERS maps kind → runner.


def _error(exc: Exception, plan: P.Plan, sql: str) -> E.Error:
    if sql == plan.sql and plan.template is None:
        return _binding_error(exc, plan.source, plan.position)
    return _binding_error(exc, sql)


def _run_read(db: Database, plan: P.Plan, params: Params) -> Result:
    sql, params = db._render(plan, params) if plan.refs or plan.semantic else (plan.sql, params)
    conn = db._live
    cur = conn.cursor()
    try:
        cur.execute(sql, params)
    except _BIND_ERRORS as exc:
        raise _error(exc, plan, sql) from None
    return Result(cur, None, (conn, sql, params))


def _run_write(db: Database, plan: P.Plan, params: Params) -> Result:
    sql, params = db._render(plan, params) if plan.refs or plan.semantic else (plan.sql, params)
    conn = db._live
    try:
        with db._writing(plan, atomic=False):
            cur = conn.cursor()
            cur.execute(sql, params)
            desc, rows = None, []
            if plan.returning:
                try:
                    desc = cur.get_description()
                except apsw.ExecutionCompleteError:  # RETURNING, but no row was written
                    desc = _describe(conn, sql, params)
                rows = list(cur)
            rowcount, lastrowid = conn.changes(), conn.last_insert_rowid()
    except _BIND_ERRORS as exc:
        raise _error(exc, plan, sql) from None
    db._changes = rowcount
    return Result(iter(rows), desc, rowcount=rowcount, lastrowid=lastrowid)


def _run_ddl(db: Database, plan: P.Plan, params: Params, work: Callable[[apsw.Connection, int], None]) -> Result:
    conn = db._live
    db._schema_clauses = None
    lastrowid = conn.last_insert_rowid()  # catalog inserts must not show through
    try:
        with db._writing():
            work(conn, clock.current(conn))
    except apsw.Error as exc:
        raise _error(exc, plan, plan.sql) from None
    finally:
        conn.set_last_insert_rowid(lastrowid)
    return Result(iter(()))


def _run_create_table(db: Database, plan: P.Plan, params: Params) -> Result:
    d: P.CreateTable = plan.detail
    db._check_not_internal(plan, d.table.name)
    if d.table.schema and d.table.schema.lower() not in ("main", "temp", "temporary") and d.versioned:
        raise E.sql_error(
            E.NotSupportedError,
            f"versioned tables live in the main database, not {d.table.schema!r} "
            "(add WITHOUT VERSIONING for a plain table there)",
            plan.source,
            plan.position,
        )
    if not d.versioned:
        return _run_other(db, plan, params)
    sql, params = db._render(plan, params)

    def work(conn: apsw.Connection, version: int) -> None:
        existed = conn.table_exists("main", d.table.name)
        conn.execute(sql, params)
        if not existed:
            storage.make_versioned(conn, d.table.name, version)

    return _run_ddl(db, plan, params, work)


def _versioned_or_none(db: Database, plan: P.Plan, table: P.TableName) -> storage.TableVersion | None:
    db._check_not_internal(plan, table.name)
    if table.is_temp or (table.schema and table.schema.lower() != "main"):
        return None
    return storage.current_version(db._live, table.name)


def _run_alter_table(db: Database, plan: P.Plan, params: Params) -> Result:
    d: P.AlterTable = plan.detail
    tv = _versioned_or_none(db, plan, d.table)
    if tv is None:
        return _run_other(db, plan, params)
    if d.action == "rename_table":
        db._check_not_internal(plan, d.new)

    def work(conn: apsw.Connection, version: int) -> None:
        storage.alter_table(
            conn, tv, d.action, version, lambda: conn.execute(plan.sql), old=d.old, new=d.new
        )

    return _run_ddl(db, plan, params, work)


def _run_drop_table(db: Database, plan: P.Plan, params: Params) -> Result:
    d: P.DropTable = plan.detail
    tv = _versioned_or_none(db, plan, d.table)
    if tv is None:
        return _run_other(db, plan, params)

    def work(conn: apsw.Connection, version: int) -> None:
        storage.drop_table(conn, tv, version, lambda: conn.execute(plan.sql))

    return _run_ddl(db, plan, params, work)


def _tag_name(plan: P.Plan, params: Params) -> str:
    d: P.TagStatement = plan.detail
    if d.name is not None:
        return d.name
    value = _param_value(plan, P.VersionRef(None, "", P.VersionSpec(param=d.param), plan.position), params)
    if not isinstance(value, str) or not value:
        raise E.sql_error(
            E.ProgrammingError, "a version tag name must be a non-empty string", plan.source, plan.position
        )
    return value


def _run_create_tag(
    db: Database, plan: P.Plan, params: Params, progress: Callable[[int, int], object] | None = None
) -> Result:
    d: P.TagStatement = plan.detail
    name = _tag_name(plan, params)
    training = d.training
    if training is not None:
        _check_can_export(db, plan)
    conn = db._live
    lastrowid = conn.last_insert_rowid()
    written = None
    try:
        with db._writing(pin=False):
            if next(conn.execute("SELECT count(*) FROM galaxlite_tags WHERE name = ?", (name,)))[0]:
                raise E.sql_error(
                    E.DuplicateTagError, f"version tag {name!r} already exists", plan.source, plan.position
                )
            version = clock.advance(conn)
            db._pinned = False  # later writes, even in this transaction, come after the tag
            created = clock.now_us()
            conn.execute(
                "INSERT INTO galaxlite_tags (name, version, created_us, for_training, precision, seed) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (name, version, created, training is not None,
                 None if training is None else training.precision,
                 None if training is None else _seed_to_sql(training.seed)),
            )
            if training is not None:
                # The files are complete before the tag commits; if the commit fails, they go.
                written = _write_training_export(db, name, version, training, progress)
                conn.executemany(
                    "INSERT INTO galaxlite_exports (tag, version, table_name, path, precision, seed, "
                    "row_count, content_hash, created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(name, version, w.table, f"{written.folder}/{w.file}", training.precision,
                      _seed_to_sql(training.seed), w.rows, w.content_hash, created)
                     for w in written.tables],
                )
    except BaseException as exc:
        if written is not None:
            from galaxlite import export

            export.discard(written)
        if isinstance(exc, apsw.Error):
            raise _error(exc, plan, plan.sql) from None
        raise
    finally:
        conn.set_last_insert_rowid(lastrowid)
    return Result(iter([(version,)]), (("version", "INTEGER"),), rowcount=-1)


def _check_can_export(db: Database, plan: P.Plan) -> None:
    why = None
    if db.exports_dir is None:
        why = (
            "writes Lance datasets into the exports folder next to the database file, and an "
            "in-memory database has none: open a file or directory database"
        )
    elif db._live.in_transaction:
        why = (
            "cannot run inside a transaction (the files it writes could not be rolled back "
            "with it): COMMIT or ROLLBACK first"
        )
    if why is not None:
        raise E.sql_error(
            E.NotSupportedError, f"CREATE VERSION TAG ... FOR TRAINING {why}; no tag was created",
            plan.source, plan.position,
        )


def _write_training_export(
    db: Database, name: str, version: int, training: P.TrainingOptions,
    progress: Callable[[int, int], object] | None,
):
    """Write every versioned table as of ``version`` (see galaxlite.export)."""
    from galaxlite import export

    return export.write_exports(
        db._live, db._semantic, db.exports_dir, db.versioned_tables(), tag=name,
        version=version, precision=training.precision, seed=training.seed, progress=progress,
    )


def _run_drop_tag(db: Database, plan: P.Plan, params: Params) -> Result:
    d: P.TagStatement = plan.detail
    name = _tag_name(plan, params)
    conn = db._live
    try:
        with db._writing(pin=False):
            conn.execute("DELETE FROM galaxlite_tags WHERE name = ?", (name,))
            if not conn.changes() and not d.if_exists:
                raise E.sql_error(E.UnknownTagError, f"unknown version tag {name!r}", plan.source, plan.position)
    except apsw.Error as exc:
        raise _error(exc, plan, plan.sql) from None
    return Result(iter(()))


def _run_bulk_insert(db: Database, plan: P.Plan, params: Params) -> Result:
    d: P.InsertInto = plan.detail
    sql, params = db._render(plan, params)
    conn = db._live

    def run() -> int:
        conn.execute(sql, params)
        return conn.changes()

    try:
        with db._writing(plan):
            count = db._bulk(d.table, clock.current(conn), run)
            lastrowid = conn.last_insert_rowid()
    except _BIND_ERRORS as exc:
        raise _error(exc, plan, sql) from None
    db._changes = count
    return Result(iter(()), rowcount=count, lastrowid=lastrowid)


def _run_begin(db: Database, plan: P.Plan, params: Params) -> Result:
    db._outer_savepoint = None
    return _run_read(db, plan, params)


def _run_commit(db: Database, plan: P.Plan, params: Params) -> Result:
    conn = db._live
    if conn.in_transaction:
        try:
            clock.unpin(conn)
        except apsw.Error as exc:
            raise _error(exc, plan, plan.sql) from None
    db._outer_savepoint = None
    return _run_read(db, plan, params)


def _run_rollback(db: Database, plan: P.Plan, params: Params) -> Result:
    db._outer_savepoint = None
    return _run_read(db, plan, params)


def _run_savepoint(db: Database, plan: P.Plan, params: Params) -> Result:
    if not db._live.in_transaction:
        db._outer_savepoint = plan.detail.name.lower()
    return _run_read(db, plan, params)


def _run_release(db: Database, plan: P.Plan, params: Params) -> Result:
    conn = db._live
    if db._outer_savepoint == plan.detail.name.lower() and conn.in_transaction:
        clock.unpin(conn)
        db._pinned = False
        db._outer_savepoint = None
    return _run_read(db, plan, params)


def _run_rollback_to(db: Database, plan: P.Plan, params: Params) -> Result:
    db._pinned = False  # rolling back to a savepoint may undo the pin
    return _run_read(db, plan, params)


def _run_snapshot(db: Database, plan: P.Plan, params: Params) -> Result:
    """CREATE / SAMPLE / PUBLISH / ARCHIVE / PURGE SNAPSHOT: all or nothing; the (schema,
    name) of each snapshot made or changed, like openGauss."""
    work = {
        P.CREATE_SNAPSHOT: snapshots.create,
        P.SAMPLE_SNAPSHOT: snapshots.sample,
        P.MANAGE_SNAPSHOT: snapshots.manage,
    }[plan.kind]
    conn = db._live
    lastrowid = conn.last_insert_rowid()  # catalog inserts must not show through
    try:
        with db._writing(pin=False):  # snapshots change no versioned table: no new version
            rows = work(db, plan, params)
    except apsw.Error as exc:
        raise _error(exc, plan, plan.sql) from None
    finally:
        conn.set_last_insert_rowid(lastrowid)
        db._schema_clauses = None
    return Result(iter(rows), (("schema", "TEXT"), ("name", "TEXT")))


def _run_set_parameter(db: Database, plan: P.Plan, params: Params) -> Result:
    try:
        snapshots.set_parameter(db, plan)
    except apsw.Error as exc:
        raise _error(exc, plan, plan.sql) from None
    return Result(iter(()))


def _run_show_parameter(db: Database, plan: P.Plan, params: Params) -> Result:
    name, value = snapshots.show_parameter(db, plan)
    return Result(iter([(value,)]), ((name, "TEXT"),))


def _run_other(db: Database, plan: P.Plan, params: Params) -> Result:
    if isinstance(plan.detail, P.DropView):
        snapshots.check_not_a_snapshot_view(db, plan, plan.detail.view)
    db._schema_clauses = None  # CREATE TRIGGER / CREATE TABLE WITHOUT VERSIONING / ...
    return _run_read(db, plan, params)


_RUNNERS: dict[str, Callable[[Database, P.Plan, Params], Result]] = {
    P.READ: _run_read,
    P.OTHER: _run_other,
    P.WRITE: _run_write,
    P.CREATE_TABLE: _run_create_table,
    P.ALTER_TABLE: _run_alter_table,
    P.DROP_TABLE: _run_drop_table,
    P.CREATE_TAG: _run_create_tag,
    P.DROP_TAG: _run_drop_tag,
    P.BULK_INSERT: _run_bulk_insert,
    P.BEGIN: _run_begin,
    P.COMMIT: _run_commit,
    P.ROLLBACK: _run_rollback,
    P.ROLLBACK_TO: _run_rollback_to,
    P.SAVEPOINT: _run_savepoint,
    P.RELEASE: _run_release,
    P.CREATE_SNAPSHOT: _run_snapshot,
    P.SAMPLE_SNAPSHOT: _run_snapshot,
    P.MANAGE_SNAPSHOT: _run_snapshot,
    P.SET_PARAMETER: _run_set_parameter,
    P.SHOW_PARAMETER: _run_show_parameter,
}
