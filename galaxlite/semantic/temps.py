"""The TEMP tables a SEMANTIC_* call becomes: fill, reuse, collect.

The query is embedded once and ``X @ q`` is computed in numpy. The matching values (MATCH)
or every value with its score (SCORE) go into a TEMP table, and the call becomes
``(col IN (SELECT _gl_v FROM temp."_gl_sem_N"))`` or
``(SELECT _gl_s FROM temp."_gl_sem_N" WHERE _gl_v = col)`` (for a rowid table read directly,
rowids ``_gl_r`` instead of values). SQLite does the rest: no Python runs per row.

A table filled outside a transaction is kept for reuse by the same call on unchanged data;
one filled inside a transaction serves that execution only, since a rollback could take it
away. Tables no longer needed are dropped a little later (a finished result may still
describe itself by re-preparing its SQL).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass

import apsw
import numpy as np

from galaxlite.semantic.cache import Source

MAX_TEMPS = 32  # filled TEMP tables kept for reuse
KEEP_RECENT = 8  # single-use TEMP tables kept a little (a finished result may re-prepare)
SCAN_EVERY = 64  # renders between looks for stray TEMP tables
TEMP_PREFIX = "_gl_sem_"


@dataclass(slots=True)
class Temp:
    """One filled TEMP table (in the ``temp`` schema)."""

    name: str
    reusable: bool


class TempTables:
    """The TEMP tables of one connection: those kept for reuse and those to drop."""

    def __init__(self, conn: apsw.Connection):
        self.conn = conn
        self._temps: OrderedDict[tuple, Temp] = OrderedDict()
        self._drop_later: list[str] = []  # TEMP tables to drop, oldest first
        self._since_scan = 0
        self._names = itertools.count(1)

    def reusable(self, key: tuple) -> Temp | None:
        """The kept table filled for ``key`` (the source's generation, the call), if any."""
        temp = self._temps.get(key)
        if temp is not None:
            self._temps.move_to_end(key)
        return temp

    def fill(self, key: tuple, rows: list[tuple], match: bool, by_rowid: bool) -> Temp:
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
        temp = Temp(name, reusable)
        if reusable:
            self._temps[key] = temp
            while len(self._temps) > MAX_TEMPS:
                _, old = self._temps.popitem(last=False)
                self._drop_later.insert(0, old.name)
        else:
            self._drop_later.append(name)
        return temp

    def collect(self) -> None:
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


def temp_rows(source: Source, qvec: np.ndarray, threshold: float | None) -> list[tuple]:
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
