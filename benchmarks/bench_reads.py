"""P1: current-state reads on a versioned galaxlite table vs the same rows in plain SQLite.

Usage:
    python benchmarks/bench_reads.py [--rows 1000000] [--quick] [--repeat 5] [--history 10]

Two files hold the same rows ``t(id INTEGER PRIMARY KEY, name, score, label, body)``: one
written through ``galaxlite.Database`` (versioned: companion, history, triggers), one plain
SQLite file written through apsw. Measured at 0× history, then again after every row was
updated ``--history`` times (each pass one galaxlite UPDATE of the whole table, one
transaction, so each pass closes one version of every row into history; the plain file
gets the same UPDATEs, so both user tables have the same rows and page layout):

* full scan, rows to Python: ``SELECT * FROM t`` + ``fetchall()``;
* full scan inside SQLite: one aggregate touching every column;
* point lookups by primary key: ``SELECT * FROM t WHERE id = ?`` + ``fetchone()`` for
  random ids, galaxlite through ``Database.execute``, plain through ``Connection.execute``;
* (info) the same point lookups through raw apsw on galaxlite's file: the storage share of
  the difference, without galaxlite's Python front end; and through one Python function
  returning a ``Result`` around that raw call (what a Python wrapper costs; a plain query's
  result is now its own apsw cursor, a ``CursorResult``, which costs less); and
  ``Database.execute`` against raw apsw on the same file, back to back: what galaxlite's own
  code adds (the plain-read probe, the binding check, the ``CursorResult``).

Both sides are warm (a discarded first round) and interleaved; times are CPU times of this
process (see ``common.timed``), medians of ``--repeat`` rounds (3× as many for point
lookups); ratios are medians of per-round ratios.
Goal (P1, benchmarks/RESULTS.md): ≤ 1.05× plain. Not a test: it only prints.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402

from galaxlite.engine.result import Result  # noqa: E402

GOAL = 1.05
SCAN = f"SELECT * FROM {C.TABLE}"
AGGREGATE = (
    f"SELECT count(*), sum(id), sum(score), sum(label), max(name), sum(length(body)) FROM {C.TABLE}"
)
POINT = f"SELECT * FROM {C.TABLE} WHERE id = ?"
HISTORY_UPDATE = f"UPDATE {C.TABLE} SET score = score + 1, label = label + 1"


def point_lookups(execute, ids: list[int]) -> None:
    """One ``execute(POINT, (id,)).fetchone()`` per id."""
    for i in ids:
        execute(POINT, (i,)).fetchone()


def read_lines(db, plain, ids: list[int], repeat: int, label: str) -> list[C.Line]:
    """The P1 lines for the current state of both files."""
    storage = C.raw(db)
    cases = [
        ("full scan, SELECT * fetchall()",
         lambda: db.execute(SCAN).fetchall(), lambda: plain.execute(SCAN).fetchall(), "ms", 1),
        ("full scan, aggregate in SQLite",
         lambda: db.execute(AGGREGATE).fetchall(), lambda: plain.execute(AGGREGATE).fetchall(),
         "ms", 1),
        (f"point lookup by PK ({len(ids):,} random ids)",
         lambda: point_lookups(db.execute, ids), lambda: point_lookups(plain.execute, ids),
         "µs", len(ids)),
    ]
    lines = []
    for what, ours, theirs, unit, per in cases:
        rounds = repeat if per == 1 else 3 * repeat  # short rounds: take more of them
        C.compare(ours, theirs, 1, cpu=True)  # warm-up round, discarded
        t_ours, t_plain = C.compare(ours, theirs, rounds, cpu=True)
        lines.append(C.compared_line(f"{label}: {what}", t_ours, t_plain, GOAL, unit, per))
    t_raw, t_plain = C.compare(
        lambda: point_lookups(storage.execute, ids),
        lambda: point_lookups(plain.execute, ids),
        3 * repeat,
        cpu=True,
    )
    lines.append(C.compared_line(f"{label}: (info) point lookup, raw apsw on galaxlite's file",
                                 t_raw, t_plain, None, "µs", len(ids)))
    t_ours, t_raw = C.compare(
        lambda: point_lookups(db.execute, ids), lambda: point_lookups(storage.execute, ids),
        3 * repeat, cpu=True,
    )
    lines.append(C.compared_line(
        f"{label}: (info) point lookup, Database.execute vs raw apsw on the same file (plain column)",
        t_ours, t_raw, None, "µs", len(ids)))

    def wrapped(sql: str, params: tuple) -> Result:  # one Python call + a Result, no more
        return Result(storage.execute(sql, params), None, (storage, sql, params))

    t_wrapped, t_plain = C.compare(
        lambda: point_lookups(wrapped, ids), lambda: point_lookups(plain.execute, ids),
        3 * repeat, cpu=True,
    )
    lines.append(C.compared_line(
        f"{label}: (info) point lookup, one Python call returning a Result, galaxlite's file",
        t_wrapped, t_plain, None, "µs", len(ids)))
    return lines


def add_history(db, plain, passes: int) -> tuple[float, float]:
    """Update every row ``passes`` times on both sides; total seconds (galaxlite, plain)."""
    t_ours = t_plain = 0.0
    for k in range(passes):
        C.progress(f"history pass {k + 1}/{passes}")
        t_ours += C.timed(lambda: db.execute(HISTORY_UPDATE))

        def plain_update() -> None:
            with plain:
                plain.execute(HISTORY_UPDATE)

        t_plain += C.timed(plain_update)
    return t_ours, t_plain


def main(argv: list[str] | None = None) -> int:
    ap = C.parser(__doc__.splitlines()[0])
    ap.add_argument("--history", type=int, default=10, help="update passes for the history case")
    ap.add_argument("--lookups", type=int, default=20_000, help="point lookups per round")
    args = ap.parse_args(argv)
    n = C.rows_option(args)
    rng = random.Random(1)
    ids = [rng.randint(1, n) for _ in range(args.lookups)]
    print(C.environment())
    print(f"P1 current-state reads: {n:,} rows, median of {args.repeat} interleaved rounds")
    with C.workdir(args.dir) as d:
        db, plain = C.open_ours(d / "ours.db"), C.open_plain(d / "plain.db")
        C.progress("filling both files")
        C.fill_ours(db, n)
        C.fill_plain(plain, n)
        C.checkpoint(C.raw(db))
        C.checkpoint(plain)
        lines = read_lines(db, plain, ids, args.repeat, "0× history")
        size0 = (C.file_mib(d / "ours.db"), C.file_mib(d / "plain.db"))
        t_ours, t_plain = add_history(db, plain, args.history)
        C.checkpoint(C.raw(db))
        C.checkpoint(plain)
        (hist,) = C.raw(db).execute("SELECT count(*) FROM _gl_h1").fetchone()
        lines += read_lines(db, plain, ids, args.repeat, f"{args.history}× history")
        lines.append(C.Line(f"(info) building history: {args.history} whole-table UPDATEs",
                            t_ours, t_plain, None, unit="s"))
        size1 = (C.file_mib(d / "ours.db"), C.file_mib(d / "plain.db"))
        db.close()
        plain.close()
    C.print_table(
        f"P1 — current-state reads, {n:,} rows (goal ≤ {GOAL}× plain SQLite)",
        lines,
        [
            f"History rows after {args.history} passes: {hist:,}. File sizes (MiB, galaxlite / "
            f"plain): 0× {size0[0]:.0f} / {size0[1]:.0f}; {args.history}× "
            f"{size1[0]:.0f} / {size1[1]:.0f}.",
            "Point lookups: per-lookup time; galaxlite through Database.execute(...).fetchone(), "
            "plain through apsw Connection.execute(...).fetchone().",
            "Times: CPU time of this process (warm, read-only work), medians over rounds; ratio = median of per-round ratios (both sides run "
            "back to back in each round, the order alternating).",
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
