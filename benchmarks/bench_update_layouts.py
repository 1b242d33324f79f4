"""P11 design evidence: what a versioned whole-table UPDATE costs in each history layout.

Usage:
    python benchmarks/bench_update_layouts.py [--rows 1000000] [--quick] [--repeat 3]

galaxlite's UPDATE of every row (or of a contiguous 10 % id range) misses its goal of
≤ 2.5× plain SQLite (``bench_cleaning.py``). This script measures, in raw SQL on plain
files, the parts of a versioned UPDATE, so that the miss can be explained and the layout
that would meet the goal is known before the storage is changed. Each side is a file with
the same ``t`` as the other benchmarks, measured side by side with a plain ``UPDATE`` of
the same rows on a file of its own (order alternating, each statement its own transaction):

* ``copy`` — the old rows appended to a history table without any index (the floor of
  "copy every old row once");
* ``copy + valid_to index`` — what reading the past as of a version needs (rows closed
  after it);
* ``copy + valid_to + key index`` — galaxlite's layout today (``schema/versioned.sql``;
  the key index serves ``AT VERSION ... WHERE id = ?``): the key index's new entries fall
  between every key's earlier entries, so every leaf page of it is rewritten;
* ``batch copy`` — a large statement's old rows stored at history rowid ``base + key``
  (one row per batch in a catalog holding ``base`` and the version), so that neither index
  is needed: a lookup by key probes ``rowid = base + key`` of each batch closed after the
  version, a read of the past takes the batches' rowid ranges;
* ``batch delta copy`` — the same, storing only the columns the UPDATE changes (a DELETE
  still copies whole rows).

Each side then DELETEs 10 % of the rows, scattered, in rounds (as ``bench_cleaning.py``),
over the history its UPDATEs left.

Then a point lookup of one key's closed version, key index against batch probe.
Not a test: it only prints.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402

HISTORY = """CREATE TABLE h (h0, h1, h2, h3, h4, _gl_rowid, valid_from INTEGER NOT NULL,
    valid_to INTEGER NOT NULL)"""
COPY = ("INSERT INTO h (h0, h1, h2, h3, h4, _gl_rowid, valid_from, valid_to) "
        "SELECT id, name, score, label, body, id, ?, ? FROM t {where}")
BATCH_COPY = ("INSERT INTO h (rowid, h0, h1, h2, h3, h4, _gl_rowid, valid_from, valid_to) "
              "SELECT ? + id, id, name, score, label, body, id, ?, ? FROM t {where}")
UPDATE = "UPDATE t SET score = score + 1, label = label + 1 {where}"
DELETE = "DELETE FROM t WHERE id IN (SELECT value FROM json_each(?))"
# Only the columns the UPDATE changes (a DELETE still copies whole rows).
DELTA_COPY = ("INSERT INTO h (rowid, h2, h3, _gl_rowid, valid_from, valid_to) "
              "SELECT ? + id, score, label, id, ?, ? FROM t {where}")

LAYOUTS: dict[str, list[str]] = {
    "copy": [HISTORY],
    "copy + valid_to index": [HISTORY, "CREATE INDEX h_to ON h (valid_to)"],
    "copy + valid_to + key index (today)": [
        HISTORY, "CREATE INDEX h_to ON h (valid_to)", "CREATE INDEX h_key ON h (_gl_rowid, valid_to)"],
    "batch copy (rowid = base + key)": [HISTORY, "CREATE TABLE batches (base, lo, hi, valid_to)"],
    "batch delta copy (changed columns only)": [HISTORY, "CREATE TABLE batches (base, lo, hi, valid_to)"],
}


class Side:
    """One file: ``t`` filled with ``n`` rows, and (unless plain) a history layout."""

    def __init__(self, path: Path, n: int, layout: list[str] | None, delta: bool = False) -> None:
        self.conn = C.open_plain(path)
        C.fill_plain(self.conn, n)
        for ddl in layout or []:
            self.conn.execute(ddl)
        C.checkpoint(self.conn)
        self.batch = layout is not None and "batches" in layout[-1]
        self.delta = delta
        self.version = 1
        self.n = n

    def update(self, where: str, params: tuple, statement: str = UPDATE) -> Callable[[], None]:
        """The versioned (or, without a layout, plain) ``statement`` as one transaction."""
        def run() -> None:
            with self.conn:
                if self.batch:
                    (base,) = next(self.conn.execute("SELECT coalesce(max(rowid), 0) FROM h"))
                    copy = DELTA_COPY if self.delta and statement == UPDATE else BATCH_COPY
                    self.conn.execute(copy.format(where=where), (base, 0, self.version, *params))
                    self.conn.execute("INSERT INTO batches VALUES (?, ?, ?, ?)",
                                      (base, 1, self.n, self.version))
                elif self.conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'h'").fetchall():
                    self.conn.execute(COPY.format(where=where), (0, self.version, *params))
                self.conn.execute(statement.format(where=where), params)
            self.version += 1
        return run


def layout_lines(root: Path, n: int, repeat: int) -> list[C.Line]:
    lines = []
    tenth = max(1, n // 10)
    starts = random.Random(5).sample(range(1, max(2, n - tenth)), repeat + 1)
    ids = list(range(1, n + 1))
    random.Random(6).shuffle(ids)
    per = max(1, n // 10 // (repeat + 1))  # fresh ids each round, 10 % in all (as bench_cleaning)
    for name, ddl in LAYOUTS.items():
        C.progress(name)
        folder = root / str(len(lines))
        folder.mkdir()
        ours = Side(folder / "ours.db", n, ddl, delta="delta" in name)
        plain = Side(folder / "plain.db", n, None)
        for label, statement, where, params in (
            (f"UPDATE every row ({n:,})", UPDATE, "", [()] * (repeat + 1)),
            (f"UPDATE a contiguous 10 % ({tenth:,})", UPDATE, "WHERE id BETWEEN ? AND ?",
             [(s, s + tenth - 1) for s in starts]),
            (f"DELETE scattered ids ({per:,} per round)", DELETE, "WHERE id IN (SELECT value FROM json_each(?))",
             [(json.dumps(ids[k * per:(k + 1) * per]),) for k in range(repeat + 1)]),
        ):
            t_ours, t_plain = [], []
            for k, p in enumerate(params):
                pair = ((ours.update(where, p, statement), t_ours),
                        (plain.update(where, p, statement), t_plain))
                for fn, out in pair if k % 2 == 0 else pair[::-1]:
                    out.append(C.timed(fn))
            lines.append(C.compared_line(f"{name}: {label}", t_ours[1:], t_plain[1:], 2.5, "ms"))
        if name.startswith("copy + valid_to + key"):
            keyed = ours
        elif name.startswith("batch copy"):
            batched = ours
    lines.append(lookup_line(keyed, batched, n))
    return lines


def lookup_line(keyed: Side, batched: Side, n: int, lookups: int = 20_000) -> C.Line:
    """A closed version of one key as of version 1: key index probe vs batch probes."""
    rng = random.Random(9)
    keys = [rng.randint(1, n) for _ in range(lookups)]
    by_index = ("SELECT h0, h1, h2, h3, h4 FROM h WHERE _gl_rowid = ? AND valid_to > ? "
                "ORDER BY valid_to LIMIT 1")
    batches = batched.conn.execute(
        "SELECT base FROM batches WHERE valid_to > ? ORDER BY valid_to", (1,)).fetchall()
    by_batch = "SELECT h0, h1, h2, h3, h4 FROM h WHERE rowid = ?"

    def index_lookups() -> None:
        for key in keys:
            keyed.conn.execute(by_index, (key, 1)).fetchall()

    def batch_lookups() -> None:
        for key in keys:
            for (base,) in batches:  # the first batch after the version that holds the key
                if batched.conn.execute(by_batch, (base + key,)).fetchall():
                    break

    t_batch, t_index = C.compare(batch_lookups, index_lookups, 5, cpu=True)
    return C.compared_line("point lookup of a closed version: batch probe vs key index",
                           t_batch[1:], t_index[1:], None, "µs", lookups)


def main(argv: list[str] | None = None) -> int:
    ap = C.parser(__doc__.splitlines()[0])
    ap.set_defaults(repeat=3)
    args = ap.parse_args(argv)
    n = C.rows_option(args)
    repeat = min(args.repeat, 9)
    print(C.environment())
    with C.workdir(args.dir) as d:
        lines = layout_lines(d, n, repeat)
    C.print_table(
        f"P11 — a versioned UPDATE by history layout, {n:,} rows, vs the plain UPDATE (raw SQL)",
        lines,
        ["Each history layout on its own file, side by side with a plain file: the old rows",
         "are copied into history, then the UPDATE runs, in one transaction. The last line",
         "compares two ways to find a key's closed version (both raw SQL, CPU time); its",
         "'plain' column is the key index."],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
