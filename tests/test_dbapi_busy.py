"""Busy handling: a writer waits for another process's write lock, up to its ``timeout``.

As with the standard library's ``sqlite3``, in every mode of ``galaxlite.connect`` and with
``galaxlite.Database``:

* another process (the ``plain`` fixture's sqlite3 client, in ``BEGIN IMMEDIATE``) holds the
  write lock until the test releases it. A writer with ``timeout=5``, in a thread, reading
  before it writes, is still waiting 0.5 s later (it did not fail at once), and once the lock
  is released it succeeds, after the holder's write; with ``timeout=0.2`` it fails with
  ``OperationalError: database is locked``, and the database is unchanged;
* a transaction the user opened that reads before its first write cannot wait (SQLite
  refuses that lock upgrade at once, SQLITE_BUSY or SQLITE_BUSY_SNAPSHOT): the error says so;
* several galaxlite processes write one file, every transaction reading before it writes:
  no "database is locked", and every write a process acknowledged is there.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import galaxlite

SQLITE_BUSY = 5
SQLITE_BUSY_SNAPSHOT = 5 | (2 << 8)
HOLD = 0.5  # how long a writer must keep waiting while the lock is held (no timed assertion)
UPGRADE = "read the database before its first write"


@pytest.fixture
def table(db: galaxlite.Database) -> galaxlite.Database:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT NOT NULL, seen INTEGER)")
    db.execute("INSERT INTO t (who) VALUES ('setup')")
    db.create_tag("start")
    return db


@pytest.fixture
def holder(table: galaxlite.Database, plain):
    """Another process holding the write lock (with a write of its own) until ``COMMIT``."""
    client = plain()
    client.execute("BEGIN IMMEDIATE")
    client.execute("INSERT INTO t (who) VALUES ('holder')")
    return client


def waits_for(holder, write: Callable[[], object]) -> None:
    """Run ``write`` in a thread while ``holder`` holds the lock: HOLD seconds later it must
    still be waiting; after the release it must succeed."""
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            write()
        except BaseException as exc:  # noqa: BLE001 - reported below
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(HOLD)
    waiting = thread.is_alive()
    holder.execute("COMMIT")
    thread.join(60)
    assert "error" not in outcome, f"the writer failed: {outcome.get('error')!r}"
    assert waiting, "the writer finished while another process held the write lock"


def whos(db: galaxlite.Database) -> list[str]:
    return [w for (w,) in db.query("SELECT who FROM t ORDER BY id")]


def read_then_insert(cur: galaxlite.Cursor) -> None:
    """Reads on the cursor (the last one's only row fetched, its statement left open), then
    the write, then more reads and a write in the same transaction."""
    cur.execute("SELECT who FROM t ORDER BY id").fetchall()
    (seen,) = cur.execute("SELECT count(*) FROM t").fetchone()
    cur.execute("INSERT INTO t (who, seen) VALUES ('writer', ?)", (seen,))
    (last,) = cur.execute("SELECT max(id) FROM t").fetchone()
    cur.execute("UPDATE t SET seen = seen + 0 WHERE id = ?", (last,))


CONNECT_MODES = {
    "default": {},
    "DEFERRED": {"isolation_level": "DEFERRED"},
    "IMMEDIATE": {"isolation_level": "IMMEDIATE"},
    "EXCLUSIVE": {"isolation_level": "EXCLUSIVE"},
    "isolation_level=None": {"isolation_level": None},
    "autocommit=True": {"autocommit": True},
}


@pytest.mark.parametrize("mode", CONNECT_MODES)
def test_a_dbapi_writer_waits_for_the_lock(table, holder, db_path: Path, mode: str) -> None:
    con = galaxlite.connect(db_path, timeout=5, check_same_thread=False, **CONNECT_MODES[mode])

    def write() -> None:
        read_then_insert(con.cursor())
        con.commit()

    waits_for(holder, write)
    assert not con.in_transaction
    con.close()
    assert whos(table) == ["setup", "holder", "writer"]


def explicit_begin_then_write(con: galaxlite.Connection) -> None:
    con.execute("BEGIN")  # deferred, opened by the user: its first statement writes
    con.execute("INSERT INTO t (who) VALUES ('writer')")
    con.execute("SELECT count(*) FROM t").fetchall()
    con.commit()


def begin_then_write_from_the_past(con: galaxlite.Connection) -> None:
    con.execute("BEGIN")  # its first statement writes, but reads a tag before it can
    con.execute("INSERT INTO t (who) SELECT 'writer' FROM t AT VERSION 'start'")
    con.commit()


def begin_immediate_then_read(con: galaxlite.Connection) -> None:
    con.execute("BEGIN IMMEDIATE")  # waits for the lock itself; then reads are harmless
    read_then_insert(con.cursor())
    con.commit()


def many_and_bulk(con: galaxlite.Connection) -> None:
    con.execute("SELECT count(*) FROM t").fetchone()
    con.executemany("INSERT INTO t (who) VALUES (?)", [("writer",)])
    con.execute("BULK INSERT INTO t (who) VALUES ('bulk')")
    con.commit()


def a_tag(con: galaxlite.Connection) -> None:
    con.execute("SELECT count(*) FROM t").fetchone()
    con.execute("CREATE VERSION TAG 'during'")  # no implicit transaction: its own
    con.execute("INSERT INTO t (who) VALUES ('writer')")
    con.commit()


def a_script(con: galaxlite.Connection) -> None:
    con.executescript("SELECT count(*) FROM t; INSERT INTO t (who) VALUES ('writer');")


@pytest.mark.parametrize(
    "write, written",
    [
        (explicit_begin_then_write, ["writer"]),
        (begin_then_write_from_the_past, ["writer"]),
        (begin_immediate_then_read, ["writer"]),
        (many_and_bulk, ["writer", "bulk"]),
        (a_tag, ["writer"]),
        (a_script, ["writer"]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_other_dbapi_writes_wait_for_the_lock(table, holder, db_path, write, written) -> None:
    con = galaxlite.connect(db_path, timeout=5, check_same_thread=False)
    waits_for(holder, lambda: write(con))
    con.close()
    assert whos(table) == ["setup", "holder", *written]


def test_a_closed_cursor_leaves_no_snapshot_behind(table, holder, db_path: Path) -> None:
    con = galaxlite.connect(db_path, timeout=5, check_same_thread=False, autocommit=True)
    cur = con.execute("SELECT who FROM t UNION ALL SELECT 'more'")
    cur.execute("SELECT who FROM t UNION ALL SELECT 'more'").fetchone()  # rows left: open ...
    cur.close()  # ... until the cursor is closed
    waits_for(holder, lambda: con.execute("INSERT INTO t (who) VALUES ('writer')"))
    con.close()
    assert whos(table) == ["setup", "holder", "writer"]


def db_begin(db: galaxlite.Database) -> None:
    db.begin()  # deferred: its first statement writes
    db.execute("INSERT INTO t (who) VALUES ('writer')")
    db.query("SELECT count(*) FROM t")
    db.commit()


def db_transaction(db: galaxlite.Database) -> None:
    with db.transaction():  # IMMEDIATE: the reads before the write are harmless
        db.query("SELECT count(*) FROM t")
        db.execute("INSERT INTO t (who) VALUES ('writer')")


def db_autocommit(db: galaxlite.Database) -> None:
    db.query("SELECT count(*) FROM t")
    db.execute("INSERT INTO t (who) VALUES ('writer')")


def db_script(db: galaxlite.Database) -> None:
    db.executescript("SELECT count(*) FROM t; INSERT INTO t (who) VALUES ('writer');")


@pytest.mark.parametrize("write", [db_begin, db_transaction, db_autocommit, db_script],
                         ids=lambda f: f.__name__)
def test_a_database_writer_waits_for_the_lock(table, holder, open_db, write) -> None:
    other = open_db(timeout=5)
    waits_for(holder, lambda: write(other))
    assert whos(table) == ["setup", "holder", "writer"]


# ------------------------------------------------------------------ timeouts


@pytest.mark.parametrize("mode", ["default", "IMMEDIATE", "autocommit=True"])
def test_a_short_timeout_gives_database_is_locked(table, holder, db_path, mode) -> None:
    con = galaxlite.connect(db_path, timeout=0.2, check_same_thread=False, **CONNECT_MODES[mode])
    cur = con.cursor()
    with pytest.raises(galaxlite.OperationalError, match="^database is locked$") as info:
        read_then_insert(cur)
    assert info.value.sqlite_errorcode == SQLITE_BUSY
    con.rollback()
    holder.execute("COMMIT")
    read_then_insert(cur)  # the lock is free now
    con.commit()
    con.close()
    assert whos(table) == ["setup", "holder", "writer"]


def test_a_database_with_a_short_timeout_gives_database_is_locked(table, holder, open_db) -> None:
    other = open_db(timeout=0.2)
    for write in (db_autocommit, db_begin, db_transaction):
        with pytest.raises(galaxlite.OperationalError, match="^database is locked$"):
            write(other)
        other.rollback()
    holder.execute("COMMIT")
    assert whos(table) == ["setup", "holder"]


# ------------------------------------------------------------------ upgrades SQLite cannot wait for


def test_reading_first_in_an_autocommit_false_transaction_says_why_it_cannot_wait(
    table, holder, db_path
) -> None:
    con = galaxlite.connect(db_path, timeout=5, check_same_thread=False, autocommit=False)
    con.execute("SELECT count(*) FROM t").fetchall()  # the transaction's snapshot
    with pytest.raises(galaxlite.OperationalError, match=UPGRADE) as info:
        con.execute("INSERT INTO t (who) VALUES ('writer')")
    assert str(info.value).startswith("database is locked: ")
    assert "BEGIN IMMEDIATE" in str(info.value)
    assert info.value.sqlite_errorcode == SQLITE_BUSY
    con.rollback()  # a new transaction, as the message says
    holder.execute("COMMIT")
    con.execute("SELECT count(*) FROM t").fetchall()
    con.execute("INSERT INTO t (who) VALUES ('writer')")
    con.commit()
    con.close()
    assert whos(table) == ["setup", "holder", "writer"]


def test_a_commit_since_the_transactions_read_is_a_busy_snapshot(table, plain, db_path) -> None:
    con = galaxlite.connect(db_path, timeout=5, check_same_thread=False)
    con.execute("BEGIN")  # the user's own deferred transaction
    assert con.execute("SELECT count(*) FROM t").fetchone() == (1,)
    plain().execute("INSERT INTO t (who) VALUES ('other')")  # commits after that read
    with pytest.raises(galaxlite.OperationalError, match=UPGRADE) as info:
        con.execute("INSERT INTO t (who) VALUES ('writer')")
    assert info.value.sqlite_errorcode == SQLITE_BUSY_SNAPSHOT
    con.rollback()
    con.execute("INSERT INTO t (who) VALUES ('writer')")
    con.commit()
    con.close()
    assert whos(table) == ["setup", "other", "writer"]


def test_database_begin_then_read_then_write_says_why_it_cannot_wait(table, plain, open_db) -> None:
    other = open_db(timeout=5)
    other.begin()
    other.query("SELECT count(*) FROM t")
    plain().execute("INSERT INTO t (who) VALUES ('other')")
    with pytest.raises(galaxlite.OperationalError, match=UPGRADE):
        other.execute("INSERT INTO t (who) VALUES ('writer')")
    other.rollback()
    assert whos(table) == ["setup", "other"]


def test_an_open_query_on_another_cursor_says_why_the_write_cannot_wait(
    table, holder, db_path
) -> None:
    con = galaxlite.connect(db_path, timeout=5, check_same_thread=False, autocommit=True)
    reading = con.execute("SELECT who FROM t UNION ALL SELECT 'more'")
    reading.fetchone()  # rows left: its snapshot stays
    with pytest.raises(galaxlite.OperationalError, match="still open") as info:
        con.execute("INSERT INTO t (who) VALUES ('writer')")
    assert str(info.value).startswith("database is locked: ")
    reading.fetchall()  # done: the snapshot is gone
    waits_for(holder, lambda: con.execute("INSERT INTO t (who) VALUES ('writer')"))
    con.close()
    assert whos(table) == ["setup", "holder", "writer"]


# ------------------------------------------------------------------ many writing processes

WORKER = r"""
import sys
import galaxlite

path, worker, mode, rounds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])


