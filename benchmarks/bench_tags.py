"""P4: CREATE VERSION TAG cost at 1M and 10M rows (it must not depend on the table size).

Usage:
    python benchmarks/bench_tags.py [--rows 1000000] [--big-rows 10000000] [--quick]
                                    [--tags 200]

Two galaxlite files hold a versioned table of ``--rows`` and of ``--big-rows`` rows
(filled by BULK INSERT ... SELECT from a recursive CTE). ``--tags`` rounds then each create
one tag of each kind on each file; every tag is timed alone; the table shows medians:

* ``db.execute("CREATE VERSION TAG 'name'")`` with a new literal each time (the statement
  is lexed and planned every time, as when a user types it);
* ``db.create_tag(name)`` (``CREATE VERSION TAG ?``: the plan is cached);
* plain column: a one-row INSERT transaction (BEGIN IMMEDIATE, INSERT, COMMIT) into a
  small table of a plain SQLite file — the least any durable write costs, for scale.

Goal (P4, benchmarks/RESULTS.md): < 1 ms, independent of size; the last line compares the medians at
the two sizes (≤ 1.2× taken as "independent"). Not a test: it only prints.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402

GOAL_S = 0.001
SIZE_GOAL = 1.2
_names = itertools.count()


def tag_rounds(small, big, plain, count: int) -> dict[str, list[float]]:
    """``count`` rounds; each times one tag of each kind on each file and one plain write.

    The five operations of a round run back to back, in an order that rotates, so that load
    on the machine falls on all of them alike.
    """
    times: dict[str, list[float]] = {}

    def plain_insert() -> None:
        plain.execute("BEGIN IMMEDIATE")
        plain.execute("INSERT INTO tags (name, version) VALUES (?, ?)", (f"p{next(_names)}", 1))
        plain.execute("COMMIT")

    ops = [("plain", plain_insert)]
    for size, db in (("small", small), ("big", big)):
        ops.append((f"{size} literal",
                    lambda db=db: db.execute(f"CREATE VERSION TAG 'lit{next(_names)}'")))
        ops.append((f"{size} cached", lambda db=db: db.create_tag(f"api{next(_names)}")))
    for k in range(count):
        turn = k % len(ops)
        for key, fn in ops[turn:] + ops[:turn]:
            times.setdefault(key, []).append(C.timed(fn))
    return times


def main(argv: list[str] | None = None) -> int:
    ap = C.parser(__doc__.splitlines()[0])
    ap.add_argument("--big-rows", type=int, default=None, help="second size (default 10,000,000)")
    ap.add_argument("--tags", type=int, default=200, help="tags timed of each kind at each size")
    args = ap.parse_args(argv)
    n = C.rows_option(args)
    big_n = args.big_rows or (1_000_000 if args.quick else 10_000_000)
    print(C.environment())
    print(f"P4 CREATE VERSION TAG: {n:,} and {big_n:,} rows, median of {args.tags} tags each")
    with C.workdir(args.dir) as d:
        small, big = C.open_ours(d / "small.db"), C.open_ours(d / "big.db")
        plain = C.open_plain(d / "plain.db")
        plain.execute("CREATE TABLE tags (name TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        fill = {}
        for db, rows in ((small, n), (big, big_n)):
            C.progress(f"BULK INSERT {rows:,} rows")
            fill[rows] = C.timed(lambda db=db, rows=rows: C.fill_ours(db, rows))
            C.checkpoint(C.raw(db))
            (count,) = C.raw(db).execute(f"SELECT count(*) FROM {C.TABLE}").fetchone()
            if count != rows:
                raise SystemExit(f"expected {rows:,} rows, found {count:,}")
        C.progress(f"{args.tags} rounds of tags")
        tag_rounds(small, big, plain, 10)  # warm-up
        t = tag_rounds(small, big, plain, args.tags)
        size = C.file_mib(d / "big.db")
        for conn in (small, big, plain):
            conn.close()
    ref = C.median(t["plain"])
    lines = []
    for key, rows in (("small", n), ("big", big_n)):
        lines += [
            C.Line(f"CREATE VERSION TAG 'literal', {rows:,} rows", C.median(t[f"{key} literal"]),
                   ref, GOAL_S, absolute=True, unit="µs"),
            C.Line(f"db.create_tag(name) (cached plan), {rows:,} rows",
                   C.median(t[f"{key} cached"]), ref, GOAL_S, absolute=True, unit="µs"),
        ]
    lines.append(C.compared_line(f"size dependence: tag at {big_n:,} vs at {n:,} rows",
                                 t["big literal"], t["small literal"], SIZE_GOAL, "µs"))
    C.print_table(
        f"P4 — CREATE VERSION TAG at {n:,} and {big_n:,} rows (goal < 1 ms, independent of size)",
        lines,
        [
            "Plain column: a one-row INSERT transaction on plain SQLite, for scale. Filling by "
            f"BULK INSERT ... SELECT took {fill[n]:.1f} s ({n:,} rows) and {fill[big_n]:.1f} s "
            f"({big_n:,} rows; file {size:,.0f} MiB).",
            "Last line: the literal statement on the big file vs on the small one (ratio = median "
            f"of per-round ratios; the two run back to back); ≤ {SIZE_GOAL}× is taken as "
            "size-independent.",
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
