"""Shared helpers of the benchmark scripts (benchmarks/bench_*.py): not a test module.

* the table every script uses, ``t(id INTEGER PRIMARY KEY, name TEXT, score REAL,
  label INTEGER, body TEXT)``, and its rows — generated in Python (``make_rows``) or in
  SQL (``rows_select``), identical either way;
* opening both sides: ``open_ours`` (``galaxlite.Database``) and ``open_plain`` (raw apsw
  with the pragmas galaxlite sets on its connection: WAL, synchronous=NORMAL, foreign keys);
* timing: ``timed`` and ``compare`` (galaxlite and plain interleaved, the order
  alternating each round), summarised by ``median`` and ``paired_ratio``;
* ``Line`` + ``print_table``: the table every script prints,
  ``what | galaxlite | plain | ratio | goal | met?`` (Markdown, ready for the README).

Both sides always run in the same process, on the same machine, in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import apsw  # noqa: E402

import galaxlite  # noqa: E402

TABLE = "t"
CREATE_TABLE = (
    f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, name TEXT, score REAL, label INTEGER, body TEXT)"
)
COLUMNS = "id, name, score, label, body"
INSERT = f"INSERT INTO {TABLE} ({COLUMNS}) VALUES (?, ?, ?, ?, ?)"
PLAIN_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
)
_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


# ---------------------------------------------------------------------------- data


def make_row(i: int) -> tuple[int, str, float, int, str]:
    """Row ``i``: the same values ``rows_select`` computes in SQL (body is 41 characters)."""
    k = i % 20
    return (
        i,
        f"name-{i}",
        (i * 7919 % 100003) / 100.0,
        i % 1000,
        f"body-{i:010d}-{_ALPHABET[k:k + 25]}",
    )


def make_rows(count: int, start: int = 1) -> list[tuple[int, str, float, int, str]]:
    """Rows ``start .. start + count - 1`` as Python tuples."""
    return [make_row(i) for i in range(start, start + count)]


def rows_select(count: int, start: int = 1) -> str:
    """A SELECT (recursive CTE, plain SQLite) yielding the rows ``make_rows`` would make."""
    end = start + count - 1
    return (
        f"WITH RECURSIVE c(i) AS (SELECT {int(start)} UNION ALL SELECT i + 1 FROM c "
        f"WHERE i < {int(end)}) "
        "SELECT i, 'name-' || i, (i * 7919 % 100003) / 100.0, i % 1000, "
        f"'body-' || printf('%010d', i) || '-' || substr('{_ALPHABET}', i % 20 + 1, 25) FROM c"
    )


# ---------------------------------------------------------------------------- databases


def open_plain(path: str | Path) -> apsw.Connection:
    """A raw apsw connection with the pragmas galaxlite uses on its own connection."""
    conn = apsw.Connection(str(path))
    for pragma in PLAIN_PRAGMAS:
        # one at a time, each run to completion: apsw stops a multi-statement execute() at
        # the first statement that returns a row (journal_mode does), skipping the rest
        conn.execute(pragma).fetchall()
    return conn


def open_ours(path: str | Path) -> galaxlite.Database:
    """A galaxlite database (WAL, synchronous=NORMAL are its defaults)."""
    return galaxlite.Database(str(path))


def fill_plain(conn: apsw.Connection, count: int, start: int = 1) -> None:
    """Create ``t`` if needed and append rows ``start ..`` in one transaction."""
    conn.execute(CREATE_TABLE.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
    with conn:
        conn.execute(f"INSERT INTO {TABLE} ({COLUMNS}) {rows_select(count, start)}")


def fill_ours(db: galaxlite.Database, count: int, start: int = 1) -> None:
    """Create versioned ``t`` if needed and BULK INSERT rows ``start ..`` as one version."""
    if TABLE not in db.versioned_tables():
        db.execute(CREATE_TABLE)
    db.execute(f"BULK INSERT INTO {TABLE} ({COLUMNS}) {rows_select(count, start)}")


def checkpoint(conn: apsw.Connection) -> None:
    """Fold the WAL into the database file, so that no side pays for the other's writes."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def raw(db: galaxlite.Database) -> apsw.Connection:
    """galaxlite's own apsw connection (for checkpoints and diagnostics only)."""
    return db.session.conn


def file_mib(path: str | Path) -> float:
    """Size of a database file plus its WAL, in MiB."""
    total = 0
    for suffix in ("", "-wal"):
        p = Path(str(path) + suffix)
        if p.exists():
            total += p.stat().st_size
    return total / 2**20


