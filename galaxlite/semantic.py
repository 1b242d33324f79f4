"""Semantic search: embeddings cached in the database file, SEMANTIC_MATCH / SEMANTIC_SCORE,
and the SQL side of ``VECTOR(n)`` columns.

How ``SEMANTIC_MATCH(col, 'query', t)`` runs (``SEMANTIC_SCORE`` likewise):

1. The front end (``transpile.semantic``) replaced the call by a hole and noted the FROM items
   of the enclosing SELECTs the column may come from.
2. ``SemanticEngine.render`` resolves the column to a *source*: a table read now, a table read
   ``AT VERSION``, or a view / plain table. A source's candidate values are the DISTINCT
   values of the column there.
3. The candidates' embedding matrix X (unit rows, float32) is kept in memory per source and
   reused while the data is unchanged (``PRAGMA data_version``, ``total_changes()`` and the
   schema version say so; a source read AT VERSION a committed tag never changes). Each
   distinct text is embedded once: vectors come from other cached sources, then from the
   ``galaxlite_embeddings`` table of the file, and only the rest from the embedder, in
   batches, then stored there.
4. The query is embedded once (cached the same way) and ``X @ q`` is computed in numpy.
5. The matching values (MATCH) or every value with its score (SCORE) go into a TEMP table,
   and the call becomes ``(col IN (SELECT _gl_v FROM temp."_gl_sem_N"))`` or
   ``(SELECT _gl_s FROM temp."_gl_sem_N" WHERE _gl_v = col)``. SQLite does the rest: no
   Python runs per row.

The column keeps the embedder it was first embedded with (``galaxlite_embedding_columns``);
another embedder on the same column is an error until ``Database.embed(..., embedder=...)``
re-embeds it. Vectors of different embedders are never mixed.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import apsw
import numpy as np

from galaxlite import embedders as EMB
from galaxlite import errors as E
from galaxlite import storage, transpile
from galaxlite import vectors as V
from galaxlite.params import Params, bound_value
from galaxlite.transpile import plan as P
from galaxlite.transpile import quote_identifier as q

EMBED_BATCH = 256  # texts per embedder call (and per cache commit)
LOOKUP_CHUNK = 500  # hashes per cache lookup query
MAX_SOURCES = 8  # embedding matrices kept in memory (least recently used dropped)
MAX_SOURCE_BYTES = 2 << 30
MAX_TEMPS = 32  # filled TEMP tables kept for reuse
KEEP_RECENT = 8  # single-use TEMP tables kept a little (a finished result may re-prepare)
SCAN_EVERY = 64  # renders between looks for stray TEMP tables
TEMP_PREFIX = "_gl_sem_"
MAX_QUERY_VECTORS = 4096
_TXN_WRITE = apsw.mapping_txn_state["SQLITE_TXN_WRITE"]
_NUMERIC_TYPES = ("INT", "REAL", "FLOA", "DOUB", "BLOB")
_NUMERIC_NAMES = frozenset({"NUMERIC", "DECIMAL", "BOOLEAN", "BOOL", "DATE", "DATETIME"})


def text_hash(text: str) -> bytes:
    """The cache key of a text: BLAKE2b-128 of its UTF-8 bytes."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


# ------------------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class Target:
    """What a SEMANTIC_* column refers to, resolved against the schema."""

    table: str  # the table (or view) name, for the embedder record and messages
    column: str
    kind: str  # "text" | "vector"
    dim: int | None  # VECTOR(n): n
    key: tuple  # identifies the source's candidate values
    values_sql: str  # SELECT [rowid,] <column> FROM ... (distinct values are kept in Python)
    immutable: bool  # the candidate values can never change (AT VERSION a committed past)
    rowid: str | None = None  # a rowid table read directly: match rows by this rowid name

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}"


@dataclass(slots=True)
class Source:
    """Candidate values of one column and their unit embedding rows (in memory)."""

    key: tuple
    values: list
    matrix: np.ndarray  # (len(values), dim) float32
    embedder: str | None  # None for VECTOR columns (the values are the vectors)
    epoch: int
    render: int  # the render that built it (txn-local sources live for that render only)
    immutable: bool
    txn_local: bool
    generation: int
    rowids: np.ndarray | None = None  # row sources: each row's rowid ...
    value_index: np.ndarray | None = None  # ... and the index of its value (-1: none)
    _pos: dict | None = None

    @property
    def nbytes(self) -> int:
        return int(self.matrix.nbytes)

    def positions(self) -> dict:
        """value -> row (built on first use: only needed when another source borrows rows)."""
        if self._pos is None:
            self._pos = {v: i for i, v in enumerate(self.values)}
        return self._pos


@dataclass(slots=True)
class _Temp:
    name: str
    reusable: bool


@dataclass(slots=True)
class _Render:
    """Per-execution context: what errors point at, and the TEMP tables filled so far."""

    sql: str
    render_id: int
    temps: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------ engine


