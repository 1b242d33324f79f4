"""P6 (benchmarks/RESULTS.md): statement overhead of a DB-API point query vs raw apsw. Goal: <= 1.3×.

Usage:
    python benchmarks/bench_dbapi.py [--rows 1000000] [--queries 100000] [--repeats 7]
                                     [--dir DIR] [--profile]

Builds a versioned table of ``--rows`` rows with galaxlite (through ``galaxlite.connect``)
and a plain copy with raw apsw (same schema, same rows, WAL, in separate files), then looks
up ``--queries`` random primary keys (the same keys, fixed seed) with

* galaxlite:  ``cur.execute("SELECT ... WHERE id = ?", (k,)); cur.fetchone()``
* raw apsw:   ``apsw_cur.execute(sql, (k,)).fetchone()`` (one cursor reused) and
              ``conn.execute(sql, (k,)).fetchone()`` (a cursor per query)

Two scenarios: autocommit (every query starts and ends SQLite's read transaction, which
in WAL mode costs more than the lookup itself) and inside one read transaction (what is
left is the pure per-statement overhead). Rounds are interleaved and repeated; each figure
is the best (minimum) CPU time per query over ``--repeats`` rounds, so other processes on
the machine disturb it little. Ratios are against the faster raw apsw variant; P6 is the
worse of the two. ``--profile`` (or a missed goal) runs the galaxlite loop under cProfile and
prints where the time goes. Not a test: it only prints.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import apsw  # noqa: E402

import galaxlite  # noqa: E402

GOAL = 1.3
SCHEMA = "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL, qty INTEGER)"
POINT_QUERY = "SELECT id, name, price, qty FROM items WHERE id = ?"
BATCH = 100_000


def rows(n: int):
    """The ``n`` rows both databases hold (deterministic)."""
    for i in range(n):
        yield (i, f"item-{i:07d}", (i % 1000) * 0.25, i % 97)


def build_galaxlite(path: str, n: int) -> galaxlite.Connection:
    """A versioned table of ``n`` rows, loaded with BULK INSERT through the DB-API."""
    con = galaxlite.connect(path)
    con.execute(SCHEMA)
    insert = "BULK INSERT INTO items (id, name, price, qty) VALUES (?, ?, ?, ?)"
    batch: list[tuple] = []
    for row in rows(n):
        batch.append(row)
        if len(batch) == BATCH:
            con.executemany(insert, batch)
            batch.clear()
    if batch:
        con.executemany(insert, batch)
    con.commit()
    return con


def build_plain(path: str, n: int) -> apsw.Connection:
    """The same rows in a plain SQLite table, written with raw apsw."""
    conn = apsw.Connection(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(SCHEMA)
    with conn:
        conn.executemany("INSERT INTO items VALUES (?, ?, ?, ?)", rows(n))
    return conn


def loop_galaxlite(con: galaxlite.Connection, keys: list[int], in_txn: bool) -> Callable[[], None]:
    def run() -> None:
        cur = con.cursor()
        execute, fetchone = cur.execute, cur.fetchone
        if in_txn:
            execute("BEGIN")
        for k in keys:
            execute(POINT_QUERY, (k,))
            fetchone()
        if in_txn:
            con.commit()
        cur.close()  # no statement left pending between rounds

    return run


def loop_apsw(conn: apsw.Connection, keys: list[int], in_txn: bool, reuse_cursor: bool) -> Callable[[], None]:
    """Raw apsw: one cursor reused for every query, or ``conn.execute`` (a cursor each)."""

    def run() -> None:
        cur = conn.cursor() if reuse_cursor else None
        execute = cur.execute if cur is not None else conn.execute
        if in_txn:
            execute("BEGIN")
        for k in keys:
            execute(POINT_QUERY, (k,)).fetchone()
        if in_txn:
            execute("COMMIT")
        if cur is not None:
            cur.close()

    return run


def per_query_us(run: Callable[[], None], queries: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per query for one round."""
    c0, w0 = time.process_time(), time.perf_counter()
    run()
    return (time.process_time() - c0) / queries * 1e6, (time.perf_counter() - w0) / queries * 1e6


def profile(run: Callable[[], None], top: int = 25) -> str:
    """cProfile of one round of ``run``, sorted by own time."""
    prof = cProfile.Profile()
    prof.enable()
    run()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    return out.getvalue()


def scenario(
    con: galaxlite.Connection, plain: apsw.Connection, keys: list[int], in_txn: bool,
    args: argparse.Namespace,
) -> float:
    """Time the three loops, print them and the ratio; returns the ratio."""
    ours_name = "galaxlite DB-API (cursor.execute + fetchone)"
    loops = {
        ours_name: loop_galaxlite(con, keys, in_txn),
        "raw apsw, one cursor reused": loop_apsw(plain, keys, in_txn, reuse_cursor=True),
        "raw apsw, conn.execute per query": loop_apsw(plain, keys, in_txn, reuse_cursor=False),
    }
    for run in loops.values():  # warm the page caches
        run()
    cpu: dict[str, list[float]] = {name: [] for name in loops}
    wall: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(args.repeats):
        for name, run in loops.items():
            c, w = per_query_us(run, len(keys))
            cpu[name].append(c)
            wall[name].append(w)
    title = ("inside one read transaction (pure statement overhead)" if in_txn
             else "autocommit (each query starts and ends a read transaction)")
    print(f"\n{title}: {len(keys):,} queries x {args.repeats} rounds, best round, "
          "CPU time [wall time]")
    for name in loops:
        print(f"  {name:46s} {min(cpu[name]):7.3f} µs/query  [{min(wall[name]):.3f} µs]")
    ours = min(cpu[ours_name])
    raw = min(min(v) for k, v in cpu.items() if k != ours_name)
    ratio = ours / raw
    print(f"  ratio galaxlite / fastest raw apsw = {ratio:.2f}x "
          f"({'meets' if ratio <= GOAL else 'MISSES'} the goal of <= {GOAL}x)")
    if args.profile or ratio > GOAL:
        print("\n  where the galaxlite time goes (cProfile, one round, sorted by own time):")
        print(profile(loops[ours_name]))
    return ratio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--dir", help="where to build the databases (default: a temp dir)")
    ap.add_argument("--profile", action="store_true", help="profile the galaxlite loop")
    args = ap.parse_args()

    workdir = args.dir or tempfile.mkdtemp(prefix="galaxlite-bench-dbapi-")
    os.makedirs(workdir, exist_ok=True)
    print(f"building {args.rows:,} rows in {workdir} ...", flush=True)
    t0 = time.perf_counter()
    con = build_galaxlite(os.path.join(workdir, "galaxlite.db"), args.rows)
    plain = build_plain(os.path.join(workdir, "plain.db"), args.rows)
    print(f"built in {time.perf_counter() - t0:.1f} s")

    rng = random.Random(42)
    keys = [rng.randrange(args.rows) for _ in range(args.queries)]
    assert con.execute(POINT_QUERY, (keys[0],)).fetchone() == plain.execute(
        POINT_QUERY, (keys[0],)
    ).fetchone()

    worst = 0.0
    for in_txn in (False, True):
        worst = max(worst, scenario(con, plain, keys, in_txn, args))
    print(f"\nP6: worst ratio {worst:.2f}x "
          f"({'meets' if worst <= GOAL else 'MISSES'} the goal of <= {GOAL}x)")
    con.close()
    plain.close()


if __name__ == "__main__":
    main()
