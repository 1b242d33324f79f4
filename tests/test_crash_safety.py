"""Crash safety: a process SIGKILLed in the middle of an operation leaves a sound database.

A child process (a real ``python -c``) opens a copy of a prepared database and runs one
operation; the test SIGKILLs it after a delay drawn from strata of the operation's measured
duration D (stratum k of n: uniform in [k/n, (k+1)/n) of 1.25 D, so the last strata also
reach the commit and just past it). After every kill:

* ``PRAGMA integrity_check`` is ``ok`` and ``Database.check()`` finds nothing;
* the killed operation is wholly there or wholly absent: the whole state (current rows,
  every tag's rows, every snapshot's rows and catalog entry, every export's catalog row and
  the content hash recomputed from its files, the schema) equals the state before it or the
  state an uninterrupted run leaves;
* every earlier tag, snapshot and export reads exactly as before;
* the exports folder holds the folders the catalog names, plus at most what the killed
  export itself left (its hidden ``.galaxlite-export-*`` work folder, see ``_files``);
* the database is writable: the operation, run again when it was absent, gives the state of
  an uninterrupted run, and a further insert and tag work.

``make test`` kills each operation at 3 points on a small table; ``make test-long``
(``GALAXLITE_LONG=1``) at 50 points on a larger one.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import apsw
import figures
import pytest

import galaxlite

LONG = bool(os.environ.get("GALAXLITE_LONG"))
ROWS = 50_000 if LONG else 8_000
KILLS = 50 if LONG else 3
SPAN = 1.25  # kills are spread over this multiple of the uninterrupted duration

# Runs the statements of one operation on the database at argv[1]; prints "go" just before
# the first one and "done" after the last (the parent times the operation between the two).
CHILD = r"""
import json, sys
import galaxlite
db = galaxlite.Database(sys.argv[1], timeout=30.0)
statements = json.loads(sys.argv[2])
print("go", flush=True)
for sql in statements:
    db.execute(sql)
