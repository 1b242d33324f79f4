"""An old SQLite as a plain client of a galaxlite file (long suite only: ``GALAXLITE_LONG=1``).

The triggers in the file need UPSERT (SQLite 3.24.0). The oldest SQLite source a package on
the package index ships, as far as we found, is the 3.25.2 amalgamation in the sdist of
``supersqlite`` 0.0.2: the test downloads it with pip (once, into a cache folder), compiles
the ``sqlite3`` shell from it with the system's C compiler, and has that shell write to a
galaxlite file in every way a plain client does; galaxlite must then find the history whole.
Skipped, with the reason, without network access to the index or without a C compiler.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import galaxlite

pytestmark = pytest.mark.skipif(not os.environ.get("GALAXLITE_LONG"),
                                reason="long suite only (GALAXLITE_LONG=1): downloads and compiles SQLite")

PACKAGE = "supersqlite==0.0.2"
SOURCE = "supersqlite-0.0.2/supersqlite/third_party/_pysqlite/"
VERSION = "3.25.2"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "galaxlite-tests"


@pytest.fixture(scope="module")
def old_sqlite() -> Path:
    """The path of a ``sqlite3`` shell built from SQLite 3.25.2."""
    binary = CACHE / f"sqlite3-{VERSION}"
    if binary.exists():
        return binary
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the old SQLite with")
    CACHE.mkdir(parents=True, exist_ok=True)
    got = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                          "--no-binary", ":all:", PACKAGE, "-d", str(CACHE)],
                         capture_output=True, text=True, timeout=600)
    archive = CACHE / "supersqlite-0.0.2.tar.gz"
    if got.returncode or not archive.exists():
        pytest.skip(f"could not download {PACKAGE} (the old SQLite's source): {got.stderr[-300:]}")
    build = CACHE / "build"
    with tarfile.open(archive) as tar:
        for name in ("sqlite3.c", "sqlite3.h", "shell.c"):
            member = tar.getmember(SOURCE + name)
            member.name = name
            tar.extract(member, build, filter="data")
    assert f'#define SQLITE_VERSION        "{VERSION}"' in (build / "sqlite3.h").read_text()
    subprocess.run([compiler, "-O1", "-DSQLITE_THREADSAFE=0", "shell.c", "sqlite3.c", "-lm", "-ldl",
                    "-o", str(binary)], cwd=build, check=True, capture_output=True, timeout=1200)
    return binary


def run_old(shell: Path, db: Path, sql: str) -> str:
    done = subprocess.run([str(shell), "-batch", "-bail", str(db)], input=sql, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_an_old_sqlite_writes_are_versioned(old_sqlite, tmp_path):
    path = tmp_path / "old.db"
    db = galaxlite.Database(path)
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE, price REAL)")
    db.execute("CREATE TABLE tags (code TEXT PRIMARY KEY, label TEXT) WITHOUT ROWID")
    db.execute("CREATE TABLE log (msg TEXT)")
    db.execute("INSERT INTO items (name, price) VALUES ('apple', 1.0), ('pear', 2.0), ('fig', 3.0)")
    db.execute("INSERT INTO tags VALUES ('a', 'A'), ('b', 'B')")
    db.execute("INSERT INTO log VALUES ('one')")
    db.execute("CREATE SNAPSHOT cheap AS SELECT * FROM items WHERE price < 3")
    db.create_tag("v1")
    before = {t: db.query(f"SELECT * FROM {t} ORDER BY 1") for t in ("items", "tags", "log")}
    db.close()

    assert run_old(old_sqlite, path, "SELECT sqlite_version();").strip() == VERSION
    run_old(old_sqlite, path, """
        INSERT INTO items (name, price) VALUES ('kiwi', 4.0);
        UPDATE items SET price = price * 10 WHERE name = 'apple';
        DELETE FROM items WHERE name = 'pear';
        INSERT OR REPLACE INTO items (id, name, price) VALUES (3, 'fig', 30.0);
        INSERT INTO items (name, price) VALUES ('fig', 0) ON CONFLICT (name) DO UPDATE SET price = 31.0;
        UPDATE tags SET label = 'AA' WHERE code = 'a';
        INSERT INTO tags VALUES ('c', 'C');
        DELETE FROM log;
        INSERT INTO log VALUES ('two');
    """)
    views = run_old(old_sqlite, path, 'SELECT name FROM "cheap@1.0.0" ORDER BY name;')
    assert views.split() == ["apple", "pear"]

    db = galaxlite.Database(path)
    assert db.check() == []
    for table, rows in before.items():
        assert db.query(f"SELECT * FROM {table} AT VERSION 'v1' ORDER BY 1") == rows, table
    assert db.query("SELECT name, price FROM items ORDER BY id") == [
        ("apple", 10.0), ("fig", 31.0), ("kiwi", 4.0)]
    assert db.query("SELECT * FROM tags ORDER BY 1") == [("a", "AA"), ("b", "B"), ("c", "C")]
    assert db.query("SELECT msg FROM log") == [("two",)]
    db.create_tag("v2")
    db.close()
    run_old(old_sqlite, path, "DELETE FROM items; DELETE FROM tags;")
    db = galaxlite.Database(path)
    assert db.query("SELECT count(*) FROM items AT VERSION 'v2'") == [(3,)]
    assert db.query("SELECT count(*) FROM tags AT VERSION 'v2'") == [(3,)]
    assert db.query("SELECT count(*) FROM items") == [(0,)]
    assert db.check() == []
    db.close()