class SemanticEngine:
    """One per ``Database``: embedder choice, caches, TEMP tables, VECTOR(n) SQL functions."""

    def __init__(self, conn: apsw.Connection, embedder: str | None = None):
        self.conn = conn
        self.explicit = embedder is not None
        self.default = (embedder or EMB.DEFAULT_EMBEDDER).strip().lower()
        if self.default not in EMB.available_embedders():
            raise E.UnknownEmbedderError(
                f"unknown embedder {self.default!r}; available embedders: "
                + ", ".join(EMB.available_embedders())
            )
        self._sources: OrderedDict[tuple, Source] = OrderedDict()
        self._temps: OrderedDict[tuple, _Temp] = OrderedDict()
        self._drop_later: list[str] = []  # TEMP tables to drop, oldest first
        self._since_scan = 0
        self._query_vectors: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._names = itertools.count(1)
        self._generations = itertools.count(1)
        self._renders = itertools.count(1)
        self._state: tuple = ()
        self._epoch = 0
        self._vector_targets: dict[str, dict[int, tuple[str, int]]] = {}
        self._targets_schema = -1

    # -------------------------------------------------------------- SQL functions, bindings

    def install(self) -> None:
        """Register ``vector()``, ``vector_text()``, the unrendered-call guard and the
        list / numpy binding conversion on the connection."""
        conn = self.conn
        conn.create_scalar_function("vector", _sql_vector, 1, deterministic=True)
        conn.create_scalar_function("vector_text", _sql_vector_text, 1, deterministic=True)
        conn.create_scalar_function("galaxlite_semantic_unrendered", _unrendered, 0)
        conn.convert_binding = self._convert_binding

    def _convert_binding(self, cursor: apsw.Cursor, num: int, value: Any) -> Any:
        """Bind a list or tuple of numbers as a float32 vector BLOB (numpy arrays never get
        here: apsw binds any buffer as its raw bytes). A vector bound to a VECTOR(n) column
        by INSERT ... VALUES or UPDATE ... SET col = ? is checked against n here, so the
        error can say what it got (the column's CHECK catches everything else)."""
        if isinstance(value, (list, tuple)):
            try:
                blob = V.encode_vector(value)
            except (ValueError, TypeError) as exc:
                raise E.DataError(f"parameter {num} is not a valid vector: {exc}") from None
            target = self._vector_target(cursor, num)
            if target is not None and len(blob) != 4 * target[1]:
                column, dim = target
                raise E.VectorDimensionError(
                    f"column {column!r} is VECTOR({dim}): expected {dim} components, "
                    f"got {len(blob) // 4} (parameter {num})",
                    column=column,
                    expected=dim,
                    got=len(blob) // 4,
                )
            return blob
        raise TypeError(
            f"Bad binding argument type supplied - argument #{num}: type {type(value).__name__}"
        )

    def _vector_target(self, cursor: apsw.Cursor, num: int) -> tuple[str, int] | None:
        version = self.conn.pragma("schema_version")
        if version != self._targets_schema:
            self._vector_targets.clear()
            self._targets_schema = version
        sql = getattr(cursor, "sql", None) or ""
        targets = self._vector_targets.get(sql)
        if targets is None:
            try:
                targets = self._find_vector_targets(sql)
            except (transpile.TranspileError, apsw.Error, IndexError):
                targets = {}
            if len(self._vector_targets) > 512:
                self._vector_targets.clear()
            self._vector_targets[sql] = targets
        return targets.get(num)

    def _find_vector_targets(self, sql: str) -> dict[int, tuple[str, int]]:
        """{parameter number: (column, n)} for parameters bound straight to VECTOR(n) columns
        by ``INSERT ... [(cols)] VALUES (...)`` or ``UPDATE ... SET col = ?``."""
        found = transpile.parameter_columns(sql)
        if found is None:
            return {}
        schema, table, by_param = found
        columns = self._declared_types(schema, table)
        dims = {}
        for name, decl in columns:
            try:
                dim = V.parse_vector_type(decl)
            except ValueError:
                dim = None
            if dim is not None:
                dims[name.lower()] = (name, dim)
        if not dims:
            return {}
        all_columns = [n for n, _ in columns]
        return {
            number: dims[col.lower()]
            for number, col in by_param(all_columns).items()
            if col.lower() in dims
        }

    def _declared_types(self, schema: str | None, table: str) -> list[tuple[str, str]]:
        return [
            (name, decl or "")
            for name, decl in self.conn.execute(
                "SELECT name, type FROM pragma_table_xinfo(?, ?)", (table, schema or "main")
            )
        ]

    # -------------------------------------------------------------- data state

    def _check_state(self) -> None:
        """Bump the epoch if anything may have changed since the last look."""
        state = self._current_state()
        if state != self._state:
            self._epoch += 1
            self._state = state

    def _settle_state(self) -> None:
        """Record the state after our own bookkeeping writes (they change no user data)."""
        self._state = self._current_state()

    def _current_state(self) -> tuple[int, int, int]:
        """(PRAGMA data_version: other connections' commits — it looks at the file, unlike
        ``conn.data_version()`` which can lag until the next read; total_changes(): this
        connection's writes, committed or not; the schema version: DDL)."""
        conn = self.conn
        return conn.pragma("data_version"), conn.total_changes(), conn.pragma("schema_version")

    def _in_write_txn(self) -> bool:
        return self.conn.txn_state("main") == _TXN_WRITE

    # -------------------------------------------------------------- render

    def render(
        self, plan: P.Plan, params: Params, versions: list[int], subqueries: list[str]
    ) -> list[str]:
        """The SQL replacing each SEMANTIC_* call of ``plan``, in order (fills TEMP tables)."""
        self._check_state()
        self._collect()
        ctx = _Render(plan.source, next(self._renders))
        last_id = self.conn.last_insert_rowid()
        try:
            return [self._render_call(ctx, call, params, versions, subqueries) for call in plan.semantic]
        finally:
            self.conn.set_last_insert_rowid(last_id)
            self._settle_state()

    def consumed(self, plan: P.Plan) -> set[int]:
        """Positional parameters used by SEMANTIC_* calls (removed before binding)."""
        return {p for call in plan.semantic for p in call.params}

    def _render_call(
        self, ctx: _Render, call: P.SemanticCall, params: Params, versions: list[int],
        subqueries: list[str],
    ) -> str:
        """Resolve, embed, score, fill a TEMP table; the SQL that replaces the call."""
        fn = call.function
        item, target = self.resolve(ctx, call, versions, subqueries)
        query = _arg_value(ctx, call, call.query, params, "query")
        threshold = None
        if call.is_match:
            threshold = _threshold(ctx, call, _arg_value(ctx, call, call.threshold, params, "threshold"))
        qvec, qkey, emb_name = self._query(ctx, call, target, query)
        source = self._source(ctx, call, target, emb_name)
        key = (source.generation, fn, qkey, threshold)
        temp = ctx.temps.get(key) or self._reusable_temp(key)
        if temp is None:
            temp = self._fill(key, _temp_rows(source, qvec, threshold), call.is_match, source.rowids is not None)
        ctx.temps[key] = temp
        name = f'temp."{temp.name}"'
        if target.rowid is not None:  # rows of a rowid table: by key
            qualifier = q(item.alias) if item.alias is not None else (
                f"{q(item.schema)}.{q(item.name)}" if item.schema else q(item.name)
            )
            ref = f"{qualifier}.{target.rowid}"
            if call.is_match:
                return f"({ref} IN (SELECT _gl_r FROM {name}))"
            return f"(SELECT _gl_s FROM {name} WHERE _gl_r = {ref})"
        if call.is_match:
            return f"({call.column_sql} IN (SELECT _gl_v FROM {name}))"
        return f"(SELECT _gl_s FROM {name} WHERE _gl_v = {call.column_sql})"

    # -------------------------------------------------------------- TEMP tables

    def _reusable_temp(self, key: tuple) -> _Temp | None:
        temp = self._temps.get(key)
        if temp is not None:
            self._temps.move_to_end(key)
        return temp

    def _fill(self, key: tuple, rows: list[tuple], match: bool, by_rowid: bool) -> _Temp:
        """A new TEMP table holding ``rows`` (value[, score]).

        Made outside a transaction it is kept for reuse (by the same call on unchanged data:
        ``key`` holds the source's generation); made inside one it serves this execution
        only, since a rollback could take it away.
        """
        conn = self.conn
        name = f"{TEMP_PREFIX}{next(self._names)}"
        if by_rowid:
            columns = "_gl_r INTEGER PRIMARY KEY" + ("" if match else ", _gl_s REAL")
        else:
            columns = "_gl_v PRIMARY KEY" + ("" if match else ", _gl_s REAL")
        options = "" if by_rowid else " WITHOUT ROWID"
        marks = "?" if match else "?, ?"
        reusable = not conn.in_transaction
        with conn:
            conn.execute(f'CREATE TEMP TABLE "{name}" ({columns}){options}')
            conn.executemany(f'INSERT INTO temp."{name}" VALUES ({marks})', rows)
        temp = _Temp(name, reusable)
        if reusable:
            self._temps[key] = temp
            while len(self._temps) > MAX_TEMPS:
                _, old = self._temps.popitem(last=False)
                self._drop_later.insert(0, old.name)
        else:
            self._drop_later.append(name)
        return temp

    def _collect(self) -> None:
        """Drop TEMP tables no longer needed, but the newest few single-use ones (a finished
        result may still describe itself by re-preparing its SQL). SQLite refuses to drop
        while another statement runs (it may be reading the table): those wait. Now and then
        also drop strays (a table dropped in a transaction that was rolled back comes back).
        """
        self._since_scan += 1
        if self._since_scan >= SCAN_EVERY:
            self._since_scan = 0
            known = {t.name for t in self._temps.values()} | set(self._drop_later)
            strays = [
                n
                for (n,) in self.conn.execute(
                    "SELECT name FROM sqlite_temp_master WHERE type = 'table' "
                    "AND substr(name, 1, ?) = ?",
                    (len(TEMP_PREFIX), TEMP_PREFIX),
                )
                if n not in known
            ]
            self._drop_later[:0] = strays
        if len(self._drop_later) <= KEEP_RECENT:
            return
        old, recent = self._drop_later[:-KEEP_RECENT], self._drop_later[-KEEP_RECENT:]
        keep = []
        for name in old:
            try:
                self.conn.execute(f'DROP TABLE IF EXISTS temp."{name}"')
            except apsw.Error:
                keep.append(name)
        self._drop_later = keep + recent

    # -------------------------------------------------------------- resolution

    def resolve(
        self, ctx: _Render, call: P.SemanticCall, versions: list[int], subqueries: list[str]
    ) -> tuple[P.SourceItem, Target]:
        """The FROM item and source of the call's column (SemanticError if not found)."""
        item = self._find_item(ctx, call, versions)
        return item, self._target(ctx, call, item, versions, subqueries)

    def _find_item(self, ctx: _Render, call: P.SemanticCall, versions: list[int]) -> P.SourceItem:
        col = call.column
        if call.qualifier:
            for scope in call.scopes:
                found = [i for i in scope if _qualifies(i, call.qualifier)]
                if len(found) > 1:
                    raise _error(ctx, call, f"ambiguous table name {'.'.join(call.qualifier)!r}")
                if found:
                    return found[0]
            raise _error(ctx, call, f"no such column: {call.column_sql}")
        for scope in call.scopes:
            opaque = [i for i in scope if i.kind != "table"]
            found = [i for i in scope if i.kind == "table" and self._has_column(i, col, versions)]
            if len(found) > 1:
                names = ", ".join(i.exposed for i in found)
                raise _error(
                    ctx, call,
                    f"ambiguous column name {col!r} (it is in {names}): qualify it, e.g. "
                    f"{found[0].exposed}.{col}",
                )
            if found:
                return found[0]
            if opaque:
                return opaque[0]
        raise _error(ctx, call, f"no such column: {col}")

    def _has_column(self, item: P.SourceItem, col: str, versions: list[int]) -> bool:
        if item.ref is not None:
            past = storage.version_at(self.conn, item.name, versions[item.ref])
            return past is not None and past.history_column(col) is not None
        return any(n.lower() == col.lower() for n, _ in self._declared_types(item.schema, item.name))

    def _target(
        self, ctx: _Render, call: P.SemanticCall, item: P.SourceItem, versions: list[int],
        subqueries: list[str],
    ) -> Target:
        if item.kind != "table":
            what = {"subquery": "a subquery", "cte": "a WITH clause", "function": "a table function"}
            raise _error(
                ctx, call,
                f"{call.function} needs a column of a table or view; {call.column_sql!r} comes "
                f"from {what[item.kind]} here",
            )
        if item.ref is not None:
            return self._past_target(ctx, call, item, versions[item.ref], subqueries[item.ref])
        target = self.current_target(item.schema, item.name, call.column, lambda m: _error(ctx, call, m))
        return self._by_rowid(item, target)

    def _by_rowid(self, item: P.SourceItem, target: Target) -> Target:
        """For a rowid table read directly: the same source, matched by rowid, so that SQLite
        fetches the matching rows by key instead of comparing every row's value."""
        schema = item.schema or "main"
        for kind, without_rowid in self.conn.execute(
            "SELECT type, wr FROM pragma_table_list WHERE name = ? COLLATE NOCASE AND schema = ?",
            (item.name, schema),
        ):
            if kind != "table" or without_rowid:
                return target
            taken = {n.lower() for n, _ in self._declared_types(item.schema, item.name)}
            alias = next((a for a in ("rowid", "_rowid_", "oid") if a not in taken), None)
            if alias is None:
                return target
            where = f"{q(item.schema)}." if item.schema else ""
            return replace(
                target,
                key=("rows", *target.key),
                values_sql=f"SELECT {alias}, {q(target.column)} FROM {where}{q(item.name)}",
                rowid=alias,
            )
        return target

    def current_target(
        self, schema: str | None, table: str, column: str, fail: Callable[[str], Exception]
    ) -> Target:
        """The source of ``table.column`` as it is now (versioned table, plain table, view)."""
        declared = self._declared_types(schema, table)
        if not declared:
            raise fail(f"no such table: {table}")
        match = [(n, t) for n, t in declared if n.lower() == column.lower()]
        if not match:
            raise fail(f"no such column: {table}.{column}")
        name, decl = match[0]
        kind, dim = _column_kind(decl, f"{table}.{name}", fail)
        tv = storage.current_version(self.conn, table) if (schema or "main").lower() == "main" else None
        if tv is not None:
            key = ("now", tv.table_id, tv.history_column(name))
            values_sql = f"SELECT {q(name)} FROM main.{q(tv.name)}"
            return Target(tv.name, name, kind, dim, key, values_sql, False)
        where = f"{q(schema)}." if schema else ""
        key = ("rel", (schema or "").lower(), table.lower(), name.lower())
        values_sql = f"SELECT {q(name)} FROM {where}{q(table)}"
        return Target(table, name, kind, dim, key, values_sql, False)

    def _past_target(
        self, ctx: _Render, call: P.SemanticCall, item: P.SourceItem, version: int, subquery: str
    ) -> Target:
        conn = self.conn
        past = storage.version_at(conn, item.name, version)
        hcol = past.history_column(call.column) if past is not None else None
        if past is None or hcol is None:
            raise _error(ctx, call, f"no such column at version {version}: {item.name}.{call.column}")
        name = next(n for n, h in past.columns if h == hcol)
        decl = None
        now = storage.current_of(conn, past.table_id)
        if now is not None:
            now_name = next((n for n, h in now.columns if h == hcol), None)
            if now_name is not None:
                decl = dict((n.lower(), t) for n, t in self._declared_types(None, now.name)).get(
                    now_name.lower()
                )
        kind, dim = _column_kind(decl or "", f"{past.name}.{name}", lambda m: _error(ctx, call, m))
        immutable = version < storage_clock(conn) and not self._in_write_txn()
        key = ("past", past.table_id, hcol, version)
        values_sql = f"SELECT {q(name)} FROM {subquery}"
        return Target(past.name, name, kind, dim, key, values_sql, immutable)

    # -------------------------------------------------------------- embedders

    def embedder_for(
        self, target: Target, fail: Callable[[str, type], Exception], requested: str | None = None,
        switch: bool = False,
    ) -> EMB.Embedder:
        """The embedder for ``target``'s column (records it on first use).

        ``requested``: a name asked for explicitly (``Database.embed(..., embedder=)``);
        ``switch``: make it the column's embedder (after re-embedding).
        """
        record = self._record(target)
        if requested is not None:
            name = requested.strip().lower()
        elif self.explicit or record is None:
            name = self.default
        else:
            name = record[0]
        if record is not None and record[0] != name and not switch:
            hint = (
                f"db.embed({target.table!r}, {target.column!r}, embedder={name!r}) re-embeds it"
            )
            raise fail(
                f"column {target.label} is embedded with {record[0]!r} ({record[1]}-d), not "
                f"{name!r}: embeddings of different embedders are never mixed; {hint}",
                E.EmbedderMismatchError,
            )
        emb = get_embedder(name, fail)
        if target.kind == "vector" and emb.dim != target.dim:
            raise fail(
                f"column {target.label} is VECTOR({target.dim}) but embedder {name!r} makes "
                f"{emb.dim}-d vectors: query it with a vector (a list, array, BLOB or "
                f"'[...]' string) or choose an embedder of dimension {target.dim}",
                E.SemanticError,
            )
        if record is None or record[0] != name:
            self._write(
                "INSERT OR REPLACE INTO galaxlite_embedding_columns "
                "(table_name, column_name, embedder, dim) VALUES (?, ?, ?, ?)",
                [(target.table, target.column, name, emb.dim)],
            )
        return emb

    def _record(self, target: Target) -> tuple[str, int] | None:
        for row in self.conn.execute(
            "SELECT embedder, dim FROM galaxlite_embedding_columns "
            "WHERE table_name = ? AND column_name = ?",
            (target.table, target.column),
        ):
            return row[0], row[1]
        return None

    # -------------------------------------------------------------- queries and sources

    def _query(
        self, ctx: _Render, call: P.SemanticCall, target: Target, query: Any
    ) -> tuple[np.ndarray, tuple, str | None]:
        """(unit query vector, its cache key, the embedder name or None)."""
        fail = _failer(ctx, call)
        if target.kind == "vector":
            vec = _query_as_vector(query, target.dim)
            if vec is not None:
                norm = float(np.linalg.norm(vec))
                if norm == 0.0:
                    raise _error(ctx, call, "the query vector is all zeros (it has no direction)")
                vec = (vec / norm).astype(np.float32)
                return vec, ("vector", vec.tobytes()), None
        if not isinstance(query, str):
            raise _error(
                ctx, call,
                f"the query of {call.function} must be a string"
                + (" or a vector" if target.kind == "vector" else "")
                + f", not {type(query).__name__}",
            )
        emb = self.embedder_for(target, fail)
        return self.query_vector(emb, query), ("text", emb.name, query), emb.name

    def query_vector(self, emb: EMB.Embedder, text: str) -> np.ndarray:
        """The embedding of one query text (memory, then the file's cache, then the embedder)."""
        key = (emb.name, text)
        vec = self._query_vectors.get(key)
        if vec is None:
            vec = self.text_vectors(emb, [text])[0][0]
            self._query_vectors[key] = vec
            while len(self._query_vectors) > MAX_QUERY_VECTORS:
                self._query_vectors.popitem(last=False)
        else:
            self._query_vectors.move_to_end(key)
        return vec

    def _source(
        self, ctx: _Render, call: P.SemanticCall, target: Target, emb_name: str | None
    ) -> Source:
        """The cached candidates of ``target`` (rebuilt when the data may have changed)."""
        if target.kind == "vector":
            emb_name = None  # the stored vectors are the embeddings, whatever embeds the query
        key = (*target.key, emb_name)
        src = self._sources.get(key)
        if src is not None and (
            src.immutable
            or (src.txn_local and src.render == ctx.render_id)
            or (not src.txn_local and src.epoch == self._epoch)
        ):
            self._sources.move_to_end(key)
            return src
        emb = None if emb_name is None else get_embedder(emb_name, _failer(ctx, call))
        return self.build_source(target, emb, ctx.render_id)

    def build_source(self, target: Target, emb: EMB.Embedder | None, render_id: int = 0) -> Source:
        """Read the candidate values of ``target`` and make (and cache) their matrix.

        ``emb`` embeds a text column's values; a VECTOR column's values are the vectors.
        """
        vector = target.kind == "vector"
        usable = _usable_vector(target.dim) if vector else _is_text
        rowids = value_index = None
        if target.rowid is not None:
            rowids, value_index, values = _rows_and_values(self.conn.execute(target.values_sql), usable)
        else:  # distinct values, in first-seen order
            rows = self.conn.execute(target.values_sql)
            values = [v for v in dict.fromkeys(v for (v,) in rows) if usable(v)]
        if vector:
            emb = None
            matrix = _unit_rows(
                V.decode_matrix(values, target.dim) if values else np.zeros((0, target.dim), np.float32)
            )
        else:
            matrix, _ = self.text_vectors(emb, values)
        key = (*target.key, None if emb is None else emb.name)
        txn_local = self._in_write_txn() and not target.immutable
        src = Source(
            key=key, values=values, matrix=matrix,
            embedder=None if emb is None else emb.name, epoch=self._epoch, render=render_id,
            immutable=target.immutable, txn_local=txn_local, generation=next(self._generations),
            rowids=rowids, value_index=value_index,
        )
        self._sources.pop(key, None)
        self._sources[key] = src
        total = sum(s.nbytes for s in self._sources.values())
        while len(self._sources) > MAX_SOURCES or (total > MAX_SOURCE_BYTES and len(self._sources) > 1):
            _, old = self._sources.popitem(last=False)
            total -= old.nbytes
        return src

    def text_vectors(self, emb: EMB.Embedder, texts: list[str]) -> tuple[np.ndarray, int]:
        """Unit embeddings of ``texts`` (distinct) and how many the embedder computed.

        Each text is looked up in the in-memory sources of the same embedder, then in the
        file's cache; only the rest is embedded (in batches) and stored.
        """
        n = len(texts)
        out: np.ndarray | None = None
        todo = np.arange(n)
        for donor in (s for s in reversed(self._sources.values()) if s.embedder == emb.name):
            if not len(todo):
                break
            pos = donor.positions()
            wanted = texts if len(todo) == n else [texts[i] for i in todo]
            idx = np.fromiter((pos.get(t, -1) for t in wanted), dtype=np.int64, count=len(wanted))
            hit = idx >= 0
            if out is None:  # one gather (rows of misses are overwritten below)
                out = np.take(donor.matrix, np.where(hit, idx, 0), axis=0)
            else:  # a scatter: slow per row, but only for what the first donor lacked
                out[todo[hit]] = donor.matrix[idx[hit]]
            todo = todo[~hit]
        if out is None:
            out = np.empty((n, emb.dim), dtype=np.float32)
        if not len(todo):
            return out, 0
        missing = todo.tolist()
        hashes = {i: text_hash(texts[i]) for i in missing}
        found = self._cached(emb, [hashes[i] for i in missing])
        rest, hit_rows, blobs = [], [], []
        for i in missing:
            blob = found.get(hashes[i])
            if blob is None:
                rest.append(i)
            else:
                hit_rows.append(i)
                blobs.append(blob)
        if blobs:
            out[hit_rows] = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), emb.dim)
        for start in range(0, len(rest), EMBED_BATCH):
            batch = rest[start : start + EMBED_BATCH]
            vecs = _embed(emb, [texts[i] for i in batch])
            out[batch] = vecs
            self._write(
                "INSERT OR REPLACE INTO galaxlite_embeddings (embedder, text_hash, dim, vector) "
                "VALUES (?, ?, ?, ?)",
                [(emb.name, hashes[i], emb.dim, vecs[r].tobytes()) for r, i in enumerate(batch)],
            )
        return out, len(rest)

    def _cached(self, emb: EMB.Embedder, hashes: list[bytes]) -> dict[bytes, bytes]:
        """Vectors (float32 BLOBs) of the file's embedding cache for these text hashes."""
        found: dict[bytes, bytes] = {}
        nbytes = 4 * emb.dim
        for start in range(0, len(hashes), LOOKUP_CHUNK):
            chunk = hashes[start : start + LOOKUP_CHUNK]
            sql = (
                "SELECT text_hash, vector FROM galaxlite_embeddings WHERE embedder = ? AND dim = ? "
                f"AND text_hash IN ({', '.join('?' * len(chunk))})"
            )
            for h, blob in self.conn.execute(sql, (emb.name, emb.dim, *chunk)):
                if isinstance(blob, bytes) and len(blob) == nbytes:
                    found[h] = blob
        return found

    def _write(self, sql: str, rows: list[tuple]) -> bool:
        """Bookkeeping write (cache rows, column records); skipped if the file is busy or
        read-only: the cache is an optimisation, the query goes on."""
        conn = self.conn
        last_id = conn.last_insert_rowid()
        try:
            with conn:
                conn.executemany(sql, rows)
            return True
        except (apsw.BusyError, apsw.ReadOnlyError, apsw.LockedError, apsw.CantOpenError):
            return False
        finally:
            conn.set_last_insert_rowid(last_id)

    # -------------------------------------------------------------- Database.embed

    def embed_column(self, table: str, column: str, embedder: str | None) -> int:
        """Embed every distinct text of ``table.column``, now and in its history; returns how
        many texts the embedder had to compute (0 when all were cached)."""
        self._check_state()

        def fail(message: str, cls: type = E.SemanticError) -> Exception:
            return cls(message)

        target = self.current_target(None, table, column, fail)
        if target.kind != "text":
            raise E.SemanticError(
                f"column {target.label} is VECTOR({target.dim}): it holds its own vectors, "
                "there is nothing to embed"
            )
        emb = self.embedder_for(target, lambda m, cls: cls(m), embedder, switch=embedder is not None)
        sql = target.values_sql
        tv = storage.current_version(self.conn, target.table)
        if tv is not None:
            hcol = tv.history_column(target.column)
            sql = f"{sql} UNION SELECT {hcol} FROM {q(tv.history)}"
        texts = [v for (v,) in self.conn.execute(sql) if isinstance(v, str)]
        last_id = self.conn.last_insert_rowid()
        try:
            _, computed = self.text_vectors(emb, texts)
            # the in-memory matrix a query of the table will use (the file holds the rest)
            self.build_source(self._by_rowid(P.SourceItem(None, target.table), target), emb)
        finally:
            self.conn.set_last_insert_rowid(last_id)
            self._settle_state()
        return computed


