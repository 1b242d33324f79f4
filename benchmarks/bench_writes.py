"""P3: writes to a versioned galaxlite table vs the same statements on plain SQLite.

Usage:
    python benchmarks/bench_writes.py [--rows 1000000] [--quick] [--repeat 5]
                                      [--insert-repeat 3] [--row-by-row 1000000]

Plain side: raw apsw, same pragmas as galaxlite (WAL, synchronous=NORMAL). Each insert
round starts from two fresh files; both sides run back to back, the order alternating.

* BULK INSERT: ``BULK INSERT INTO t (...) SELECT ... FROM src`` (``src``: a plain table in
  the same file holding ``--rows`` rows) vs ``INSERT INTO t (...) SELECT ... FROM src``.
  The column list keeps SQLite's transfer optimisation (raw page copy) out of the plain
  side, which galaxlite's triggers would disable on ours anyway.
* INSERT, executemany: ``--rows`` parameter sets in one transaction
  (``Database.executemany`` — the bulk path) vs ``Connection.executemany`` in
  BEGIN IMMEDIATE ... COMMIT.
* INSERT, row by row: ``--row-by-row`` ``execute()`` calls in one explicit transaction
  (``db.begin()`` ... ``db.commit()``): the set-based append path (triggers off, the rows
  appended so far versioned together before the next other statement), so what is left
  over plain is the Python of each ``execute`` call. (info) The same against plain apsw
  running every INSERT on one cursor (``Connection.execute`` makes a cursor per call;
  galaxlite's hot path reuses one).
* UPDATE / DELETE of 1 % of the rows, chosen at random, as one statement
  (``WHERE id IN (SELECT value FROM json_each(?))``), a fresh sample each round, on a
  ``--rows``-row table; (info) the same UPDATE on a contiguous id range.

Goals (P3, benchmarks/RESULTS.md): BULK INSERT ≤ 1.2×, INSERT ≤ 1.5×, 1 % UPDATE ≤ 2.0×, DELETE ≤ 2.0×.
Not a test: it only prints.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common as C  # noqa: E402

UPDATE_IDS = (
    f"UPDATE {C.TABLE} SET score = score + 1, label = label + 1 "
    "WHERE id IN (SELECT value FROM json_each(?))"
)
UPDATE_RANGE = f"UPDATE {C.TABLE} SET score = score + 1, label = label + 1 WHERE id BETWEEN ? AND ?"
DELETE_IDS = f"DELETE FROM {C.TABLE} WHERE id IN (SELECT value FROM json_each(?))"
SRC = "src"
FROM_SRC = f"({C.COLUMNS}) SELECT {C.COLUMNS} FROM {SRC}"


class Fresh:
    """A new pair of empty files (galaxlite, plain) for each insert round."""

    def __init__(self, root: Path, with_src: int = 0):
        self.root, self.with_src, self.k = root, with_src, 0
        self.db = self.plain = None

    def make_ours(self) -> None:
        self.close()
        self.k += 1
        self.db = C.open_ours(self.root / f"ours{self.k}.db")
        self.db.execute(C.CREATE_TABLE)
        if self.with_src:
            self.db.execute(f"CREATE TABLE {SRC} (id INTEGER PRIMARY KEY, name TEXT, score REAL, "
                            "label INTEGER, body TEXT) WITHOUT VERSIONING")
            self.db.execute(f"INSERT INTO {SRC} ({C.COLUMNS}) {C.rows_select(self.with_src)}")
        C.checkpoint(C.raw(self.db))

    def make_plain(self) -> None:
        self.close()
        self.k += 1
        self.plain = C.open_plain(self.root / f"plain{self.k}.db")
        self.plain.execute(C.CREATE_TABLE)
        if self.with_src:
            self.plain.execute(C.CREATE_TABLE.replace(f"TABLE {C.TABLE} ", f"TABLE {SRC} "))
            with self.plain:
                self.plain.execute(f"INSERT INTO {SRC} ({C.COLUMNS}) {C.rows_select(self.with_src)}")
        C.checkpoint(self.plain)

    def close(self) -> None:
        """Close and delete the files of the previous round."""
        for conn in (self.db, self.plain):
            if conn is not None:
                conn.close()
        self.db = self.plain = None
        for p in self.root.glob("*.db*"):
            p.unlink()


def insert_lines(root: Path, n: int, row_by_row: int, repeat: int) -> list[C.Line]:
    """BULK INSERT, executemany and row-by-row INSERT, each round on fresh files."""
    lines = []
    fresh = Fresh(root, with_src=n)
    C.progress("BULK INSERT ... SELECT")
    t_ours, t_plain = C.compare(
        lambda: fresh.db.execute(f"BULK INSERT INTO {C.TABLE} {FROM_SRC}"),
        lambda: plain_in_txn(fresh.plain, f"INSERT INTO {C.TABLE} {FROM_SRC}"),
        repeat, fresh.make_ours, fresh.make_plain,
    )
    lines.append(C.compared_line(f"BULK INSERT {n:,} rows (INSERT ... SELECT from a table)",
                                 t_ours, t_plain, 1.2))
    fresh.close()

    rows = C.make_rows(n)
    fresh = Fresh(root)
    C.progress("INSERT executemany")

    def plain_many() -> None:
        conn = fresh.plain
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(C.INSERT, rows)
        conn.execute("COMMIT")

    t_ours, t_plain = C.compare(
        lambda: fresh.db.executemany(C.INSERT, rows), plain_many,
        repeat, fresh.make_ours, fresh.make_plain,
    )
    lines.append(C.compared_line(f"INSERT {n:,} rows, executemany, one transaction (bulk path)",
                                 t_ours, t_plain, 1.5))

    few = rows[:row_by_row]
    C.progress("INSERT row by row")

    def ours_rows() -> None:
        db = fresh.db
        db.begin()
        for r in few:
            db.execute(C.INSERT, r)
        db.commit()

    def plain_rows() -> None:
        conn = fresh.plain
        conn.execute("BEGIN")
        for r in few:
            conn.execute(C.INSERT, r)
        conn.execute("COMMIT")

    t_ours, t_plain = C.compare(ours_rows, plain_rows, repeat, fresh.make_ours, fresh.make_plain)
    lines.append(C.compared_line(
        f"INSERT {len(few):,} rows, execute() each, one explicit transaction",
        t_ours, t_plain, 1.5, "µs", len(few)))

    def plain_rows_one_cursor() -> None:  # Connection.execute makes a cursor per call
        cur = fresh.plain.cursor()
        cur.execute("BEGIN")
        for r in few:
            cur.execute(C.INSERT, r)
        cur.execute("COMMIT")

    t_ours, t_plain = C.compare(ours_rows, plain_rows_one_cursor, repeat, fresh.make_ours, fresh.make_plain)
    lines.append(C.compared_line(
        f"(info) the same, plain on one reused apsw cursor ({len(few):,} rows)",
        t_ours, t_plain, None, "µs", len(few)))
    fresh.close()
    return lines


def plain_in_txn(conn, sql: str, params=None) -> None:
    """One statement in BEGIN IMMEDIATE ... COMMIT (what galaxlite wraps a write in)."""
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(sql, params)
    conn.execute("COMMIT")


def statement_rounds(db, plain, sql: str, params: list[tuple]) -> tuple[list[float], list[float]]:
    """One round per parameter set: ``sql`` on both sides, back to back, order alternating.

    Round 0 is a warm-up and is dropped; both sides of a round use the same parameters.
    """
    t_ours: list[float] = []
    t_plain: list[float] = []
    for k, p in enumerate(params):
        ours = (t_ours, lambda p=p: db.execute(sql, p))
        theirs = (t_plain, lambda p=p: plain_in_txn(plain, sql, p))
        for out, fn in (ours, theirs) if k % 2 == 0 else (theirs, ours):
            out.append(C.timed(fn))
    return t_ours[1:], t_plain[1:]


def change_lines(root: Path, n: int, repeat: int) -> list[C.Line]:
    """1 % UPDATE and DELETE rounds on one --rows-row table per side."""
    db, plain = C.open_ours(root / "ours.db"), C.open_plain(root / "plain.db")
    C.progress("filling both files for UPDATE/DELETE")
    C.fill_ours(db, n)
    C.fill_plain(plain, n)
    C.checkpoint(C.raw(db))
    C.checkpoint(plain)
    one = max(1, n // 100)
    order = list(range(1, n + 1))
    random.Random(3).shuffle(order)
    samples = iter([json.dumps(order[k * one:(k + 1) * one]) for k in range(n // one)])
    lines = []
    for what, sql, goal in (
        (f"UPDATE 1 % of rows ({one:,}, random ids)", UPDATE_IDS, 2.0),
        (f"DELETE 1 % of rows ({one:,}, random ids)", DELETE_IDS, 2.0),
    ):
        C.progress(what)
        params = [(next(samples),) for _ in range(repeat + 1)]
        t_ours, t_plain = statement_rounds(db, plain, sql, params)
        lines.append(C.compared_line(what, t_ours, t_plain, goal, "ms"))
    C.progress("UPDATE of a contiguous range")
    starts = random.Random(4).sample(range(1, n - one), repeat + 1)
    t_ours, t_plain = statement_rounds(db, plain, UPDATE_RANGE, [(s, s + one - 1) for s in starts])
    lines.append(C.compared_line(f"(info) UPDATE 1 % of rows ({one:,}, one id range)",
                                 t_ours, t_plain, None, "ms"))
    db.close()
    plain.close()
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = C.parser(__doc__.splitlines()[0])
    ap.add_argument("--insert-repeat", type=int, default=3, help="rounds of each insert case")
    ap.add_argument("--row-by-row", type=int, default=None,
                    help="rows of the row-by-row INSERT case (default: --rows)")
    args = ap.parse_args(argv)
    n = C.rows_option(args)
    row_by_row = min(n, args.row_by_row or n)
    print(C.environment())
    print(f"P3 writes: {n:,} rows; inserts: median of {args.insert_repeat} rounds on fresh files; "
          f"UPDATE/DELETE: median of {args.repeat} rounds")
    with C.workdir(args.dir) as d:
        (d / "insert").mkdir()
        lines = insert_lines(d / "insert", n, row_by_row, args.insert_repeat)
        lines += change_lines(d, n, args.repeat)
    C.print_table(
        f"P3 — writes, {n:,} rows, vs plain SQLite (apsw, WAL, synchronous=NORMAL)",
        lines,
        [
            "Each insert round starts from empty files; each UPDATE/DELETE round uses a fresh "
            "random 1 % sample (the same ids on both sides) and is its own transaction.",
            "Times are medians over rounds (row-by-row INSERT: per row); ratio = median of "
            "per-round ratios (both sides back to back, order alternating).",
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
