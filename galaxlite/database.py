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
from dataclasses import replace
from os import PathLike
from pathlib import Path
from types import MethodType
from typing import Any

from galaxlite import errors as E
from galaxlite import runners, transpile
from galaxlite.engine.extras import SQLiteExtras
from galaxlite.engine.result import Result
from galaxlite.engine.session import Session
from galaxlite.exports.arrow import result_to_arrow, rows_of
from galaxlite.params import Params
from galaxlite.runners.exports import (
    Verification,
)
from galaxlite.runners.history import diff_summary, load_data
from galaxlite.runners.statements import run_enable_versioning
from galaxlite.runners.training_api import TrainingExports
from galaxlite.semantic.declared import EmbeddingHealth, health
from galaxlite.storage import check, clock, current_version, files, retention, snapshot_catalog
from galaxlite.storage import tags as tag_catalog
from galaxlite.storage.check import Finding
from galaxlite.storage.files import DATABASE_FILE
from galaxlite.storage.guards import catalog_writer
from galaxlite.storage.load import as_arrow
from galaxlite.storage.tags import Tag, TrainingExport
from galaxlite.transpile import quote_identifier as q

__all__ = ["DATABASE_FILE", "Database", "EmbeddingHealth", "Finding", "Result", "Tag", "TrainingExport",
           "Verification"]