@contextlib.contextmanager
def workdir(parent: str | None = None) -> Iterator[Path]:
    """A temporary directory for one script's databases, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="galaxlite-bench-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------- timing


def timed(fn: Callable[[], object], cpu: bool = False) -> float:
    """Seconds one call of ``fn`` takes, with Python's garbage collector paused (as timeit does).

    Without the pause, a scan that builds a million tuples pays for cyclic-GC passes whose
    cost depends on what else happens to be alive, and the two sides are not comparable.
    ``cpu=True`` counts this process's CPU time instead of wall time: for warm, read-only
    work it is what the work costs, and other processes on the machine hardly disturb it.
    Writes are timed by the wall clock (their I/O waits are part of their cost).
    """
    clock = time.process_time if cpu else time.perf_counter
    gc.collect()
    gc.disable()
    try:
        t0 = clock()
        fn()
        return clock() - t0
    finally:
        gc.enable()


def compare(
    ours: Callable[[], object],
    plain: Callable[[], object],
    repeat: int,
    setup_ours: Callable[[], object] | None = None,
    setup_plain: Callable[[], object] | None = None,
    cpu: bool = False,
) -> tuple[list[float], list[float]]:
    """Timings of both sides, interleaved: round k runs galaxlite first when k is even.

    ``setup_*`` run untimed before each timed call; ``cpu`` as in ``timed``.
    """
    t_ours: list[float] = []
    t_plain: list[float] = []
    sides = [(ours, setup_ours, t_ours), (plain, setup_plain, t_plain)]
    for k in range(repeat):
        for fn, setup, out in sides if k % 2 == 0 else sides[::-1]:
            if setup is not None:
                setup()
            out.append(timed(fn, cpu))
    return t_ours, t_plain


def median(times: Sequence[float]) -> float:
    return statistics.median(times)


def paired_ratio(t_ours: Sequence[float], t_plain: Sequence[float]) -> float:
    """Median over rounds of ours/plain, each round's two runs having been back to back.

    Robust to load that comes and goes on a shared machine: a slow round slows both sides.
    """
    return statistics.median(o / p for o, p in zip(t_ours, t_plain, strict=True))


# ---------------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True)
class Line:
    """One row of a result table. Times are seconds; ``per`` divides them (per-op values).

    ``goal`` is a ratio (ours / plain ≤ goal) unless ``absolute`` is set, in which case it
    is a time in seconds that ``ours`` must stay under. ``goal=None`` marks a line that is
    there for information only.
    """

    what: str
    ours: float
    plain: float | None = None
    goal: float | None = None
    absolute: bool = False
    unit: str = "s"  # s, ms or µs: how to print the times
    per: int = 1
    paired: float | None = None  # median of per-round ratios, when measured that way

    @property
    def ratio(self) -> float | None:
        if self.paired is not None:
            return self.paired
        if self.plain is None or self.plain <= 0:
            return None
        return self.ours / self.plain

    @property
    def met(self) -> bool | None:
        if self.goal is None:
            return None
        if self.absolute:
            return self.ours / self.per < self.goal
        return self.ratio is not None and self.ratio <= self.goal

    def cells(self) -> list[str]:
        ratio = self.ratio
        if self.goal is None:
            goal = "—"
        elif self.absolute:
            goal = f"< {fmt_time(self.goal, self.unit)}"
        else:
            goal = f"≤ {self.goal:.2f}×"
        met = {None: "info", True: "yes", False: "**NO**"}[self.met]
        return [
            self.what,
            fmt_time(self.ours / self.per, self.unit),
            "—" if self.plain is None else fmt_time(self.plain / self.per, self.unit),
            "—" if ratio is None else f"{ratio:.2f}×",
            goal,
            met,
        ]


def compared_line(
    what: str,
    t_ours: Sequence[float],
    t_plain: Sequence[float],
    goal: float | None,
    unit: str = "s",
    per: int = 1,
) -> Line:
    """A Line from interleaved timings: medians of each side, ratio = ``paired_ratio``."""
    return Line(what, median(t_ours), median(t_plain), goal, unit=unit, per=per,
                paired=paired_ratio(t_ours, t_plain))


def fmt_time(seconds: float, unit: str) -> str:
    scale = {"s": 1.0, "ms": 1e3, "µs": 1e6}[unit]
    value = seconds * scale
    digits = 3 if value < 10 else 2 if value < 100 else 1 if value < 1000 else 0
    return f"{value:,.{digits}f} {unit}"


def print_table(title: str, lines: Sequence[Line], notes: Sequence[str] = ()) -> None:
    """Print ``lines`` as a Markdown table under ``title``, then the notes."""
    header = ["what", "galaxlite", "plain", "ratio", "goal", "met?"]
    rows = [header] + [line.cells() for line in lines]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        return "| " + " | ".join(cells) + " |"

    print(f"\n### {title}\n")
    print(fmt(header))
    print("|" + "|".join(("-" * (w + 1)) + (":" if i else "-") for i, w in enumerate(widths)) + "|")
    for r in rows[1:]:
        print(fmt(r))
    if notes:
        print()
    for note in notes:
        print(note)
    sys.stdout.flush()


def revision() -> str:
    """The galaxlite commit measured (read-only git), marked when the engine has local edits."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True,
                                  text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD") or "unknown commit"
    edited = git("status", "--porcelain", "--", "galaxlite", "schema", "transpile")
    return f"galaxlite {head}{' + uncommitted engine changes' if edited else ''}"


def environment() -> str:
    """One line naming the software and machine, printed at the top of every script."""
    return (
        f"{revision()}; SQLite {apsw.sqlite_lib_version()} (apsw {apsw.apswversion()}), "
        f"Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}"
    )


def progress(message: str) -> None:
    """A progress line on stderr (the table itself goes to stdout)."""
    print(f"  .. {message}", file=sys.stderr, flush=True)


def parser(description: str, default_rows: int = 1_000_000) -> argparse.ArgumentParser:
    """The options every script takes: --rows, --quick, --repeat, --dir."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--rows", type=int, default=None, help=f"table size (default {default_rows:,})")
    ap.add_argument(
        "--quick", action="store_true", help="small sizes (a tenth of the default) for a smoke run"
    )
    ap.add_argument("--repeat", type=int, default=5, help="rounds per measurement (median)")
    ap.add_argument("--dir", default=None, help="where temporary databases go (default: $TMPDIR)")
    ap.set_defaults(default_rows=default_rows)
    return ap


def rows_option(args: argparse.Namespace) -> int:
    """The table size: --rows, else a tenth of the default with --quick, else the default."""
    if args.rows is not None:
        return args.rows
    return args.default_rows // 10 if args.quick else args.default_rows