print("done", flush=True)
db.close()
"""


def rows_select(count: int, start: int) -> str:
    """``count`` rows of ``t`` from id ``start`` (four columns, one a 4-d vector), in SQL."""
    return (
        f"WITH RECURSIVE c(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM c "
        f"WHERE i < {start + count - 1}) SELECT i, 'l' || (i % 5), i * 0.5, "
        "vector('[' || (i % 7) || ', ' || (i % 3) || ', 1, ' || (i % 11) || ']') FROM c"
    )


@dataclass(frozen=True)
class Operation:
    name: str
    statements: tuple[str, ...]
    export_tag: str | None = None  # the tag a FOR TRAINING operation makes
    replaces: str | None = None  # a snapshot the operation removes (PURGE)


OPERATIONS = [
    Operation("bulk insert", (f"BULK INSERT INTO t (id, label, x, emb) {rows_select(ROWS, ROWS + 1)}",)),
    Operation("update and delete transaction", (
        "BEGIN",
        "UPDATE t SET x = x + 1, label = label || '+' WHERE id % 2 = 0",
        "DELETE FROM t WHERE id % 3 = 0",
        f"INSERT INTO t (id, label, x, emb) {rows_select(ROWS // 10, 2 * ROWS + 1)}",
        "COMMIT",
    )),
    Operation("create MSS snapshot", ("CREATE SNAPSHOT fresh AS SELECT * FROM t",)),
    Operation("create CSS snapshot", (
        "SET db4ai_snapshot_mode = CSS",
        "CREATE SNAPSHOT shared AS SELECT * FROM t",
    )),
    Operation("derive CSS snapshot", (
        "SET db4ai_snapshot_mode = CSS",
        "CREATE SNAPSHOT c FROM @1.1.1 USING (UPDATE SET x = -x WHERE id % 4 = 0; "
        "DELETE WHERE id % 7 = 0; INSERT VALUES (-1, 'new', 0.5, vector('[1, 2, 3, 4]')))",
    )),
    Operation("sample snapshot", (
        "SET db4ai_sample_seed = 7",
        "SAMPLE SNAPSHOT m@1.0.0 STRATIFY BY label AS _train AT RATIO .6, AS _test AT RATIO .3",
    )),
    Operation("purge snapshot", ("PURGE SNAPSHOT c@1.1.0",), replaces="c@1.1.0"),
    Operation("export float32", ("CREATE VERSION TAG 'train' FOR TRAINING",), export_tag="train"),
    Operation("export sq8", (
        "CREATE VERSION TAG 'train8' FOR TRAINING WITH TRAINING PRECISION 'sq8'",
    ), export_tag="train8"),
]


# ---------------------------------------------------------------------------- the database


def build(path: Path) -> None:
    """Table ``t`` with history, a tag, MSS and CSS snapshots (a lineage ``c`` of three),
    and a training export: the earlier things every kill must leave as they were."""
    with galaxlite.Database(path) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, label TEXT, x REAL, emb VECTOR(4))")
        db.execute(f"BULK INSERT INTO t (id, label, x, emb) {rows_select(ROWS, 1)}")
        db.execute("CREATE VERSION TAG 'base'")
        db.execute("CREATE SNAPSHOT m AS SELECT * FROM t")
        db.execute("SET db4ai_snapshot_mode = CSS")
        db.execute("CREATE SNAPSHOT c AS SELECT * FROM t")
        db.execute("CREATE SNAPSHOT c FROM @1.0.0 USING (DELETE WHERE id % 10 = 0)")  # 1.1.0
        db.execute("CREATE SNAPSHOT c FROM @1.1.0 USING (UPDATE SET x = x * 2 WHERE id % 3 = 0)")
        db.execute("RESET db4ai_snapshot_mode")
        db.execute("UPDATE t SET x = x - 1 WHERE id % 5 = 0")
        db.execute("CREATE VERSION TAG 'exp0' FOR TRAINING")
        db.execute("DELETE FROM t WHERE id % 11 = 0")
        db.execute("CREATE VERSION TAG 'later'")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def copy(src: Path, dest_dir: Path) -> Path:
    """The database file and its exports folder, copied into ``dest_dir`` (same names)."""
    dest_dir.mkdir()
    dest = dest_dir / src.name
    shutil.copyfile(src, dest)
    exports = Path(f"{src}.exports")
    if exports.exists():
        shutil.copytree(exports, Path(f"{dest}.exports"))
    return dest


def _digest(rows: list[tuple]) -> str:
    return hashlib.sha256("\n".join(sorted(map(repr, rows))).encode()).hexdigest()


@dataclass(frozen=True)
class State:
    """What the database holds, independent of the versions (clock readings) it got."""

    data: dict[str, str]  # "table" | "tag x" | "snapshot x" | "export x/t" -> digest of its rows
    catalog: dict[str, tuple]  # tags', snapshots' and exports' catalog entries, times left out
    schema: tuple[tuple, ...]  # sqlite_master


def state(db: galaxlite.Database) -> State:
    data = {"table": _digest(db.query("SELECT * FROM t"))}
    catalog: dict[str, tuple] = {}
    for tag in db.tags():
        data[f"tag {tag.name}"] = _digest(db.query("SELECT * FROM t AT VERSION ?", (tag.name,)))
        catalog[f"tag {tag.name}"] = (tag.for_training, tag.precision, tag.seed)
    for snap in db.snapshots():
        data[f"snapshot {snap.name}"] = _digest(db.query(f"SELECT * FROM {snap.name}"))
        catalog[f"snapshot {snap.name}"] = (
            snap.id, snap.parent, snap.root, snap.published, snap.archived, snap.row_count,
            snap.mode, snap.comment, snap.commands,
        )
    for e in db.exports():
        key = f"export {e.tag}/{e.table}"
        data[key] = galaxlite.content_hash(e.path)
        catalog[key] = (e.precision, e.seed, e.rows, e.content_hash)
    schema = tuple(db.query("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"))
    return State(data, catalog, schema)


def _files(db: galaxlite.Database, op: Operation) -> list[str]:
    """Check the exports folder against the catalog: every catalog row's dataset is there (its
    content hash is checked by ``state``), and nothing else, even after a SIGKILL of an
    export: opening the database (a writer) removed what the killed export left, its hidden
    work folder ``.galaxlite-export-*`` or a finished folder no catalog row names (see
    ``galaxlite.exports.leftovers``). Returns the names found beyond the catalog's (none)."""
    root = Path(db.exports_dir)
    named = {Path(e.path).relative_to(root).parts[0] for e in db.exports()}
    present = {p.name for p in root.iterdir()} if root.exists() else set()
    assert named <= present
    extra = sorted(present - named)
    assert not extra, f"{op.name} left {extra} in the exports folder"
    return extra


