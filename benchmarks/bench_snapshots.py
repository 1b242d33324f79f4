"""P5: storage of dataset snapshot versions, CSS (computed) against MSS (materialized).

Usage:
    python benchmarks/bench_snapshots.py [--rows 100000] [--versions 10] [--quick]

A versioned table ``t`` of ``--rows`` rows is snapshotted (``CREATE SNAPSHOT s AS SELECT *
FROM t``: one version), then ``--versions`` more versions are derived one from the other,
each updating 1 % of the rows (``CREATE SNAPSHOT s FROM @prev USING (UPDATE SET score =
score + 1 WHERE id % 100 = k)``). This runs once in each storage model, each in its own
file. Sizes are the bytes of the pages that hold the snapshots' rows (SQLite's dbstat:
the matrix ``_gl_m*`` in CSS, the tables ``_gl_s*`` in MSS), and for scale the same rows
copied once into a plain SQLite table (``CREATE TABLE AS SELECT``) of a plain file.
The whole file is reported too (it also holds ``t`` and the catalog).

Goal (P5, benchmarks/RESULTS.md): CSS, all versions ≤ 1.2× one version (MSS: about versions + 1 ×).
Time per derived version is shown next to plain SQLite doing the MSS work by hand (copy
the previous table, update 1 %), and a full scan of the last version next to a scan of the
plain copy. Not a test: it only prints. The real measurement is
``--rows 1000000``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402

GOAL = 1.2


def storage_bytes(conn, pattern: str) -> int:
    """Bytes of the pages of the tables whose name matches ``pattern`` (LIKE)."""
    (n,) = conn.execute(
        "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE ? ESCAPE '\\'", (pattern,)
    ).fetchone()
    return n


def file_bytes(path: Path, conn) -> int:
    C.checkpoint(conn)
    return path.stat().st_size


def update(k: int) -> str:
    return f"UPDATE SET score = score + 1 WHERE id % 100 = {k}"


def run_mode(mode: str, d: Path, rows: int, versions: int, repeat: int) -> dict:
    """Build the lineage in ``mode``; sizes (bytes) and seconds per derived version."""
    path = d / f"{mode}.db"
    db = C.open_ours(path)
    conn = C.raw(db)
    C.fill_ours(db, rows)
    pattern = "\\_gl\\_m%" if mode == "CSS" else "\\_gl\\_s%"
    out = {"file_before": file_bytes(path, conn)}
    db.execute(f"SET db4ai_snapshot_mode = {mode}")
    C.progress(f"{mode}: root snapshot of {rows:,} rows")
    out["root_s"] = C.timed(lambda: db.execute("CREATE SNAPSHOT s AS SELECT * FROM t"))
    out["one"] = storage_bytes(conn, pattern)
    out["file_one"] = file_bytes(path, conn)
    times = []
    for k in range(1, versions + 1):
        parent = db.snapshots()[-1].version
        sql = f"CREATE SNAPSHOT s FROM @{parent} USING ({update(k)})"
        times.append(C.timed(lambda sql=sql: db.execute(sql)))
    C.progress(f"{mode}: {versions} versions, median {C.median(times):.2f} s each")
    out["all"] = storage_bytes(conn, pattern)
    out["file_all"] = file_bytes(path, conn)
    out["version_s"] = times
    last = db.snapshots()[-1]
    scan = f'SELECT sum(score), count(*) FROM "{last.name}"'
    out["scan_s"] = [C.timed(lambda: db.query(scan), cpu=True) for _ in range(repeat)]
    (changed,) = db.query(f'SELECT count(*) FROM "{last.name}" AS v JOIN t USING (id) '
                          "WHERE v.score <> t.score")[0]
    expected = sum(1 for i in range(1, rows + 1) if 1 <= i % 100 <= versions)
    if last.row_count != rows or changed != expected:
        raise SystemExit(f"{mode}: wrong contents ({last.row_count} rows, {changed} changed)")
    db.close()
    return out


def run_plain(d: Path, rows: int, versions: int, repeat: int) -> tuple[int, list[float], list[float]]:
    """One plain copy of the rows (bytes), seconds per copy-and-update version, seconds per
    scan of the last version."""
    conn = C.open_plain(d / "plain.db")
    C.fill_plain(conn, rows)
    conn.execute("CREATE TABLE v0 AS SELECT * FROM t")
    one = storage_bytes(conn, "v0")
    times = []
    for k in range(1, versions + 1):
        def work(k: int = k) -> None:
            with conn:
                conn.execute(f"CREATE TABLE v{k} AS SELECT * FROM v{k - 1}")
                conn.execute(f"UPDATE v{k} SET score = score + 1 WHERE id % 100 = {k}")
        times.append(C.timed(work))
    scan = f"SELECT sum(score), count(*) FROM v{versions}"
    scans = [C.timed(lambda: conn.execute(scan).fetchall(), cpu=True) for _ in range(repeat)]
    conn.close()
    return one, times, scans


def mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    ap = C.parser(__doc__.splitlines()[0], default_rows=100_000)
    ap.add_argument("--versions", type=int, default=10, help="derived versions (default 10)")
    args = ap.parse_args(argv)
    rows, versions = C.rows_option(args), args.versions
    print(C.environment())
    print(f"P5 snapshot storage: {rows:,} rows, 1 + {versions} versions, each changing 1 % of the rows")
    with C.workdir(args.dir) as d:
        plain_one, plain_times, plain_scans = run_plain(d, rows, versions, args.repeat)
        result = {mode: run_mode(mode, d, rows, versions, args.repeat) for mode in ("CSS", "MSS")}
    css, mss = result["CSS"], result["MSS"]
    lines = [
        ("plain SQLite: one copy of the rows", mib(plain_one), "—", "—", "—"),
        ("CSS: 1 version (matrix)", mib(css["one"]), f"{css['one'] / plain_one:.2f}× plain", "—",
         "info"),
        (f"CSS: 1 + {versions} versions (matrix)", mib(css["all"]),
         f"{css['all'] / css['one']:.2f}×", f"≤ {GOAL:.2f}×",
         "yes" if css["all"] / css["one"] <= GOAL else "**NO**"),
        ("MSS: 1 version (table)", mib(mss["one"]), f"{mss['one'] / plain_one:.2f}× plain", "—",
         "info"),
        (f"MSS: 1 + {versions} versions (tables)", mib(mss["all"]),
         f"{mss['all'] / mss['one']:.2f}×", "—", "info"),
        (f"whole file, CSS: t, then 1, then 1 + {versions} versions",
         f"{mib(css['file_before'])} → {mib(css['file_one'])} → {mib(css['file_all'])}",
         f"{css['file_all'] / css['file_one']:.2f}×", "—", "info"),
        (f"whole file, MSS: t, then 1, then 1 + {versions} versions",
         f"{mib(mss['file_before'])} → {mib(mss['file_one'])} → {mib(mss['file_all'])}",
         f"{mss['file_all'] / mss['file_one']:.2f}×", "—", "info"),
    ]
    print_sizes(lines)
    C.print_table(
        "P5: time per snapshot (plain: CREATE TABLE AS + UPDATE 1 %) and to scan the last one",
        [
            C.Line(f"CSS root snapshot of {rows:,} rows", css["root_s"]),
            C.Line(f"MSS root snapshot of {rows:,} rows", mss["root_s"]),
            C.Line("CSS derived version (median)", C.median(css["version_s"]),
                   C.median(plain_times)),
            C.Line("MSS derived version (median)", C.median(mss["version_s"]),
                   C.median(plain_times)),
            C.Line("CSS: scan the last version (sum, count; CPU)", C.median(css["scan_s"]),
                   C.median(plain_scans), unit="ms"),
            C.Line("MSS: scan the last version (sum, count; CPU)", C.median(mss["scan_s"]),
                   C.median(plain_scans), unit="ms"),
        ],
    )
    return 0


def print_sizes(lines: list[tuple[str, ...]]) -> None:
    """The size table, in the Markdown layout of common.print_table."""
    header = ("what", "size", "ratio", "goal", "met?")
    rows = [header, *lines]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    print("\n### P5: snapshot storage (bytes of pages, SQLite dbstat)\n")
    for k, r in enumerate(rows):
        print("| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                for i, (c, w) in enumerate(zip(r, widths, strict=True))) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|")


if __name__ == "__main__":
    sys.exit(main())
