"""P11: data cleaning and keyed reads of the past at SQLite speed (set-based writes).

Usage:
    python benchmarks/bench_cleaning.py [--rows 1000000] [--quick] [--repeat 5]

One galaxlite file and one plain SQLite file (raw apsw, WAL, synchronous=NORMAL) hold the
same ``--rows`` rows. Each round runs the same statement with the same parameters on both
sides, back to back, order alternating (``bench_writes.statement_rounds``):

* ``UPDATE t SET score = score + 1`` (every row);
* ``UPDATE`` of a contiguous 10 % id range;
* ``DELETE`` of 10 % scattered ids (``WHERE id IN (SELECT value FROM json_each(?))``);
* ``executemany`` INSERT of ``--rows // 10`` rows whose ids start at 0, into an empty table;
* ``AT VERSION 'base' WHERE id = ?`` point lookups with 5 % of the rows changed since the
  tag, against the same lookup of the current table (galaxlite's, both through
  ``Database.execute``): per lookup, CPU time of 11 interleaved rounds of 2,000 lookups; the
  notes show SQLite's ``EXPLAIN QUERY PLAN`` of the lookup as galaxlite renders it.

galaxlite's own UPDATE / DELETE run on the set-based path (``galaxlite.engine.write_paths``).
Goals (issue "Writes and time travel at SQLite speed"): ≤ 2.5× for the writes, ≤ 1.2× for
the bulk path, ≤ 2× for the point lookup. Not a test: it only prints.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_time_travel as TT  # noqa: E402
import bench_writes as W  # noqa: E402
import common as C  # noqa: E402


def cleaning_lines(root: Path, n: int, repeat: int) -> list[C.Line]:
    db, plain = C.open_ours(root / "ours.db"), C.open_plain(root / "plain.db")
    C.progress("filling both files")
    C.fill_ours(db, n)
    C.fill_plain(plain, n)
    C.checkpoint(C.raw(db))
    C.checkpoint(plain)
    lines = []
    C.progress("UPDATE every row")
    t_ours, t_plain = W.statement_rounds(db, plain, f"UPDATE {C.TABLE} SET score = score + 1",
                                         [()] * (repeat + 1))
    lines.append(C.compared_line(f"UPDATE every row ({n:,})", t_ours, t_plain, 2.5, "ms"))
    tenth = max(1, n // 10)
    C.progress("UPDATE a contiguous 10 %")
    starts = random.Random(5).sample(range(1, max(2, n - tenth)), repeat + 1)
    t_ours, t_plain = W.statement_rounds(db, plain, W.UPDATE_RANGE, [(s, s + tenth - 1) for s in starts])
    lines.append(C.compared_line(f"UPDATE a contiguous 10 % ({tenth:,})", t_ours, t_plain, 2.5, "ms"))
    C.progress("DELETE 10 % scattered")
    ids = list(range(1, n + 1))
    random.Random(6).shuffle(ids)
    per = max(1, n // 10 // (repeat + 1))  # fresh ids each round, 10 % in all
    params = [(json.dumps(ids[k * per:(k + 1) * per]),) for k in range(repeat + 1)]
    t_ours, t_plain = W.statement_rounds(db, plain, W.DELETE_IDS, params)
    lines.append(C.compared_line(f"DELETE scattered ids ({per:,} per round)", t_ours, t_plain, 2.5, "ms"))
    db.close()
    plain.close()
    return lines


def bulk_from_zero_lines(root: Path, n: int, repeat: int) -> list[C.Line]:
    rows = [(i,) + C.make_row(i + 1)[1:] for i in range(max(1, n // 10))]
    fresh = W.Fresh(root)

    def plain_many() -> None:
        conn = fresh.plain
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(C.INSERT, rows)
        conn.execute("COMMIT")

    C.progress("executemany, ids from 0")
    t_ours, t_plain = C.compare(lambda: fresh.db.executemany(C.INSERT, rows), plain_many,
                                repeat, fresh.make_ours, fresh.make_plain)
    fresh.close()
    return [C.compared_line(f"INSERT {len(rows):,} rows, ids from 0, executemany (bulk path)",
                            t_ours, t_plain, 1.2)]


def point_lookup_lines(root: Path, n: int, lookups: int) -> tuple[list[C.Line], list[str]]:
    """The point lookup line, and SQLite's plan of the lookup as galaxlite renders it."""
    db = C.open_ours(root / "lookups.db")
    C.fill_ours(db, n)
    db.execute("CREATE VERSION TAG 'base'")
    changed = random.Random(7).sample(range(1, n + 1), max(1, n // 20))
    db.execute(f"UPDATE {C.TABLE} SET score = -score WHERE id IN (SELECT value FROM json_each(?))",
               (json.dumps(changed),))
    rng = random.Random(8)
    keys = [(rng.randint(1, n),) for _ in range(lookups)]
    past = f"SELECT * FROM {C.TABLE} AT VERSION 'base' WHERE id = ?"
    now = f"SELECT * FROM {C.TABLE} WHERE id = ?"
    # CPU time (read-only, warm: the first round is left out), rounds interleaved
    t_ours, t_plain = C.compare(lambda: [db.execute(past, p).fetchall() for p in keys],
                                lambda: [db.execute(now, p).fetchall() for p in keys], 12, cpu=True)
    plan = TT.query_plan(db, past, keys[0])
    db.close()
    return [C.compared_line("AT VERSION point lookup by key, 5 % changed (vs current lookup)",
                            t_ours[1:], t_plain[1:], 2.0, "µs", lookups)], plan


def main(argv: list[str] | None = None) -> int:
    ap = C.parser(__doc__.splitlines()[0])
    args = ap.parse_args(argv)
    n = C.rows_option(args)
    repeat = min(args.repeat, 9)
    print(C.environment())
    with C.workdir(args.dir) as d:
        (d / "bulk").mkdir()
        lines = cleaning_lines(d, n, repeat)
        lines += bulk_from_zero_lines(d / "bulk", n, repeat)
        more, plan = point_lookup_lines(d, n, 2000)
        lines += more
    C.print_table(
        f"P11 — cleaning and keyed reads of the past, {n:,} rows, vs plain SQLite",
        lines,
        ["Writes: galaxlite's set-based path vs raw apsw, each statement its own transaction.",
         "Point lookup: both sides through Database.execute on the same file; "
         "`EXPLAIN QUERY PLAN` of the AT VERSION lookup:", "", *plan],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