# ------------------------------------------------------------------------------ helpers


def storage_clock(conn: apsw.Connection) -> int:
    """The last version handed out (galaxlite_clock)."""
    for (v,) in conn.execute("SELECT version FROM galaxlite_clock WHERE id = 1"):
        return v
    return 0


def get_embedder(name: str, fail: Callable[[str, type], Exception]) -> EMB.Embedder:
    """``embedders.get_embedder`` with its errors as galaxlite errors."""
    try:
        return EMB.get_embedder(name)
    except EMB.UnknownEmbedderError as exc:
        raise fail(str(exc), E.UnknownEmbedderError) from None
    except EMB.EmbedderNotAvailableError as exc:
        raise fail(str(exc), E.EmbedderNotAvailableError) from None


def _embed(emb: EMB.Embedder, texts: list[str]) -> np.ndarray:
    vecs = np.ascontiguousarray(emb.embed(texts), dtype=np.float32)
    if vecs.shape != (len(texts), emb.dim):
        raise E.InternalError(
            f"embedder {emb.name!r} returned an array of shape {vecs.shape}, "
            f"expected {(len(texts), emb.dim)}"
        )
    return vecs


def _rows_and_values(
    cursor: Iterable[tuple], usable: Callable[[Any], bool]
) -> tuple[np.ndarray, np.ndarray, list]:
    """(rowids, index of each row's value or -1, distinct usable values) of (rowid, value) rows."""
    index: dict = {}
    rowids: list[int] = []
    which: list[int] = []
    for rowid, value in cursor:
        rowids.append(rowid)
        i = index.get(value)
        if i is None:
            i = -1
            if usable(value):
                i = index[value] = len(index)
        which.append(i)
    return np.array(rowids, dtype=np.int64), np.array(which, dtype=np.int64), list(index)


