"""Two or more ``Database`` objects on one file (WAL): readers and writers together.

* A reader of a tag is never blocked by a writer's open transaction. Readers here use
  ``timeout=0``, so any wait for a lock would raise at once instead of passing slowly.
* Readers see consistent data: whole transactions, and exactly the tag's rows.
* Writes from several connections, interleaved, get strictly increasing versions, and
  each version reads exactly the writes committed up to it.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable

import pytest

import galaxlite

Open = Callable[..., galaxlite.Database]


@pytest.fixture
def pairs(db: galaxlite.Database) -> galaxlite.Database:
    """Table ``p``: rows always written in pairs (a, -a), so every committed state sums to 0."""
    db.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, a INTEGER NOT NULL)")
    db.executemany(
        "INSERT INTO p (a) VALUES (?)", [(i,) for i in range(1, 6)] + [(-i,) for i in range(1, 6)]
    )
    db.create_tag("base")
    return db


BASE = sorted([(i, i) for i in range(1, 6)] + [(i + 5, -i) for i in range(1, 6)])


def test_database_files_use_wal(db: galaxlite.Database) -> None:
    assert db.query("PRAGMA journal_mode") == [("wal",)]


def test_tag_reader_not_blocked_by_open_write_transaction(
    pairs: galaxlite.Database, open_db: Open
) -> None:
    reader = open_db(timeout=0)
    assert sorted(reader.query("SELECT * FROM p AT VERSION 'base'")) == BASE
    writer = pairs
    writer.begin()
    writer.execute("INSERT INTO p (a) VALUES (100), (-100)")
    writer.execute("DELETE FROM p WHERE a IN (1, -1)")
    writer.execute("UPDATE p SET a = a * 2")
    # the writer holds the write lock now; the reader neither waits nor sees uncommitted rows
    assert sorted(reader.query("SELECT * FROM p AT VERSION 'base'")) == BASE
    assert sorted(reader.query("SELECT * FROM p")) == BASE
    assert reader.query("SELECT sum(a) FROM p AT VERSION ?", ("base",)) == [(0,)]
    writer.commit()
    assert sorted(reader.query("SELECT * FROM p AT VERSION 'base'")) == BASE
    assert reader.query("SELECT count(*), sum(a) FROM p") == [(10, 0)]


def test_reader_opened_during_a_write_transaction_is_not_blocked(
    pairs: galaxlite.Database, open_db: Open
) -> None:
    """Opening the file while another connection writes must not wait for that writer."""
    pairs.begin()
    pairs.execute("INSERT INTO p (a) VALUES (7), (-7)")
    reader = open_db(timeout=0)
    assert sorted(reader.query("SELECT * FROM p AT VERSION 'base'")) == BASE
    pairs.commit()


def test_tag_on_another_connection_never_lands_amid_a_write(
    pairs: galaxlite.Database, open_db: Open
) -> None:
    """A tag requested while another connection writes lands after that write, never amid it."""
    other = open_db(timeout=0)
    pairs.begin()
    pairs.execute("INSERT INTO p (a) VALUES (8), (-8)")
    with pytest.raises(galaxlite.OperationalError):
        other.create_tag("during")  # it would have to wait: refused, and nothing created
    assert other.tags() == pairs.tags()
    written = pairs.version
    pairs.commit()
    version = other.create_tag("after")
    assert version > written
    assert pairs.query("SELECT count(*), sum(a) FROM p AT VERSION 'after'") == [(12, 0)]


def test_readers_in_threads_see_whole_transactions(
    pairs: galaxlite.Database, open_db: Open
) -> None:
    """While a writer commits pairs, concurrent readers only ever see sums of zero."""
    writer_db = open_db()
    readers = [open_db(timeout=0) for _ in range(2)]
    done = threading.Event()
    problems: list[str] = []

    def write() -> None:
        try:
            for i in range(100, 300):
                with writer_db.transaction():
                    writer_db.execute("INSERT INTO p (a) VALUES (?)", (i,))
                    writer_db.execute("INSERT INTO p (a) VALUES (?)", (-i,))
                if i % 50 == 0:
                    writer_db.create_tag(f"at {i}")
        except Exception as exc:  # noqa: BLE001 - reported to the main thread
            problems.append(f"writer: {exc!r}")
        finally:
            done.set()

    def read(reader: galaxlite.Database) -> None:
        rounds = 0
        try:
            while not done.is_set() or rounds < 5:
                rounds += 1
                if sorted(reader.query("SELECT * FROM p AT VERSION 'base'")) != BASE:
                    problems.append("the tag changed")
                count, total = reader.query("SELECT count(*), coalesce(sum(a), 0) FROM p")[0]
                if total != 0 or count % 2:
                    problems.append(f"half a transaction: count {count}, sum {total}")
                version = reader.version
                count, total = reader.query(
                    "SELECT count(*), coalesce(sum(a), 0) FROM p AT VERSION ?", (version,)
                )[0]
                if total != 0 or count % 2:
                    problems.append(f"AT VERSION {version}: count {count}, sum {total}")
                if rounds > 100_000:
                    break
        except Exception as exc:  # noqa: BLE001 - a lock wait raises at once (timeout=0)
            problems.append(f"reader: {exc!r}")

    threads = [threading.Thread(target=write)] + [
        threading.Thread(target=read, args=(r,)) for r in readers
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problems == []
    assert pairs.query("SELECT count(*), sum(a) FROM p") == [(410, 0)]
    for i in (100, 150, 200, 250):
        expected = 10 + 2 * (i - 99)
        assert pairs.query(f"SELECT count(*), sum(a) FROM p AT VERSION 'at {i}'") == [(expected, 0)]


def test_interleaved_writes_get_strictly_increasing_versions(
    db: galaxlite.Database, open_db: Open
) -> None:
    """Two connections take turns: each write's version is above the previous one's."""
    db.execute("CREATE TABLE log (who TEXT, n INTEGER)")
    other = open_db()
    writes: list[tuple[int, str, int]] = []
    for n in range(30):
        conn, who = (db, "a") if n % 2 == 0 else (other, "b")
        if n % 3 == 0:
            with conn.transaction():
                conn.execute("INSERT INTO log VALUES (?, ?)", (who, n))
                conn.execute("UPDATE log SET n = n WHERE who = ?", (who,))
        else:
            conn.execute("INSERT INTO log VALUES (?, ?)", (who, n))
        writes.append((conn.version, who, n))
        if n % 7 == 0:
            writes.append((other.create_tag(f"t{n}"), "tag", n))
    versions = [v for v, _, _ in writes]
    assert all(a < b for a, b in itertools.pairwise(versions)), versions
    assert db.version == other.version == versions[-1]
    for i, (version, who, n) in enumerate(writes):
        if who == "tag":
            continue
        before = sorted((w, m) for _, w, m in writes[:i] if w != "tag")
        assert sorted(db.query(f"SELECT * FROM log AT VERSION {version}")) == sorted(
            [*before, (who, n)]
        )
        assert sorted(other.query(f"SELECT * FROM log AT VERSION {version - 1}")) == before


def test_concurrent_writers_get_distinct_ordered_versions(
    db: galaxlite.Database, open_db: Open
) -> None:
    """Writer threads on separate connections: no two transactions share a version, and each
    version reads exactly the transactions committed at or before it."""
    db.execute("CREATE TABLE log (who INTEGER, n INTEGER)")
    writers = [open_db(timeout=30.0) for _ in range(3)]
    committed: list[list[tuple[int, int, int]]] = [[] for _ in writers]
    problems: list[str] = []

    def write(k: int) -> None:
        conn = writers[k]
        try:
            for n in range(60):
                with conn.transaction():
                    conn.execute("INSERT INTO log VALUES (?, ?)", (k, n))
                    version = conn.version  # this transaction's own version
                committed[k].append((version, k, n))
        except Exception as exc:  # noqa: BLE001 - reported to the main thread
            problems.append(f"writer {k}: {exc!r}")

    threads = [threading.Thread(target=write, args=(k,)) for k in range(len(writers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problems == []
    for own in committed:
        assert [v for v, _, _ in own] == sorted({v for v, _, _ in own}), "per writer: increasing"
    everything = sorted(w for own in committed for w in own)
    versions = [v for v, _, _ in everything]
    assert len(set(versions)) == len(versions), "two transactions share a version"
    for i in range(0, len(everything), 9):
        version = everything[i][0]
        before = sorted((k, n) for _, k, n in everything[:i])
        assert sorted(db.query(f"SELECT * FROM log AT VERSION {version}")) == sorted(
            [*before, everything[i][1:]]
        )
        assert sorted(db.query(f"SELECT * FROM log AT VERSION {version - 1}")) == before


def test_concurrent_autocommit_writers_get_distinct_ordered_versions(
    db: galaxlite.Database, open_db: Open
) -> None:
    """Single-statement writes from threads: every row gets its own version (read from the
    companion table, where galaxlite keeps each current row's valid_from), in each writer's
    order, and every version reads exactly the rows written at or before it."""
    db.execute("CREATE TABLE log (who INTEGER, n INTEGER)")
    writers = [open_db(timeout=30.0) for _ in range(3)]
    problems: list[str] = []

    def write(k: int) -> None:
        try:
            for n in range(60):
                writers[k].execute("INSERT INTO log VALUES (?, ?)", (k, n))
        except Exception as exc:  # noqa: BLE001 - reported to the main thread
            problems.append(f"writer {k}: {exc!r}")

    threads = [threading.Thread(target=write, args=(k,)) for k in range(len(writers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problems == []
    ((companion,),) = db.query("SELECT companion FROM galaxlite_tables WHERE name = 'log'")
    written = sorted(
        db.query(
            f'SELECT c.valid_from, l.who, l.n FROM log AS l JOIN "{companion}" AS c '
            "ON c._gl_k0 = l.rowid"
        )
    )
    assert len(written) == 180
    versions = [v for v, _, _ in written]
    assert len(set(versions)) == len(versions), "two writes share a version"
    for k in range(len(writers)):
        assert [n for _, who, n in written if who == k] == list(range(60)), "writer order kept"
    for i in range(0, len(written), 7):
        version = written[i][0]
        before = sorted((k, n) for _, k, n in written[:i])
        assert sorted(db.query(f"SELECT * FROM log AT VERSION {version}")) == sorted(
            [*before, written[i][1:]]
        )
        assert sorted(db.query(f"SELECT * FROM log AT VERSION {version - 1}")) == before


def test_tags_never_tie_with_concurrent_plain_and_galaxlite_writes(
    db: galaxlite.Database, open_db: Open, plain
) -> None:
    """A galaxlite writer, a plain ``sqlite3`` writer and a tagger run at once. No row version
    shares a tag's version, and each tag reads exactly the rows written before it."""
    db.execute("CREATE TABLE mix (src TEXT, a INTEGER)")
    ours, tagger = open_db(timeout=30.0), open_db(timeout=30.0)
    theirs = plain(timeout=30.0, check_same_thread=False)
    writers_done = threading.Barrier(3)
    problems: list[str] = []

    def galaxlite_writer() -> None:
        try:
            for i in range(1, 121):
                ours.execute("INSERT INTO mix VALUES ('g', ?), ('g', ?)", (i, -i))
        except Exception as exc:  # noqa: BLE001 - reported to the main thread
            problems.append(f"galaxlite writer: {exc!r}")
        writers_done.wait()

    def plain_writer() -> None:
        try:
            for i in range(1, 121):
                theirs.execute("INSERT INTO mix VALUES ('p', ?)", (i,))
        except Exception as exc:  # noqa: BLE001 - reported to the main thread
            problems.append(f"plain writer: {exc!r}")
        writers_done.wait()

    threads = [threading.Thread(target=galaxlite_writer), threading.Thread(target=plain_writer)]
    for t in threads:
        t.start()
    tags = [tagger.create_tag(f"t{k}") for k in range(40)]
    writers_done.wait()
    for t in threads:
        t.join()
    tags.append(tagger.create_tag("end"))
    assert problems == []
    ((companion,),) = db.query("SELECT companion FROM galaxlite_tables WHERE name = 'mix'")
    written = db.query(
        f'SELECT c.valid_from, m.src, m.a FROM mix AS m JOIN "{companion}" AS c '
        "ON c._gl_k0 = m.rowid"
    )
    assert len(written) == 360
    assert not {v for v, _, _ in written} & set(tags), "a write has a tag's version"
    for name, version in [(t.name, t.version) for t in db.tags()]:
        expected = Counter((src, a) for v, src, a in written if v < version)
        got = Counter(db.query(f"SELECT * FROM mix AT VERSION '{name}'"))
        assert got == expected, name
        assert sum(a for (src, a), n in got.items() if src == "g" for _ in range(n)) == 0


def test_transaction_waits_for_another_writer_instead_of_failing(
    db: galaxlite.Database, open_db: Open
) -> None:
    """``Database.transaction()`` while another connection holds the write lock waits for it
    (busy timeout), as a plain SQLite ``BEGIN; INSERT`` does, instead of 'database is locked'."""
    db.execute("CREATE TABLE log (who TEXT)")
    other = open_db(timeout=30.0)
    db.begin()
    db.execute("INSERT INTO log VALUES ('first')")
    started, outcome = threading.Event(), []

    def write() -> None:
        started.set()
        try:
            with other.transaction():
                other.execute("INSERT INTO log VALUES ('second')")
            outcome.append("ok")
        except galaxlite.Error as exc:
            outcome.append(repr(exc))

    thread = threading.Thread(target=write)
    thread.start()
    started.wait()
    thread.join(0.5)  # a waiting writer is still alive here; a failing one has finished
    db.commit()
    thread.join()
    assert outcome == ["ok"]
    assert sorted(db.query("SELECT who FROM log")) == [("first",), ("second",)]


def test_waiting_tag_lands_after_the_write_it_waited_for(
    pairs: galaxlite.Database, open_db: Open
) -> None:
    """A tag on another connection (with a busy timeout) waits out a write transaction and
    then separates it from later writes: it sees all of it."""
    other = open_db(timeout=30.0)
    pairs.begin()
    pairs.execute("INSERT INTO p (a) VALUES (9), (-9)")
    written = pairs.version
    got: list[int | str] = []

    def tag() -> None:
        try:
            got.append(other.create_tag("waited"))
        except galaxlite.Error as exc:
            got.append(repr(exc))

    thread = threading.Thread(target=tag)
    thread.start()
    thread.join(0.5)  # let the tag start waiting for the write lock
    pairs.execute("INSERT INTO p (a) VALUES (10), (-10)")
    pairs.commit()
    thread.join()
    assert len(got) == 1 and isinstance(got[0], int), got
    assert got[0] > written
    pairs.execute("INSERT INTO p (a) VALUES (11), (-11)")
    assert pairs.query("SELECT count(*), sum(a) FROM p AT VERSION 'waited'") == [(14, 0)]