def one_round(run, query, i):
    # reads before the writes of every transaction, and between them
    (total,) = query("SELECT count(*) FROM log")[0]
    (last,) = query("SELECT coalesce(max(seq), -1) FROM log WHERE worker = ?", (worker,))[0]
    assert last == i - 1, (last, i)
    run("INSERT INTO log (worker, seq, seen) VALUES (?, ?, ?)", (worker, i, total))
    (n,) = query("SELECT n FROM counters WHERE worker = ?", (worker,))[0]
    run("UPDATE counters SET n = ? WHERE worker = ?", (n + 1, worker))


def ready():  # all workers start together: each has its connection open, then waits for "go"
    print("ready", flush=True)
    assert sys.stdin.readline() == "go\n"


if mode == "database":
    db = galaxlite.Database(path, timeout=30)
    ready()
    for i in range(rounds):
        with db.transaction():
            one_round(db.execute, db.query, i)
        if i % 10 == 9:
            db.create_tag(f"w{worker}-{i}")
        print(i, flush=True)
else:
    con = galaxlite.connect(path, timeout=30, check_same_thread=False, **({"isolation_level": "IMMEDIATE"} if mode == "immediate" else {}))
    cur = con.cursor()
    query = lambda sql, params=(): [cur.execute(sql, params).fetchone()]
    ready()
    for i in range(rounds):
        one_round(cur.execute, query, i)
        con.commit()
        if i % 10 == 9:
            cur.execute("CREATE VERSION TAG ?", (f"w{worker}-{i}",))
        print(i, flush=True)
    con.close()