def _temp_rows(source: Source, qvec: np.ndarray, threshold: float | None) -> list[tuple]:
    """The rows of a TEMP table: matching values / rowids (MATCH), or each with its score."""
    scores = source.matrix @ qvec if len(source.values) else np.zeros(0, np.float32)
    if source.rowids is not None:
        valid = source.value_index >= 0
        row_scores = np.where(valid, scores[np.where(valid, source.value_index, 0)], np.nan) if len(
            scores
        ) else np.full(len(source.rowids), np.nan, dtype=np.float32)
        if threshold is not None:
            return [(r,) for r in source.rowids[row_scores >= np.float32(threshold)].tolist()]
        keep = ~np.isnan(row_scores)
        return list(zip(source.rowids[keep].tolist(), row_scores[keep].tolist(), strict=True))
    if threshold is not None:
        return [(source.values[i],) for i in np.flatnonzero(scores >= np.float32(threshold))]
    return list(zip(source.values, scores.tolist(), strict=True))


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _usable_vector(dim: int) -> Callable[[Any], bool]:
    nbytes = 4 * dim

    def usable(value: Any) -> bool:
        return isinstance(value, bytes) and len(value) == nbytes

    return usable


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero: they score 0)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)


def _column_kind(decl: str, label: str, fail: Callable[[str], Exception]) -> tuple[str, int | None]:
    try:
        dim = V.parse_vector_type(decl)
    except ValueError as exc:
        raise fail(f"column {label}: {exc}") from None
    if dim is not None:
        return "vector", dim
    upper = decl.strip().upper()
    if any(k in upper for k in _NUMERIC_TYPES) or upper.split("(")[0].strip() in _NUMERIC_NAMES:
        raise fail(
            f"column {label} is {decl}: SEMANTIC_MATCH and SEMANTIC_SCORE need a text or "
            "VECTOR(n) column"
        )
    return "text", None