def run_child(path: Path, op: Operation, kill_after: float | None) -> tuple[float, bool]:
    """Run ``op`` in a child on ``path``; SIGKILL it ``kill_after`` seconds after it started
    the operation (None: let it finish). Returns (seconds from start to end or kill, killed)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), json.dumps(op.statements)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout.readline() == "go\n", proc.stderr.read()
        started = time.perf_counter()
        if kill_after is None:
            line = proc.stdout.readline()
            elapsed = time.perf_counter() - started
            assert line == "done\n", proc.stderr.read()
            assert proc.wait(timeout=120) == 0, proc.stderr.read()
            return elapsed, False
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=120)
        assert code in (0, -signal.SIGKILL), proc.stderr.read()
        return time.perf_counter() - started, code == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def integrity(path: Path) -> list[tuple]:
    conn = apsw.Connection(str(path))
    try:
        return list(conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


# ---------------------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, State]]:
    path = tmp_path_factory.mktemp("crash-base") / "t.db"
    build(path)
    with galaxlite.Database(path) as db:
        before = state(db)
    yield path, before


@pytest.mark.parametrize("op", OPERATIONS, ids=[op.name for op in OPERATIONS])
def test_sigkill_leaves_operation_whole_or_absent(
    op: Operation, base: tuple[Path, State], tmp_path: Path
) -> None:
    source, before = base
    reference = copy(source, tmp_path / "reference")
    duration, _ = run_child(reference, op, None)
    with galaxlite.Database(reference) as db:
        after = state(db)
        _files(db, op)
    assert after != before, "the operation changes nothing: the test would prove nothing"

    rng = random.Random(f"{op.name} {KILLS}")
    outcomes: list[str] = []
    leftovers: list[str] = []
    for k in range(KILLS):
        delay = (k + rng.random()) / KILLS * SPAN * duration
        path = copy(source, tmp_path / f"kill-{k}")
        _, killed = run_child(path, op, delay)
        figures.add("kills")
        assert integrity(path) == [("ok",)], f"kill {k} after {delay:.4f} s"
        with galaxlite.Database(path) as db:
            assert db.check() == [], f"kill {k} after {delay:.4f} s"
            got = state(db)
            assert got in (before, after), f"kill {k} after {delay:.4f} s: half an operation"
            for key, digest in before.data.items():  # earlier tags, snapshots, exports
                if key != "table" and (op.replaces is None or not key.endswith(op.replaces)):
                    assert got.data.get(key) == digest, key
            leftovers += _files(db, op)
            outcomes.append(("killed, " if killed else "finished, ")
                            + ("absent" if got == before else "whole"))
            if got == before:  # writable: the operation runs again and completes
                for sql in op.statements:
                    db.execute(sql)
                assert state(db) == after
                _files(db, op)
            db.execute(f"INSERT INTO t (id, label, x, emb) {rows_select(3, 10 * ROWS)}")
            db.create_tag("after the crash")
            assert db.query("SELECT count(*) FROM t AT VERSION 'after the crash' "
                            f"WHERE id >= {10 * ROWS}") == [(3,)]
            assert db.check() == []
        figures.add("kills survived")
        shutil.rmtree(path.parent)
    print(f"{op.name}: {duration:.3f} s uninterrupted; {len(outcomes)} kills: "
          + ", ".join(f"{outcomes.count(o)} {o}" for o in sorted(set(outcomes)))
          + (f"; left in the exports folder: {sum(n.startswith('.') for n in leftovers)} "
             f"hidden work folders, {sum(not n.startswith('.') for n in leftovers)} finished "
             "folders without a tag"
             if leftovers else ""))
