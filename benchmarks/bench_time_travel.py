"""P2: reading a tagged version (AT VERSION) vs reading a plain copy of that version.

Usage:
    python benchmarks/bench_time_travel.py [--rows 1000000] [--quick] [--repeat 5]

A galaxlite file gets ``--rows`` rows and the tag ``base``; a plain SQLite file holds the
same rows (a plain copy of ``base``). Then the galaxlite table changes, in steps, until
1 %, 5 % and 10 % of the tagged rows have changed since ``base`` (of the changed rows,
80 % are updated, 10 % deleted, and as many new rows as 10 % of them inserted; each step is
one galaxlite transaction). At 0 % and after each step:

* ``SELECT * FROM t AT VERSION 'base'`` + ``fetchall()`` vs ``SELECT * FROM t`` on the copy;
* the same read aggregated inside SQLite (every column touched), which leaves out the
  cost both sides pay for building Python tuples — the engine's own ratio.

The aggregates of both sides are compared: a mismatch aborts the run (a wrong answer fast
is not a result). Interleaved rounds, CPU time of this process, medians; goal (P2,
benchmarks/RESULTS.md) ≤ 1.5×. Not a test.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402

GOAL = 1.5
STEPS = (0.0, 0.01, 0.05, 0.10)
AGGREGATE = (
    "SELECT count(*), sum(id), sum(score), sum(label), max(name), sum(length(body)) FROM {src}"
)
AS_OF = f"{C.TABLE} AT VERSION 'base'"
UPDATE = (
    f"UPDATE {C.TABLE} SET score = score + 1, label = label + 1 "
    "WHERE id IN (SELECT value FROM json_each(?))"
)
DELETE = f"DELETE FROM {C.TABLE} WHERE id IN (SELECT value FROM json_each(?))"


def change(db, ids: list[int], next_id: int) -> int:
    """Change the rows ``ids`` in one transaction (80 % update, 10 % delete, 10 % new rows).

    Returns the next unused id.
    """
    cut = len(ids) * 8 // 10
    updated, deleted = ids[:cut], ids[cut:]
    inserted = len(ids) - cut
    with db.transaction():
        db.execute(UPDATE, (json.dumps(updated),))
        db.execute(DELETE, (json.dumps(deleted),))
        db.executemany(C.INSERT, C.make_rows(inserted, next_id))
    return next_id + inserted


def check_same(db, plain) -> None:
    """The tagged version read through galaxlite must equal the plain copy."""
    ours = db.execute(AGGREGATE.format(src=AS_OF)).fetchall()
    theirs = plain.execute(AGGREGATE.format(src=C.TABLE)).fetchall()
    if ours != theirs:
        raise SystemExit(f"AT VERSION 'base' differs from the plain copy: {ours} != {theirs}")


def step_lines(db, plain, fraction: float, repeat: int) -> list[C.Line]:
    """P2 lines with ``fraction`` of the tagged rows changed since the tag."""
    check_same(db, plain)
    label = f"{fraction:.0%} changed"
    cases = [
        ("AT VERSION full read, SELECT * fetchall()",
         lambda: db.execute(f"SELECT * FROM {AS_OF}").fetchall(),
         lambda: plain.execute(f"SELECT * FROM {C.TABLE}").fetchall()),
        ("AT VERSION full read, aggregate in SQLite",
         lambda: db.execute(AGGREGATE.format(src=AS_OF)).fetchall(),
         lambda: plain.execute(AGGREGATE.format(src=C.TABLE)).fetchall()),
    ]
    lines = []
    for what, ours, theirs in cases:
        C.compare(ours, theirs, 1, cpu=True)  # warm-up
        t_ours, t_plain = C.compare(ours, theirs, repeat, cpu=True)
        lines.append(C.compared_line(f"{label}: {what}", t_ours, t_plain, GOAL, "ms"))
    return lines


def main(argv: list[str] | None = None) -> int:
    args = C.parser(__doc__.splitlines()[0]).parse_args(argv)
    n = C.rows_option(args)
    order = list(range(1, n + 1))
    random.Random(2).shuffle(order)
    print(C.environment())
    print(f"P2 time travel: {n:,} rows, median of {args.repeat} interleaved rounds")
    lines: list[C.Line] = []
    with C.workdir(args.dir) as d:
        db, plain = C.open_ours(d / "ours.db"), C.open_plain(d / "copy.db")
        C.progress("filling both files")
        C.fill_ours(db, n)
        C.fill_plain(plain, n)
        db.create_tag("base")
        C.checkpoint(plain)
        done, next_id = 0, n + 1
        for fraction in STEPS:
            target = int(n * fraction)
            if target > done:
                C.progress(f"changing rows up to {fraction:.0%}")
                next_id = change(db, order[done:target], next_id)
                done = target
            C.checkpoint(C.raw(db))
            lines += step_lines(db, plain, fraction, args.repeat)
        (hist,) = C.raw(db).execute("SELECT count(*) FROM _gl_h1").fetchone()
        size = C.file_mib(d / "ours.db"), C.file_mib(d / "copy.db")
        db.close()
        plain.close()
    C.print_table(
        f"P2 — AT VERSION 'base' vs a plain copy of that version, {n:,} rows (goal ≤ {GOAL}×)",
        lines,
        [
            "Changed rows since the tag: 80 % updated, 10 % deleted, + as many new rows as 10 %. "
            f"History rows at the end: {hist:,}; files (MiB) galaxlite {size[0]:.0f}, "
            f"plain copy {size[1]:.0f}.",
            "Times: CPU time of this process (warm, read-only work), medians over rounds; ratio = median of per-round ratios (both sides back "
            "to back, order alternating). The AT VERSION aggregate matched the copy's every time.",
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
