"""P2: reading a tagged version (AT VERSION) vs reading a plain copy of that version.

Usage:
    python benchmarks/bench_time_travel.py [--rows 1000000] [--quick] [--repeat 5] [--depth 0,1,10]

For each history depth d of ``--depth`` (default 0, 1 and 10), a galaxlite file gets ``--rows``
rows, then d whole-table UPDATEs that keep every value (each closes one version of every
row: d × rows history rows, the "history depth"), and the tag ``base``; a plain SQLite
file holds the same rows (a plain copy of ``base``). Then the galaxlite table changes, in
steps, until 1 %, 5 % and 10 % of the tagged rows have changed since ``base`` (of the
changed rows, 80 % are updated, 10 % deleted, and as many new rows as 10 % of them
inserted; each step is one galaxlite transaction). At 0 % and after each step:

* ``SELECT * FROM t AT VERSION 'base'`` + ``fetchall()`` vs ``SELECT * FROM t`` on the copy;
* the same read aggregated inside SQLite (every column touched), which leaves out the
  cost both sides pay for building Python tuples — the engine's own ratio.

The aggregates of both sides are compared: a mismatch aborts the run (a wrong answer fast
is not a result). Interleaved rounds, CPU time of this process, medians; goal (P2,
benchmarks/RESULTS.md) ≤ 1.5×. The notes show SQLite's ``EXPLAIN QUERY PLAN`` of the
aggregate as galaxlite renders it (at 5 % changed, per depth). Not a test.
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


def query_plan(db, sql: str, params=None) -> list[str]:
    """SQLite's ``EXPLAIN QUERY PLAN`` of ``sql`` as galaxlite renders it, as indented lines."""
    depth: dict[int, int] = {}
    lines = []
    for node, parent, _, detail in db.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall():
        depth[node] = depth.get(parent, -1) + 1
        lines.append("    " + "  " * depth[node] + detail)
    return lines


def step_lines(db, plain, label: str, repeat: int) -> list[C.Line]:
    """P2 lines at one depth and one fraction of the tagged rows changed since the tag."""
    check_same(db, plain)
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


def depth_lines(d: Path, plain, n: int, depth: int, repeat: int) -> tuple[list[C.Line], list[str]]:
    """The lines of one history depth, and the notes (history size, the aggregate's plan)."""
    order = list(range(1, n + 1))
    random.Random(2).shuffle(order)
    path = d / f"ours-{depth}.db"
    db = C.open_ours(path)
    C.progress(f"history depth {depth}: filling")
    C.fill_ours(db, n)
    for k in range(depth):
        C.progress(f"history depth {depth}: whole-table UPDATE {k + 1}")
        db.execute(f"UPDATE {C.TABLE} SET label = label")  # every row: one more closed version
    db.create_tag("base")
    lines: list[C.Line] = []
    notes: list[str] = []
    done, next_id = 0, n + 1
    for fraction in STEPS:
        target = int(n * fraction)
        if target > done:
            C.progress(f"history depth {depth}: changing rows up to {fraction:.0%}")
            next_id = change(db, order[done:target], next_id)
            done = target
        C.checkpoint(C.raw(db))
        lines += step_lines(db, plain, f"{depth}× history, {fraction:.0%} changed", repeat)
        if fraction == 0.05:
            notes += [f"{depth}× history, 5 % changed, `EXPLAIN QUERY PLAN` of the aggregate:", ""]
            notes += query_plan(db, AGGREGATE.format(src=AS_OF)) + [""]
    (hist,) = C.raw(db).execute("SELECT count(*) FROM _gl_h1").fetchone()
    notes.insert(0, f"{depth}× history: {hist:,} history rows at the end, file {C.file_mib(path):.0f} MiB.")
    db.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return lines, notes


def depths_option(text: str) -> list[int]:
    """``--depth 0,1,10`` → [0, 1, 10]."""
    return [int(part) for part in text.split(",") if part.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = C.parser(__doc__.splitlines()[0])
    ap.add_argument("--depth", type=depths_option, default=[0, 1, 10],
                    help="history depths: whole-table UPDATEs before the tag (default 0,1,10)")
    args = ap.parse_args(argv)
    n = C.rows_option(args)
    print(C.environment())
    print(f"P2 time travel: {n:,} rows, median of {args.repeat} interleaved rounds")
    lines: list[C.Line] = []
    notes: list[str] = []
    with C.workdir(args.dir) as d:
        plain = C.open_plain(d / "copy.db")
        C.progress("filling the plain copy")
        C.fill_plain(plain, n)
        C.checkpoint(plain)
        for depth in args.depth:
            more, about = depth_lines(d, plain, n, depth, args.repeat)
            lines += more
            notes += about
        size = C.file_mib(d / "copy.db")
        plain.close()
    C.print_table(
        f"P2 — AT VERSION 'base' vs a plain copy of that version, {n:,} rows (goal ≤ {GOAL}×)",
        lines,
        [
            "History depth d: d whole-table UPDATEs before the tag (d × rows history rows). Changed "
            "rows since the tag: 80 % updated, 10 % deleted, + as many new rows as 10 %. "
            f"Plain copy {size:.0f} MiB.",
            "Times: CPU time of this process (warm, read-only work), medians over rounds; ratio = "
            "median of per-round ratios (both sides back to back, order alternating). The AT "
            "VERSION aggregate matched the copy's every time.",
            *notes,
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
