"""History as data: CHANGES BETWEEN against plain SQLite's EXCEPT of two copies; BULK INSERT
FROM a CSV / Parquet file against plain ``executemany`` of the same parsed rows.

Usage:
    python benchmarks/bench_history.py [--rows 1000000] [--quick] [--repeat 5] [--dir DIR]

* **diff**: a versioned table of ``--rows`` rows, tag ``a``, an UPDATE of 1 % of the rows
  at random ids, tag ``b``; the table bulk-loaded (BULK INSERT ... SELECT: one range row, so
  the companion holds only the updated rows) and written row by row (small inserts: every row
  has a companion row, which the diff scans; the notes give that scan's share); galaxlite reads
  ``SELECT * FROM t CHANGES BETWEEN VERSION 'a' AND VERSION 'b'`` (every row fetched). Plain:
  two plain copies of the table (as at ``a`` and at ``b``) in one plain file, and the rows
  of ``b EXCEPT a`` plus ``a EXCEPT b`` — what one does without history. Goal: proportional
  to the rows changed (info: the ratio; the EXPLAIN QUERY PLAN is printed).
* **load**: the same rows written to a CSV file and a Parquet file; galaxlite runs
  ``BULK INSERT INTO t FROM 'file'`` into an empty versioned table; plain parses the file
  with the same pyarrow reader (CSV: typed by pyarrow's inference), turns each batch into
  tuples and inserts them with one ``executemany`` in one transaction. Goal ≤ 1.2×; rows/s.

Not a test: it only prints.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pcsv  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

LOAD_GOAL = 1.2
DIFF_SQL = "SELECT * FROM t CHANGES BETWEEN VERSION 'a' AND VERSION 'b'"


def fill_row_by_row(db, rows: int) -> None:
    """``t`` written by small inserts (60 rows per ``executemany``, under the bulk path's
    64): every row has a companion row, as after a stream of small writes."""
    db.execute(C.CREATE_TABLE)
    with db.transaction():
        for start in range(1, rows + 1, 60):
            db.executemany(C.INSERT, C.make_rows(min(60, rows + 1 - start), start))


def diff_lines(folder: Path, rows: int, repeat: int) -> tuple[list[C.Line], list[str]]:
    ids = random.Random(7).sample(range(1, rows + 1), rows // 100)
    plain = C.open_plain(folder / "plain.db")
    plain.execute(C.CREATE_TABLE.replace("TABLE t", "TABLE a"))
    plain.execute(C.CREATE_TABLE.replace("TABLE t", "TABLE b"))
    with plain:
        plain.execute(f"INSERT INTO a ({C.COLUMNS}) {C.rows_select(rows)}")
        plain.execute("INSERT INTO b SELECT * FROM a")
        plain.executemany("UPDATE b SET score = score + 1, name = name || '!' WHERE id = ?", [(i,) for i in ids])
    C.checkpoint(plain)
    expected = 2 * len(ids)
    plain_sql = "SELECT * FROM b EXCEPT SELECT * FROM a UNION ALL SELECT * FROM (SELECT * FROM a EXCEPT SELECT * FROM b)"
    assert len(plain.execute(plain_sql).fetchall()) == expected
    out, notes = [], []
    for how, fill in (("bulk-loaded", C.fill_ours), ("written row by row", fill_row_by_row)):
        db = C.open_ours(folder / f"diff-{how.split()[0]}.db")
        fill(db, rows)
        db.create_tag("a")
        db.executemany("UPDATE t SET score = score + 1, name = name || '!' WHERE id = ?", [(i,) for i in ids])
        db.create_tag("b")
        C.checkpoint(C.raw(db))
        assert len(db.query(DIFF_SQL)) == expected
        t_ours, t_plain = C.compare(lambda db=db: db.query(DIFF_SQL), lambda: plain.execute(plain_sql).fetchall(), repeat)
        what = f"diff, {rows:,} rows {how}, 1 % updated ({expected:,} change rows)"
        out.append(C.compared_line(what, t_ours, t_plain, None, unit="ms"))
        notes += scan_share(db, how, t_ours)
        db.close()
    plain.close()
    return out, notes


def scan_share(db, how: str, t_diff: list[float]) -> list[str]:
    """How much of the diff the companion's scan (its rows that started between the two
    versions, no valid_from index) costs, and the query plan."""
    conn = C.raw(db)
    (companion,) = conn.execute("SELECT companion FROM galaxlite_tables WHERE name = 't'").fetchone()
    a, b = db.tag_version("a"), db.tag_version("b")
    scan = f"SELECT count(*) FROM {companion} WHERE valid_from > {a} AND valid_from <= {b}"
    t_scan = [C.timed(lambda: conn.execute(scan).fetchall()) for _ in range(len(t_diff))]
    (size,) = conn.execute(f"SELECT count(*) FROM {companion}").fetchone()
    notes = [f"diff of the table {how}: its companion has {size:,} rows; scanning it takes "
             f"{C.median(t_scan) * 1000:.1f} ms of the diff's {C.median(t_diff) * 1000:.1f} ms "
             f"({C.median(t_scan) / C.median(t_diff):.0%})"]
    if how == "bulk-loaded":
        notes.append("EXPLAIN QUERY PLAN of the CHANGES BETWEEN query (scans and searches):")
        plan = [r[3] for r in db.query("EXPLAIN QUERY PLAN " + DIFF_SQL)]
        notes += [f"    {p}" for p in plan if p.startswith(("SCAN", "SEARCH"))]
    return notes


def write_files(folder: Path, rows: int) -> tuple[Path, Path]:
    data = [C.make_row(i) for i in range(1, rows + 1)]
    table = pa.table({name.strip(): [r[k] for r in data] for k, name in enumerate(C.COLUMNS.split(","))})
    csv_path, parquet_path = folder / "rows.csv", folder / "rows.parquet"
    pcsv.write_csv(table, csv_path)
    pq.write_table(table, parquet_path)
    return csv_path, parquet_path


def plain_load(conn, batches) -> None:
    with conn:
        conn.executemany(C.INSERT, (row for b in batches for row in zip(*(c.to_pylist() for c in b.columns), strict=True)))


def fresh(conn) -> None:
    """An empty table ``t`` and a checkpointed file, before each timed load."""
    conn.execute("DROP TABLE IF EXISTS t")
    conn.execute(C.CREATE_TABLE)
    C.checkpoint(conn)


def load_lines(folder: Path, rows: int, repeat: int) -> tuple[list[C.Line], list[str]]:
    csv_path, parquet_path = write_files(folder, rows)
    out, notes = [], []
    for label, path, read in (
        ("CSV", csv_path, lambda p: pcsv.open_csv(p)),
        ("Parquet", parquet_path, lambda p: pq.ParquetFile(p).iter_batches(batch_size=65536)),
    ):
        ours_path = folder / f"load-{label}.db"
        db = C.open_ours(ours_path)
        db.execute(C.CREATE_TABLE)
        plain = C.open_plain(folder / f"load-{label}-plain.db")
        plain.execute(C.CREATE_TABLE)

        def ours(db=db, path=path) -> None:
            db.execute(f"BULK INSERT INTO t FROM '{path}'")

        def reset(db=db) -> None:  # a fresh versioned table each round
            db.execute("DROP TABLE t")
            db.execute(C.CREATE_TABLE)
            C.checkpoint(C.raw(db))

        def theirs(plain=plain, path=path, read=read) -> None:
            plain_load(plain, read(path))

        t_ours, t_plain = C.compare(ours, theirs, repeat, setup_ours=reset,
                                    setup_plain=lambda plain=plain: fresh(plain))
        assert db.query("SELECT count(*) FROM t") == [(rows,)]
        line = C.compared_line(f"BULK INSERT FROM {label}, {rows:,} rows", t_ours, t_plain, LOAD_GOAL)
        out.append(line)
        notes.append(f"{label}: galaxlite {rows / C.median(t_ours):,.0f} rows/s, plain "
                     f"executemany {rows / C.median(t_plain):,.0f} rows/s")
        db.close()
        plain.close()
    return out, notes


def main() -> None:
    args = C.parser(__doc__.splitlines()[0]).parse_args()
    rows = C.rows_option(args)
    print(C.environment())
    with C.workdir(args.dir) as folder:
        C.progress("diff")
        lines, notes = diff_lines(folder, rows, args.repeat)
        C.progress("load")
        more, load_notes = load_lines(folder, rows, args.repeat)
    lines += more
    notes = load_notes + notes
    C.print_table("History as data: CHANGES BETWEEN, BULK INSERT FROM a file", lines, notes)


if __name__ == "__main__":
    main()