class Database(SQLiteExtras, TrainingExports):
    """A galaxlite database: one SQLite file whose ordinary tables are all versioned.

    ``path`` names a file (``shop.db``), a directory (``./data``, which then holds
    ``galaxlite.db`` and the ``exports/`` folder), or ``":memory:"``. ``exports``: another
    place for training exports, a folder or an object store URI (``"s3://bucket/prefix"``,
    reached with Lance's ``storage_options``, kept as ``db.storage_options`` for readers). ``read_only=True``
    opens an existing galaxlite file without writing anything to it (every write raises
    ``OperationalError``). SQLite's extension points (``create_function``, ``iterdump``,
    ``interrupt``, ...) come from ``galaxlite.engine.extras``.

    A short facade: each method is one call into the engine. ``session`` is the engine's
    internal API (``galaxlite.engine.session.Session``) for galaxlite's own layers (the
    DB-API module uses it); it is not a stable interface for applications.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        timeout: float = 5.0,
        foreign_keys: bool = True,
        embedder: str | None = None,
        exports: str | Path | None = None,
        storage_options: dict | None = None,
        read_only: bool = False,
        dialect: str = "sqlite",
    ):
        self.path = str(path)
        self.filename, default_exports = files.locate(path, create=not read_only)
        self.exports_dir = files.exports_location(default_exports, exports, storage_options)
        self.storage_options = dict(storage_options) if storage_options else None
        self.session = Session(
            self.filename, self.exports_dir, timeout=timeout, foreign_keys=foreign_keys,
            embedder=embedder, read_only=bool(read_only),
        )
        if dialect not in transpile.DIALECTS:
            self.session.close()
            raise E.ProgrammingError(
                f"unknown SQL dialect {dialect!r}: expected one of {', '.join(transpile.DIALECTS)}"
            )
        self.session.set_dialect(dialect)
        if type(self).execute is Database.execute:
            # ``execute`` is ``runners.execute`` bound to the session: one Python call per
            # statement instead of two (a plain query or a one-row INSERT is ~1 µs of SQLite)
            self.execute = MethodType(runners.execute, self.session)

    @property
    def dialect(self) -> str:
        """How statements are read: "sqlite" (as written) or "postgres" (see docs/sql.md)."""
        return self.session.dialect

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the database. An open transaction is rolled back."""
        session = getattr(self, "session", None)
        if session is not None:
            session.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self.session.closed

    @property
    def in_transaction(self) -> bool:
        return self.session.conn.in_transaction

    def backup(self, dest: str | Path) -> str:
        """Write a consistent copy of the database to ``dest`` (a file or directory path, as
        for ``Database``) while other connections keep working: tags, history, snapshots and
        catalogs in one SQLite file, plus the training exports it records (into the exports
        folder that goes with ``dest``). Returns the new file's name; never overwrites.

        >>> import tempfile, os
        >>> folder = tempfile.mkdtemp()
        >>> db = Database(os.path.join(folder, "a.db"))
        >>> _ = db.execute("CREATE TABLE t (x)")
        >>> v1 = db.create_tag("v1")
        >>> copy = Database(db.backup(os.path.join(folder, "b.db")))
        >>> [t.name for t in copy.tags()]
        ['v1']
        """
        return files.backup(self.session.conn, self.exports_dir, dest)

    def check(self, repair: bool = False) -> list[Finding]:
        """The problems of this file's versioning (empty: all is well): each versioned table
        has its triggers, companion, ranges and history, consistent with its recorded schema;
        the catalogs and their guards are intact; ``PRAGMA integrity_check`` passes.

        ``repair=True`` first mends what can be mended without inventing history (missing
        triggers and guards made again, columns added by other tools adopted, stale companion
        rows removed), as one transaction; what remains is returned.
        """
        conn = self.session.conn
        if repair and any(f.repair for f in check.find_problems(conn)):
            with self.session.writing(), catalog_writer(conn):
                check.repair(conn, clock.current(conn))
            self.session.schema_changed()
        return check.find_problems(conn)

    def enable_versioning(self, table: str) -> int:
        """``ALTER TABLE table ENABLE VERSIONING``: put plain table ``table`` (made WITHOUT
        VERSIONING, or by another program) under versioning. Its current rows are its first
        version; a tag made before does not see the table, every later write (from any client)
        is versioned. Returns that first version (µs).

        >>> db = Database(":memory:")
        >>> _ = db.execute("CREATE TABLE notes (body TEXT) WITHOUT VERSIONING")
        >>> _ = db.execute("INSERT INTO notes VALUES ('kept')")
        >>> first = db.enable_versioning("notes")
        >>> _ = db.execute("DELETE FROM notes")
        >>> db.query("SELECT body FROM notes AT VERSION ?", (first,))
        [('kept',)]
        """
        if not isinstance(table, str):
            raise E.ProgrammingError(f"table must be a str, not {type(table).__name__}")
        plan = self.session.plan(f"ALTER TABLE {q(table)} ENABLE VERSIONING")
        # errors name the call, not a place in SQL the caller never wrote
        run_enable_versioning(self.session, replace(plan, source=""), None)
        return current_version(self.session.conn, table).valid_from

    def unversioned_tables(self) -> list[str]:
        """The user's plain tables (made WITHOUT VERSIONING, or by another program):
        ``ALTER TABLE t ENABLE VERSIONING`` puts one under versioning."""
        return check.unversioned_tables(self.session.conn)

    # ------------------------------------------------------------------ SQL

    def execute(self, sql: str, parameters: Params = None) -> Result:
        """Run one statement (SQLite or galaxlite syntax) and return its result.

        >>> db = Database(":memory:")
        >>> db.execute("SELECT 1 + ?", (1,)).fetchone()
        (2,)
        """
        return runners.execute(self.session, sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Params]) -> Result:
        """Run one statement once per parameter set, as one version.

        A plain ``INSERT`` into a versioned table with many parameter sets takes the bulk
        path (no per-row trigger work), with the same result.
        """
        return runners.executemany(self.session, sql, seq_of_parameters)

    def executescript(self, script: str) -> None:
        """Run every statement of ``script``.

        Outside a transaction, a script without its own BEGIN/COMMIT runs as one atomic
        transaction: if a statement fails, none of the script's changes remain.
        """
        runners.executescript(self.session, script)

    def query(self, sql: str, parameters: Params = None) -> list[tuple]:
        """All rows of a query, as tuples."""
        return self.execute(sql, parameters).fetchall()

    def query_arrow(self, sql: str, parameters: Params = None):
        """The result of a query as a ``pyarrow.Table``."""
        return result_to_arrow(self.execute(sql, parameters))

    def bulk_insert(self, table: str, rows: Iterable[Sequence[Any]] | Any, columns: Sequence[str] | None = None,
                    progress: Callable[[int, int | None], object] | None = None) -> int:
        """Insert many rows into ``table`` as one version, on the fast path; returns the count.

        ``rows``: tuples (in ``columns`` order, or the table's) or dicts; a CSV or Parquet
        file's path (as ``BULK INSERT ... FROM 'path'``; ``columns``: where its columns go);
        or Arrow data (Table, RecordBatch, RecordBatchReader, batches; columns by name,
        ``columns`` picks some), streamed in batches converted by the columns' affinity,
        with ``progress(done_rows, total_rows_or_None)`` after each. All rows or none.
        """
        arrow, rows = as_arrow(rows)
        if arrow or isinstance(rows, str | PathLike):
            return load_data(self.session, table, rows, columns, progress)
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

    # ------------------------------------------------------------------ history as data

    def diff(self, a: str | int, b: str | int, table: str | None = None):
        """What changed from version ``a`` to ``b`` (tags or µs), as a ``pyarrow.Table``: with
        ``table``, its rows of ``SELECT * FROM table CHANGES BETWEEN VERSION a AND VERSION b``;
        without, per versioned table the counts ``inserted``, ``deleted``, ``updated``."""
        if table is not None:
            return self.query_arrow(
                f"SELECT * FROM {q(table)} CHANGES BETWEEN VERSION ? AND VERSION ?", (a, b)
            )
        return diff_summary(self.session, a, b)

    def purge_history(self, before: str | int, table: str | None = None) -> list[retention.Purged]:
        """``PURGE HISTORY [OF table] BEFORE VERSION before``: one ``Purged`` (rows, bytes
        freed) per table; reading a version before it that is no tag's is HistoryPurgedError."""
        of = f" OF {q(table)}" if table is not None else ""
        rows = self.query(f"PURGE HISTORY{of} BEFORE VERSION ?", (before,))
        return [retention.Purged(*r) for r in rows]

    def history_sizes(self) -> list[retention.HistorySize]:
        """Each versioned table's history: closed row versions, bytes, purge horizon."""
        return retention.history_sizes(self.session.conn)

    # ------------------------------------------------------------------ tags

    def create_tag(self, name: str) -> int:
        """Create version tag ``name`` for the current state; returns its version (µs)."""
        return self.execute("CREATE VERSION TAG ?", (name,)).fetchone()[0]

    def drop_tag(self, name: str) -> None:
        """Remove version tag ``name`` (its exports stay)."""
        self.execute("DROP VERSION TAG ?", (name,))

    def tags(self) -> list[Tag]:
        """Every version tag, oldest first."""
        return tag_catalog.all_tags(self.session.conn)

    def tag_version(self, name: str) -> int:
        """The version of tag ``name``; UnknownTagError if there is none."""
        version = tag_catalog.tag_version(self.session.conn, name)
        if version is None:
            raise E.UnknownTagError(f"unknown version tag {name!r}")
        return version

    # ------------------------------------------------------------------ dataset snapshots

    def snapshots(self) -> list[snapshot_catalog.Snapshot]:
        """Every dataset snapshot (CREATE SNAPSHOT ...), oldest first."""
        return snapshot_catalog.all_snapshots(self.session.conn)

    def snapshot(self, name: str) -> snapshot_catalog.Snapshot:
        """The snapshot of full name ``name`` (``"m0@1.0.0"``); UnknownSnapshotError if none."""
        return self.lineage(name)[-1]

    def lineage(self, name: str) -> list[snapshot_catalog.Snapshot]:
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
        return snapshot_catalog.lineage(self.session.conn, name)

    # ------------------------------------------------------------------ versions

    @property
    def version(self) -> int:
        """The last version handed out (µs)."""
        return clock.current(self.session.conn)

    def versioned_tables(self) -> list[str]:
        """Names of the versioned tables that exist now."""
        return tag_catalog.versioned_tables(self.session.conn)

    # ------------------------------------------------------------------ semantic search

    def embed(
        self, table: str, column: str, embedder: str | None = None,
        progress: Callable[[int, int], object] | None = None,
    ) -> int:
        """Compute and cache the embeddings of every distinct text of ``table.column``, as
        it is now and in its history (so AT VERSION queries find them too).

        Returns how many texts the embedder computed (0 when all were cached already).
        ``embedder``: use this embedder (by name); if the column was embedded with another,
        it is re-embedded and switched to this one (embedders are never mixed; a column
        declared EMBEDDING MODEL keeps its model). ``progress(done, total)`` is called after
        each batch the embedder computed. SEMANTIC_MATCH and exports embed lazily anyway:
        this only moves the work ahead of time.
        """
        return self.session.semantic.embed_column(table, column, embedder, progress)

    def embedding_health(self) -> list[EmbeddingHealth]:
        """Per embedding column (declared ``EMBEDDING``, or recorded by a search): its model,
        and how many of its non-NULL text values are embedded (``SHOW EMBEDDING HEALTH``)."""
        return health(self.session.conn)

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
            self.session.conn.execute(f"SAVEPOINT {name}")
            try:
                yield self
            except BaseException:
                self.session.conn.execute(f"ROLLBACK TO {name}")
                self.session.conn.execute(f"RELEASE {name}")
                self.session.pinned = False
                self.session.write_epoch += 1  # what was remembered inside is rolled back
                raise
            self.session.conn.execute(f"RELEASE {name}")
            return
        self.execute(f"BEGIN {mode}")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()