def _qualifies(item: P.SourceItem, qualifier: tuple[str, ...]) -> bool:
    if len(qualifier) == 1:
        return item.exposed.lower() == qualifier[0].lower()
    schema, table = qualifier[0].lower(), qualifier[1].lower()
    return item.alias is None and item.name.lower() == table and (item.schema or "main").lower() == schema


def _error(ctx: _Render, call: P.SemanticCall, message: str, cls: type = E.SemanticError) -> E.Error:
    return E.sql_error(cls, message, ctx.sql, call.position)


def _failer(ctx: _Render, call: P.SemanticCall) -> Callable[..., Exception]:
    def fail(message: str, cls: type = E.SemanticError) -> Exception:
        return _error(ctx, call, message, cls)

    return fail


def _arg_value(ctx: _Render, call: P.SemanticCall, arg: P.SemanticArg, params: Params, what: str) -> Any:
    if arg.param is None:
        return arg.value
    key = arg.param
    try:
        return bound_value(params, key)
    except LookupError:
        shown = "?" if isinstance(key, int) else f":{key}"
        raise _error(
            ctx, call, f"no value bound for the {what} parameter {shown} of {call.function}",
            E.ProgrammingError,
        ) from None


def _threshold(ctx: _Render, call: P.SemanticCall, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _error(
            ctx, call,
            f"the threshold of SEMANTIC_MATCH must be a number from -1 to 1 (a cosine "
            f"similarity), not {type(value).__name__}",
        )
    t = float(value)
    if math.isnan(t) or not -1.0 <= t <= 1.0:
        raise _error(
            ctx, call,
            f"the threshold of SEMANTIC_MATCH must be from -1 to 1 (a cosine similarity), not {t:g}",
        )
    return t


def _query_as_vector(query: Any, dim: int) -> np.ndarray | None:
    """The query as a vector if it is one (BLOB, list, array, '[...]' text), else None."""
    if isinstance(query, str) and not query.lstrip().startswith("["):
        return None
    if not isinstance(query, (str, bytes, bytearray, memoryview, list, tuple, np.ndarray)):
        return None
    try:
        return V.decode_vector(V.encode_vector(query, dim=dim), dim)
    except V.VectorDimensionError as exc:
        raise E.VectorDimensionError(
            f"the query vector has {exc.got} components; the column is VECTOR({dim})",
            expected=dim, got=exc.got,
        ) from None
    except (ValueError, TypeError) as exc:
        raise E.DataError(f"the query is not a valid vector: {exc}") from None


# ------------------------------------------------------------------------------ SQL functions


def _sql_vector(value: Any) -> bytes | None:
    """SQL ``vector('[1, 2, 3]')``: the float32 BLOB of a vector literal (or BLOB)."""
    if value is None:
        return None
    if not isinstance(value, (str, bytes)):
        raise E.DataError(
            f"vector() takes a text like '[1, 2.5, 3]' or a float32 BLOB, not {type(value).__name__}"
        )
    try:
        return V.encode_vector(value)
    except (ValueError, TypeError) as exc:
        raise E.DataError(f"vector(): {exc}") from None


def _sql_vector_text(value: Any) -> str | None:
    """SQL ``vector_text(blob)``: the text form ``'[x1, x2, ...]'`` of a float32 BLOB."""
    if value is None:
        return None
    try:
        return V.format_vector(value if isinstance(value, bytes) else str(value))
    except (ValueError, TypeError) as exc:
        raise E.DataError(f"vector_text(): {exc}") from None


def _unrendered() -> None:
    raise E.NotSupportedError(
        "SEMANTIC_MATCH / SEMANTIC_SCORE need galaxlite to prepare each execution: use "
        "execute() (once per parameter set), not executemany()"
    )

