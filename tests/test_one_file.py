"""One file means one file: the data reaches the database file, and backups are whole.

galaxlite runs in WAL mode; these tests copy the database file *alone* (no ``-wal``), as a
person copying "the database" would, and open the copy.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import galaxlite


def _copy_file_alone(path: Path, dest: Path) -> galaxlite.Database:
    shutil.copyfile(path, dest)
    return galaxlite.Database(dest)


def test_a_script_that_never_closes_leaves_its_data_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    script = f"""
        import galaxlite
        db = galaxlite.Database({str(path)!r})
        db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO items (name) VALUES ('apple'), ('pear')")
        db.create_tag("v1")
        db.execute("UPDATE items SET name = 'plum' WHERE id = 2")
        # no db.close(): the interpreter exits with the connection open
    """
    subprocess.run([sys.executable, "-c", textwrap.dedent(script)], check=True, timeout=120)
    copy = _copy_file_alone(path, tmp_path / "copy.db")
    assert copy.query("SELECT name FROM items ORDER BY id") == [("apple",), ("plum",)]
    assert copy.query("SELECT name FROM items AT VERSION 'v1' ORDER BY id") == [("apple",), ("pear",)]
    copy.close()


def test_an_idle_database_is_checkpointed(tmp_path: Path) -> None:
    """A process that wrote and then stays open (a notebook, a server) has its data in the
    file once it has been idle for a moment."""
    path = tmp_path / "idle.db"
    script = f"""
        import sys, time
        import galaxlite
        db = galaxlite.Database({str(path)!r})
        db.execute("CREATE TABLE t (x)")
        db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(500)])
        print("written", flush=True)
        sys.stdin.readline()  # stay open, idle, until the test has copied the file
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout.readline() == "written\n"
        deadline = time.monotonic() + 30
        while True:  # the checkpoint comes about a second after the last commit
            time.sleep(0.5)
            shutil.copyfile(path, tmp_path / "copy.db")
            try:
                with galaxlite.Database(tmp_path / "copy.db") as copy:
                    if copy.query("SELECT count(*) FROM t") == [(500,)]:
                        break
            except galaxlite.Error:
                pass
            (tmp_path / "copy.db").unlink()
            assert time.monotonic() < deadline, "the idle database was never checkpointed"
    finally:
        proc.communicate("\n", timeout=60)
    assert proc.returncode == 0


@pytest.fixture
def rich(tmp_path: Path) -> galaxlite.Database:
    """A directory database with history, tags, a snapshot and a training export."""
    db = galaxlite.Database(tmp_path / "data")
    db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT, label INTEGER)")
    db.executemany("INSERT INTO docs (body, label) VALUES (?, ?)", [(f"text {i}", i % 3) for i in range(80)])
    db.execute("CREATE VERSION TAG 'v1' FOR TRAINING")
    db.execute("UPDATE docs SET label = label + 10 WHERE id <= 5")
    db.execute("CREATE SNAPSHOT s AS SELECT id, label FROM docs")
    db.create_tag("v2")
    db.execute("DELETE FROM docs WHERE id > 70")
    yield db
    db.close()


def _state(db: galaxlite.Database) -> dict:
    return {
        "now": db.query("SELECT * FROM docs ORDER BY id"),
        "v1": db.query("SELECT * FROM docs AT VERSION 'v1' ORDER BY id"),
        "v2": db.query("SELECT * FROM docs AT VERSION 'v2' ORDER BY id"),
        "snapshot": db.query('SELECT * FROM s@1.0.0 ORDER BY id'),
        "tags": [(t.name, t.version) for t in db.tags()],
        "exports": [(e.tag, e.table, e.rows, e.content_hash) for e in db.exports()],
    }


def test_backup_is_a_whole_copy(rich: galaxlite.Database, tmp_path: Path) -> None:
    dest = tmp_path / "copy"
    filename = rich.backup(dest)
    assert Path(filename) == dest / "galaxlite.db"
    with galaxlite.Database(dest) as copy:
        assert _state(copy) == _state(rich)
        path = copy.training_dataset("v1")
        assert path.startswith(str(dest))
        assert galaxlite.content_hash(path) == rich.exports("v1")[0].content_hash


def test_backup_to_a_file_copies_the_exports_beside_it(rich: galaxlite.Database, tmp_path: Path) -> None:
    filename = rich.backup(tmp_path / "copy.db")
    assert (tmp_path / "copy.db.exports").is_dir()
    shutil.rmtree(tmp_path / "data")  # the copy needs nothing of the original
    with galaxlite.Database(filename) as copy:
        assert galaxlite.content_hash(copy.training_dataset("v1")) == copy.exports("v1")[0].content_hash


def test_backup_while_another_connection_writes(rich: galaxlite.Database, tmp_path: Path, plain) -> None:
    other = plain(tmp_path / "data" / "galaxlite.db")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO docs (body, label) VALUES ('uncommitted', 0)")
    before = _state(rich)
    rich.backup(tmp_path / "copy.db")  # does not wait for the writer
    other.execute("COMMIT")
    with galaxlite.Database(tmp_path / "copy.db") as copy:
        assert _state(copy) == before
        assert copy.query("SELECT count(*) FROM docs WHERE body = 'uncommitted'") == [(0,)]


def test_backup_refuses_to_overwrite(rich: galaxlite.Database, tmp_path: Path) -> None:
    (tmp_path / "taken.db").write_bytes(b"mine")
    with pytest.raises(galaxlite.OperationalError, match="exists already"):
        rich.backup(tmp_path / "taken.db")
    assert (tmp_path / "taken.db").read_bytes() == b"mine"
    with pytest.raises(galaxlite.OperationalError, match="the database itself"):
        rich.backup(tmp_path / "data")
    rich.begin()
    with pytest.raises(galaxlite.NotSupportedError, match="inside a transaction"):
        rich.backup(tmp_path / "later.db")
    rich.rollback()
    assert not (tmp_path / "later.db").exists()
