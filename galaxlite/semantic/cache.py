"""Embeddings, cached: the candidate matrices of sources in memory, and text vectors in the
``galaxlite_embeddings`` table of the file.

The candidates' embedding matrix X (unit rows, float32) is kept in memory per source and
reused while the data is unchanged (``PRAGMA data_version``, ``total_changes()`` and the
schema version say so; a source read AT VERSION a committed tag never changes). Each
distinct text is embedded once: vectors come from other cached sources, then from the
``galaxlite_embeddings`` table of the file, and only the rest from the embedder, in
batches, then stored there. Vectors of different embedders are never mixed: a cached row
is keyed by the embedder's name and the hash of its text.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import apsw
import numpy as np

from galaxlite import errors as E
from galaxlite.semantic import vectors as V
from galaxlite.semantic.protocol import Embedder
from galaxlite.semantic.targets import Target, in_write_txn
from galaxlite.storage.guards import catalog_writer

EMBED_BATCH = 256  # texts per embedder call (and per cache commit)
LOOKUP_CHUNK = 500  # hashes per cache lookup query
MAX_SOURCES = 8  # embedding matrices kept in memory (least recently used dropped)
MAX_SOURCE_BYTES = 2 << 30
MAX_QUERY_VECTORS = 4096


def text_hash(text: str) -> bytes:
    """The cache key of a text: BLAKE2b-128 of its UTF-8 bytes."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


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


class SourceCache:
    """The sources and query vectors of one connection, and the state of its data."""

    def __init__(self, conn: apsw.Connection):
        self.conn = conn
        self.sources: OrderedDict[tuple, Source] = OrderedDict()
        self._query_vectors: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._generations = itertools.count(1)
        self._state: tuple = ()
        self._epoch = 0

    # -------------------------------------------------------------- data state

    def check_state(self) -> None:
        """Bump the epoch if anything may have changed since the last look."""
        state = self._current_state()
        if state != self._state:
            self._epoch += 1
            self._state = state

    def settle_state(self) -> None:
        """Record the state after our own bookkeeping writes (they change no user data)."""
        self._state = self._current_state()

    def _current_state(self) -> tuple[int, int, int]:
        """(PRAGMA data_version: other connections' commits — it looks at the file, unlike
        ``conn.data_version()`` which can lag until the next read; total_changes(): this
        connection's writes, committed or not; the schema version: DDL)."""
        conn = self.conn
        return conn.pragma("data_version"), conn.total_changes(), conn.pragma("schema_version")

    # -------------------------------------------------------------- sources

    def source(self, target: Target, emb: Embedder | None, render_id: int) -> Source:
        """The cached candidates of ``target`` (rebuilt when the data may have changed)."""
        if target.kind == "vector":
            emb = None  # the stored vectors are the embeddings, whatever embeds the query
        key = (*target.key, None if emb is None else emb.name)
        src = self.sources.get(key)
        if src is not None and (
            src.immutable
            or (src.txn_local and src.render == render_id)
            or (not src.txn_local and src.epoch == self._epoch)
        ):
            self.sources.move_to_end(key)
            return src
        return self.build_source(target, emb, render_id)

    def build_source(self, target: Target, emb: Embedder | None, render_id: int = 0) -> Source:
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
        txn_local = in_write_txn(self.conn) and not target.immutable
        src = Source(
            key=key, values=values, matrix=matrix,
            embedder=None if emb is None else emb.name, epoch=self._epoch, render=render_id,
            immutable=target.immutable, txn_local=txn_local, generation=next(self._generations),
            rowids=rowids, value_index=value_index,
        )
        self.sources.pop(key, None)
        self.sources[key] = src
        total = sum(s.nbytes for s in self.sources.values())
        while len(self.sources) > MAX_SOURCES or (total > MAX_SOURCE_BYTES and len(self.sources) > 1):
            _, old = self.sources.popitem(last=False)
            total -= old.nbytes
        return src

    # -------------------------------------------------------------- text vectors

    def query_vector(self, emb: Embedder, text: str) -> np.ndarray:
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

    def text_vectors(
        self, emb: Embedder, texts: list[str], progress: Callable[[int, int], object] | None = None,
    ) -> tuple[np.ndarray, int]:
        """Unit embeddings of ``texts`` (distinct) and how many the embedder computed.

        Each text is looked up in the in-memory sources of the same embedder, then in the
        file's cache; only the rest is embedded (in batches of :data:`EMBED_BATCH`) and
        stored. ``progress(done, total)`` is called after each batch the embedder computed
        (``total``: the texts it has to compute).
        """
        n = len(texts)
        out: np.ndarray | None = None
        todo = np.arange(n)
        for donor in (s for s in reversed(self.sources.values()) if s.embedder == emb.name):
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
        found = cached_vectors(self.conn, emb.name, emb.dim, [hashes[i] for i in missing])
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
            bookkeeping_write(
                self.conn,
                "INSERT OR REPLACE INTO galaxlite_embeddings (embedder, text_hash, dim, vector) "
                "VALUES (?, ?, ?, ?)",
                [(emb.name, hashes[i], emb.dim, vecs[r].tobytes()) for r, i in enumerate(batch)],
            )
            if progress is not None:
                progress(start + len(batch), len(rest))
        return out, len(rest)

def cached_vectors(conn: apsw.Connection, embedder: str, dim: int, hashes: list[bytes]) -> dict[bytes, bytes]:
    """Vectors (float32 BLOBs) of the file's embedding cache for these text hashes."""
    found: dict[bytes, bytes] = {}
    nbytes = 4 * dim
    for start in range(0, len(hashes), LOOKUP_CHUNK):
        chunk = hashes[start : start + LOOKUP_CHUNK]
        sql = (
            "SELECT text_hash, vector FROM galaxlite_embeddings WHERE embedder = ? AND dim = ? "
            f"AND text_hash IN ({', '.join('?' * len(chunk))})"
        )
        for h, blob in conn.execute(sql, (embedder, dim, *chunk)):
            if isinstance(blob, bytes) and len(blob) == nbytes:
                found[h] = blob
    return found


def bookkeeping_write(conn: apsw.Connection, sql: str, rows: list[tuple]) -> bool:
    """Bookkeeping write (cache rows); skipped if the file is busy or read-only: the cache is
    an optimisation, the query goes on."""
    return bookkeeping(conn, lambda: conn.executemany(sql, rows))


def bookkeeping(conn: apsw.Connection, write: Callable[[], object]) -> bool:
    """Run ``write()`` (cache rows, column records) in a transaction of its own (a savepoint
    inside the caller's), or skip it if the file is busy or read-only."""
    last_id = conn.last_insert_rowid()
    try:
        with conn, catalog_writer(conn):  # (the cache is read-only for other clients)
            write()
        return True
    except (apsw.BusyError, apsw.ReadOnlyError, apsw.LockedError, apsw.CantOpenError):
        return False
    finally:
        conn.set_last_insert_rowid(last_id)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero: they score 0)."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)


def _embed(emb: Embedder, texts: list[str]) -> np.ndarray:
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


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _usable_vector(dim: int) -> Callable[[Any], bool]:
    nbytes = 4 * dim

    def usable(value: Any) -> bool:
        return isinstance(value, bytes) and len(value) == nbytes

    return usable