"""


def test_processes_writing_one_file_never_see_database_is_locked(db: galaxlite.Database, db_path) -> None:
    modes = ["default", "default", "immediate", "database"]
    rounds = 40
    db.execute("CREATE TABLE log (worker INTEGER, seq INTEGER, seen INTEGER, PRIMARY KEY (worker, seq))")
    db.execute("CREATE TABLE counters (worker INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
    db.executemany("INSERT INTO counters VALUES (?, 0)", [(w,) for w in range(len(modes))])
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(db_path), str(w), mode, str(rounds)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for w, mode in enumerate(modes)
    ]
    for p in procs:
        assert p.stdout.readline() == "ready\n", p.communicate(timeout=60)[1]
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outputs = [p.communicate(timeout=300) for p in procs]
    for w, (p, (out, err)) in enumerate(zip(procs, outputs, strict=True)):
        assert "locked" not in err, f"worker {w} ({modes[w]}): {err}"
        assert p.returncode == 0, f"worker {w} ({modes[w]}): {err}"
        acknowledged = [int(line) for line in out.split()]
        assert acknowledged == list(range(rounds))
        assert db.query("SELECT seq FROM log WHERE worker = ? ORDER BY seq", (w,)) == [
            (i,) for i in acknowledged
        ]
    assert db.query("SELECT n FROM counters ORDER BY worker") == [(rounds,)] * len(modes)
    assert len(db.tags()) == len(modes) * (rounds // 10)


def test_a_transaction_that_only_read_commits_while_another_writes(db_path) -> None:
    """COMMIT of a read-only transaction asks for no write lock (it used to, to unpin a
    clock it never pinned, and failed at once with "database is locked")."""
    writer = galaxlite.Database(str(db_path))
    reader = galaxlite.Database(str(db_path), timeout=30)
    try:
        writer.execute("CREATE TABLE w (id INTEGER PRIMARY KEY, n)")
        writer.execute("INSERT INTO w (n) VALUES (1)")
        reader.begin()
        assert reader.query("SELECT n FROM w") == [(1,)]
        writer.begin()
        writer.execute("INSERT INTO w (n) VALUES (2)")
        reader.commit()  # while the writer holds the write lock
        writer.commit()
        assert reader.query("SELECT count(*) FROM w") == [(2,)]
    finally:
        writer.close()
        reader.close()
