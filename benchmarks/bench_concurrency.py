"""P10: readers of a tag while a writer inserts — reads/s with 1, 2 and 4 reader processes.

Usage:
    python benchmarks/bench_concurrency.py [--rows 100000] [--seconds 2] [--repeat 3]
                                           [--readers 1,2,4] [--quick] [--dir DIR]

A galaxlite file holds the versioned table ``t`` (``--rows`` rows, BULK INSERT) and a tag
``v1`` of it; a plain SQLite file (raw apsw, same pragmas) holds the same rows in a plain
table. For each number of readers, both sides run the same thing for ``--seconds``:

* one writer process inserts rows after those (one-row autocommit INSERTs, as fast as it
  can: ``db.execute`` on galaxlite, ``conn.execute`` on plain apsw);
* N reader processes run queries in a loop, each on its own connection, counting them:
  a point lookup of a random id and a range of 100 ids, on galaxlite ``AT VERSION 'v1'``
  (the tag, while the table moves on), on plain SQLite the plain table (the same rows).

Every process opens its connection and warms up before a barrier starts the clock. Reads/s
is the readers' total; ratio = galaxlite / plain (higher is better; median of the per-round
ratios, the two sides alternating which goes first). The writers' inserts/s are shown for
information. The machine's cores bound what more readers can add: with 2 cores, 4 readers
and a writer share them. No goal is set (information). Not a test: it only prints.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402

QUERIES = {
    "point lookup": ("SELECT * FROM t AT VERSION 'v1' WHERE id = ?",
                     "SELECT * FROM t WHERE id = ?", 0),
    "range of 100 ids": ("SELECT * FROM t AT VERSION 'v1' WHERE id BETWEEN ? AND ?",
                         "SELECT * FROM t WHERE id BETWEEN ? AND ?", 99),
}
SIDES = ("galaxlite", "plain")


def _connect(side: str, path: str):
    """A query function ``run(sql, params) -> rows`` and an insert function, for one side."""
    if side == "galaxlite":
        db = C.open_ours(path)
        return db.query, lambda sql, params: db.execute(sql, params), db.close
    conn = C.open_plain(path)
    return (lambda sql, params: conn.execute(sql, params).fetchall(),
            lambda sql, params: conn.execute(sql, params), conn.close)


def reader(side: str, path: str, kind: str, rows: int, seconds: float, seed: int,
           start, out) -> None:
    """Run ``kind`` queries for ``seconds`` after ``start`` (a barrier); put the count."""
    query, _, close = _connect(side, path)
    ours, plain, span = QUERIES[kind]
    sql = ours if side == "galaxlite" else plain
    rng = random.Random(seed)

    def params() -> tuple[int, ...]:
        lo = rng.randint(1, rows - span)
        return (lo, lo + span) if span else (lo,)

    for _ in range(50):  # warm the page cache and the statement cache
        query(sql, params())
    start.wait()
    count, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(20):
            query(sql, params())
        count += 20
    close()
    out.put(("reader", count))


def writer(side: str, path: str, first_id: int, seconds: float, start, out) -> None:
    """Insert one row per statement (autocommit) for ``seconds`` after ``start``."""
    _, insert, close = _connect(side, path)
    start.wait()
    count, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        insert(C.INSERT, C.make_row(first_id + count))
        count += 1
    close()
    out.put(("writer", count))


def one_run(ctx, side: str, path: Path, kind: str, readers: int, rows: int, seconds: float,
            first_id: int, seed: int) -> tuple[float, float, int]:
    """(reads/s of all readers, inserts/s of the writer, rows inserted) for one run."""
    start = ctx.Barrier(readers + 1)
    out = ctx.Queue()
    procs = [ctx.Process(target=reader, args=(side, str(path), kind, rows, seconds, seed + k,
                                              start, out)) for k in range(readers)]
    procs.append(ctx.Process(target=writer, args=(side, str(path), first_id, seconds, start, out)))
    for p in procs:
        p.start()
    results = [out.get(timeout=120 + 10 * seconds) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        if p.exitcode != 0:
            raise SystemExit(f"a {side} process failed (exit {p.exitcode})")
    reads = sum(n for who, n in results if who == "reader")
    written = sum(n for who, n in results if who == "writer")
    return reads / seconds, written / seconds, written


class Rate(C.Line):
    """A Line whose ``ours`` and ``plain`` are rates (per second), not times."""

    __slots__ = ()

    def cells(self) -> list[str]:
        ratio = self.ratio
        return [self.what, f"{self.ours:,.0f}/s",
                "—" if self.plain is None else f"{self.plain:,.0f}/s",
                "—" if ratio is None else f"{ratio:.2f}×", "—", "info"]


def main(argv: list[str] | None = None) -> int:
    ap = C.parser(__doc__.splitlines()[0], default_rows=100_000)
    ap.add_argument("--seconds", type=float, default=None, help="length of one run (default 2)")
    ap.add_argument("--readers", default="1,2,4", help="numbers of reader processes")
    ap.set_defaults(repeat=3)
    args = ap.parse_args(argv)
    rows = C.rows_option(args)
    seconds = args.seconds or (0.5 if args.quick else 2.0)
    counts = [int(k) for k in args.readers.split(",")]
    print(C.environment())
    print(f"P10 readers of a tag while a writer inserts: {rows:,} rows, {seconds} s per run, "
          f"{args.repeat} rounds, readers {counts}")
    ctx = mp.get_context("spawn")
    lines: list[C.Line] = []
    with C.workdir(args.dir) as d:
        paths = {"galaxlite": d / "galaxlite.db", "plain": d / "plain.db"}
        db = C.open_ours(paths["galaxlite"])
        C.fill_ours(db, rows)
        db.create_tag("v1")
        C.checkpoint(C.raw(db))
        db.close()
        plain = C.open_plain(paths["plain"])
        C.fill_plain(plain, rows)
        C.checkpoint(plain)
        plain.close()
        next_id = {side: rows + 1 for side in SIDES}
        for kind in QUERIES:
            for n in counts:
                reads: dict[str, list[float]] = {s: [] for s in SIDES}
                writes: dict[str, list[float]] = {s: [] for s in SIDES}
                for k in range(args.repeat):
                    for side in SIDES if k % 2 == 0 else SIDES[::-1]:
                        C.progress(f"{kind}, {n} reader(s), {side}, round {k + 1}")
                        r, w, written = one_run(ctx, side, paths[side], kind, n, rows, seconds,
                                                next_id[side], 1000 * k)
                        next_id[side] += written
                        reads[side].append(r)
                        writes[side].append(w)
                paired = statistics.median(
                    o / p for o, p in zip(reads["galaxlite"], reads["plain"], strict=True))
                lines.append(Rate(f"{kind}, {n} reader process{'es' if n > 1 else ''}: reads/s",
                                  C.median(reads["galaxlite"]), C.median(reads["plain"]),
                                  paired=paired))
                lines.append(Rate("  the writer meanwhile: inserts/s",
                                  C.median(writes["galaxlite"]), C.median(writes["plain"])))
    C.print_table(
        "P10 — readers of a tag while a writer inserts (reads/s, higher is better)",
        lines,
        [
            f"{rows:,} rows; galaxlite readers query `AT VERSION 'v1'` (a tag taken before the "
            "writer started) on a versioned table, plain readers the plain table of a plain "
            "SQLite file (raw apsw, same pragmas); each side has its own writer inserting one "
            f"row per autocommit statement. Each run lasts {seconds} s; medians of "
            f"{args.repeat} rounds; ratio = galaxlite / plain (median of per-round ratios).",
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
