"""The semantic engine of one ``Database``: renders SEMANTIC_MATCH / SEMANTIC_SCORE calls,
embeds columns ahead of time (``Database.embed``), and owns the VECTOR(n) SQL functions.

How ``SEMANTIC_MATCH(col, 'query', t)`` runs (``SEMANTIC_SCORE`` likewise):

1. The front end (``transpile.semantic``) replaced the call by a hole and noted the FROM items
   of the enclosing SELECTs the column may come from.
2. ``SemanticEngine.render`` resolves the column to a *source* (``targets``): a table read
   now, a table read ``AT VERSION``, or a view / plain table. A source's candidate values are
   the DISTINCT values of the column there.
3. The candidates' embedding matrix X (unit rows, float32) is kept in memory per source and
   reused while the data is unchanged (``cache``). Each distinct text is embedded once:
   vectors come from other cached sources, then from the ``galaxlite_embeddings`` table of
   the file, and only the rest from the embedder, in batches, then stored there.
4. The query is embedded once (cached the same way) and ``X @ q`` is computed in numpy.
5. The matching values (MATCH) or every value with its score (SCORE) go into a TEMP table
   (``temps``), and the call becomes ``(col IN (SELECT _gl_v FROM temp."_gl_sem_N"))`` or
   ``(SELECT _gl_s FROM temp."_gl_sem_N" WHERE _gl_v = col)``. SQLite does the rest: no
   Python runs per row.

The column keeps the embedder it was first embedded with (``galaxlite_embedding_columns``);
another embedder on the same column is an error until ``Database.embed(..., embedder=...)``
re-embeds it. A column declared ``EMBEDDING MODEL 'name'`` (``galaxlite.semantic.declared``)
always uses that model; ``ALTER TABLE ... ALTER COLUMN ... SET EMBEDDING MODEL`` changes it.
Vectors of different embedders are never mixed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import apsw
import numpy as np

from galaxlite import errors as E
from galaxlite import storage
from galaxlite.params import Params
from galaxlite.semantic import calls as C
from galaxlite.semantic import declared
from galaxlite.semantic import embedders as EMB
from galaxlite.semantic import targets as T
from galaxlite.semantic.bindings import VectorBindings
from galaxlite.semantic.cache import SourceCache, bookkeeping
from galaxlite.semantic.protocol import Embedder
from galaxlite.semantic.temps import TempTables, temp_rows
from galaxlite.transpile import plan as P
from galaxlite.transpile import quote_identifier as q


@dataclass(slots=True)
class _Render:
    """Per-execution context: its SQL, and the TEMP tables filled so far."""

    sql: str
    render_id: int
    temps: dict = field(default_factory=dict)


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
        self.cache = SourceCache(conn)
        self.temps = TempTables(conn)
        self.bindings = VectorBindings(conn)
        self._renders = itertools.count(1)

    def install(self) -> None:
        """Register ``vector()``, ``vector_text()``, the unrendered-call guard and the
        list / numpy binding conversion on the connection."""
        self.bindings.install()

    # -------------------------------------------------------------- render

    def render(
        self, plan: P.Plan, params: Params, versions: list[int], subqueries: list[str]
    ) -> list[str]:
        """The SQL replacing each SEMANTIC_* call of ``plan``, in order (fills TEMP tables)."""
        self.cache.check_state()
        self.temps.collect()
        ctx = _Render(plan.source, next(self._renders))
        last_id = self.conn.last_insert_rowid()
        try:
            return [self._render_call(ctx, call, params, versions, subqueries) for call in plan.semantic]
        finally:
            self.conn.set_last_insert_rowid(last_id)
            self.cache.settle_state()

    def consumed(self, plan: P.Plan) -> set[int]:
        """Positional parameters used by SEMANTIC_* calls (removed before binding)."""
        return {p for call in plan.semantic for p in call.params}

    def _render_call(
        self, ctx: _Render, call: P.SemanticCall, params: Params, versions: list[int],
        subqueries: list[str],
    ) -> str:
        """Resolve, embed, score, fill a TEMP table; the SQL that replaces the call."""
        site = C.ErrorSite(ctx.sql, call.position)
        item, target = T.resolve(self.conn, call, versions, subqueries, site)
        query = C.arg_value(site, call, call.query, params, "query")
        threshold = None
        if call.is_match:
            threshold = C.threshold(site, C.arg_value(site, call, call.threshold, params, "threshold"))
        qvec, qkey, emb = self._query(site, call, target, query)
        source = self.cache.source(target, emb, ctx.render_id)
        key = (source.generation, call.function, qkey, threshold)
        temp = ctx.temps.get(key) or self.temps.reusable(key)
        if temp is None:
            rows = temp_rows(source, qvec, threshold)
            temp = self.temps.fill(key, rows, call.is_match, source.rowids is not None)
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

    def _query(
        self, site: C.ErrorSite, call: P.SemanticCall, target: T.Target, query: Any
    ) -> tuple[np.ndarray, tuple, Embedder | None]:
        """(unit query vector, its cache key, the embedder of a text query or None)."""
        if target.kind == "vector":
            vec = C.query_as_vector(query, target.dim)
            if vec is not None:
                norm = float(np.linalg.norm(vec))
                if norm == 0.0:
                    raise site("the query vector is all zeros (it has no direction)")
                vec = (vec / norm).astype(np.float32)
                return vec, ("vector", vec.tobytes()), None
        if not isinstance(query, str):
            raise site(
                f"the query of {call.function} must be a string"
                + (" or a vector" if target.kind == "vector" else "")
                + f", not {type(query).__name__}"
            )
        emb = self.embedder_for(target, site)
        return self.cache.query_vector(emb, query), ("text", emb.name, query), emb

    # -------------------------------------------------------------- embedders

    def embedder_for(
        self, target: T.Target, site: C.ErrorSite, requested: str | None = None,
        switch: bool = False,
    ) -> Embedder:
        """The embedder for ``target``'s column (records it on first use).

        ``requested``: a name asked for explicitly (``Database.embed(..., embedder=)``);
        ``switch``: make it the column's embedder (after re-embedding).
        """
        record = declared.record(self.conn, target.table, target.column)
        if requested is not None:
            name = requested.strip().lower()
        elif record is not None and (record.declared or not self.explicit):
            name = record.embedder  # a declared model wins over the session's default
        else:
            name = self.default
        if record is not None and record.declared and record.embedder != name:
            raise site(
                f"column {target.label} is declared EMBEDDING MODEL {record.embedder!r}, not "
                f"{name!r}: ALTER TABLE {q(target.table)} ALTER COLUMN {q(target.column)} SET "
                f"EMBEDDING MODEL {name!r} changes its model",
                E.EmbedderMismatchError,
            )
        if record is not None and record.embedder != name and not switch:
            hint = (
                f"db.embed({target.table!r}, {target.column!r}, embedder={name!r}) re-embeds it"
            )
            raise site(
                f"column {target.label} is embedded with {record.embedder!r} ({record.dim}-d), not "
                f"{name!r}: embeddings of different embedders are never mixed; {hint}",
                E.EmbedderMismatchError,
            )
        try:
            emb = EMB.get_embedder(name)
        except E.EmbedderError as exc:
            raise site.place(exc) from None
        if target.kind == "vector" and emb.dim != target.dim:
            raise site(
                f"column {target.label} is VECTOR({target.dim}) but embedder {name!r} makes "
                f"{emb.dim}-d vectors: query it with a vector (a list, array, BLOB or "
                f"'[...]' string) or choose an embedder of dimension {target.dim}",
            )
        if record is None or record.embedder != name:
            bookkeeping(self.conn, lambda: declared.record_use(
                self.conn, target.table, target.column, name, emb.dim))
        return emb

    def text_vectors(
        self, emb: Embedder, texts: list[str], progress: Callable[[int, int], object] | None = None,
    ) -> tuple[np.ndarray, int]:
        """Unit embeddings of ``texts`` (distinct) and how many the embedder computed (the
        in-memory sources, then the file's cache, then the embedder; ``progress`` as in
        ``SourceCache.text_vectors``)."""
        return self.cache.text_vectors(emb, texts, progress)

    # -------------------------------------------------------------- Database.embed

    def embed_column(
        self, table: str, column: str, embedder: str | None,
        progress: Callable[[int, int], object] | None = None,
    ) -> int:
        """Embed every distinct text of ``table.column``, now and in its history; returns how
        many texts the embedder had to compute (0 when all were cached). ``progress(done,
        total)`` after each batch the embedder computed."""
        self.cache.check_state()
        site = C.ErrorSite()  # no SQL: the errors say no place
        target = T.current_target(self.conn, None, table, column, site)
        if target.kind != "text":
            raise E.SemanticError(
                f"column {target.label} is VECTOR({target.dim}): it holds its own vectors, "
                "there is nothing to embed"
            )
        emb = self.embedder_for(target, site, embedder, switch=embedder is not None)
        sql = target.values_sql
        tv = storage.current_version(self.conn, target.table)
        if tv is not None:
            hcol = tv.history_column(target.column)
            sql = f"{sql} UNION SELECT {hcol} FROM {q(tv.history)}"
        texts = [v for (v,) in self.conn.execute(sql) if isinstance(v, str)]
        last_id = self.conn.last_insert_rowid()
        try:
            _, computed = self.cache.text_vectors(emb, texts, progress)
            # the in-memory matrix a query of the table will use (the file holds the rest)
            self.cache.build_source(T.by_rowid(self.conn, P.SourceItem(None, target.table), target), emb)
        finally:
            self.conn.set_last_insert_rowid(last_id)
            self.cache.settle_state()
        return computed
