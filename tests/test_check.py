"""``galaxlite check`` / ``Database.check()``: damaged files are found, repairable ones mended.

Each damage is done the way other tools do it: Python's ``sqlite3`` in a separate process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import galaxlite


def gl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "galaxlite.cli", *args], capture_output=True, text=True, timeout=120
    )


def make(path: Path) -> None:
    with galaxlite.Database(path) as db:
        db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT, label INTEGER)")
        db.execute("CREATE TABLE pairs (a TEXT, b INTEGER, PRIMARY KEY (a, b)) WITHOUT ROWID")
        db.execute("CREATE TABLE notes (x) WITHOUT VERSIONING")
        db.executemany("INSERT INTO docs (body, label) VALUES (?, ?)", [(f"d{i}", i % 2) for i in range(100)])
        db.execute("INSERT INTO pairs VALUES ('x', 1), ('y', 2)")
        db.create_tag("v1")
        db.execute("UPDATE docs SET label = 7 WHERE id <= 3")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    p = tmp_path / "shop.db"
    make(p)
    return p


def test_a_clean_file_passes(path: Path) -> None:
    with galaxlite.Database(path) as db:
        assert db.check() == []
        assert db.unversioned_tables() == ["notes"]
    out = gl("check", str(path))
    assert out.returncode == 0, out.stderr
    assert "note: table notes is not versioned (ALTER TABLE notes ENABLE VERSIONING)" in out.stdout
    assert out.stdout.strip().endswith("ok: 2 versioned table(s), catalogs intact, integrity_check ok")


def test_dropped_triggers_are_found_and_made_again(path: Path, plain) -> None:
    client = plain(path)
    client.execute("DROP TRIGGER _gl_t1_au")
    client.execute("DROP TRIGGER _gl_t1_h_no_update")
    out = gl("check", str(path))
    assert out.returncode == 1
    assert "table docs: versioning triggers missing: _gl_t1_au, _gl_t1_h_no_update" in out.stdout
    assert "repairable" in out.stdout
    assert gl("check", str(path), "--repair").returncode == 0
    client.execute("UPDATE docs SET body = 'plain' WHERE id = 10")  # versioned again
    with galaxlite.Database(path) as db:
        assert db.check() == []
        assert db.query("SELECT body FROM docs AT VERSION 'v1' WHERE id = 10") == [("d9",)]


def test_a_rebuilt_table_is_found_and_its_past_refused_until_repaired(path: Path, plain) -> None:
    """A rebuild, as tools that change a table's shape do it (copy aside, drop, create, copy
    back; sqlite-utils' ``transform`` renames the copy instead, with legacy_alter_table on)."""
    client = plain(path)
    client.execute("CREATE TABLE docs_copy AS SELECT * FROM docs")
    client.execute("DROP TABLE docs")
    client.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT, label INTEGER)")
    client.execute("INSERT INTO docs SELECT * FROM docs_copy")
    client.execute("DROP TABLE docs_copy")
    with galaxlite.Database(path) as db:
        [finding] = db.check()
        assert finding.table == "docs" and "_gl_t1_ai" in finding.problem and finding.repair
        with pytest.raises(galaxlite.TableNotAtVersionError, match="bypassed galaxlite"):
            db.query("SELECT * FROM docs AT VERSION 'v1'")
        assert db.check(repair=True) == []
        assert db.query("SELECT count(*), sum(label) FROM docs AT VERSION 'v1'") == [(100, 50)]


def test_a_table_dropped_outside_galaxlite_cannot_be_repaired(path: Path, plain) -> None:
    plain(path).execute("DROP TABLE pairs")
    out = gl("check", str(path), "--repair")
    assert out.returncode == 1
    assert "table pairs: the table was dropped outside galaxlite" in out.stdout
    with galaxlite.Database(path) as db:
        with pytest.raises(galaxlite.TableNotAtVersionError, match="bypassed galaxlite"):
            db.query("SELECT * FROM pairs AT VERSION 'v1'")


def test_a_column_added_by_another_tool_is_adopted_at_the_next_open(path: Path, plain) -> None:
    client = plain(path)
    client.execute("ALTER TABLE docs ADD COLUMN score REAL")
    client.execute("UPDATE docs SET score = 0.5 WHERE id = 1")  # in the window: score's old value is lost
    with galaxlite.Database(path) as db:
        assert db.check() == []
        db.create_tag("v2")
        db.execute("UPDATE docs SET score = 0.9 WHERE id = 1")
        assert db.query("SELECT * FROM docs AT VERSION 'v1' WHERE id = 1") == [(1, "d0", 0)]
        assert db.query("SELECT score FROM docs AT VERSION 'v2' WHERE id = 1") == [(0.5,)]
        assert db.query("SELECT score FROM docs WHERE id = 1") == [(0.9,)]


def test_changed_columns_are_reported(path: Path, plain) -> None:
    plain(path).execute("ALTER TABLE docs RENAME COLUMN label TO tag")
    with galaxlite.Database(path) as db:
        [finding] = [f for f in db.check() if "columns changed" in f.problem]
        assert finding.table == "docs" and finding.repair is None
        assert "label gone" in finding.problem


def test_a_dropped_catalog_guard_is_found_and_made_again_by_repair(path: Path, plain) -> None:
    """Opening the file does not make it again unseen: check names it until --repair."""
    plain(path).execute("DROP TRIGGER galaxlite_tags_no_delete")
    out = gl("check", str(path))
    assert out.returncode == 1
    assert "catalog guards missing: galaxlite_tags_no_delete" in out.stdout and "repairable" in out.stdout
    assert gl("check", str(path), "--repair").returncode == 0
    with pytest.raises(Exception, match="no such function: galaxlite_catalog_writer"):
        plain(path).execute("DELETE FROM galaxlite_tags")


@pytest.mark.parametrize("trigger", ["galaxlite_tags_immutable", "_gl_t1_h_no_delete", "_gl_t1_c_no_update"])
def test_a_neutered_guard_is_found(path: Path, plain, trigger: str) -> None:
    """A guard replaced by a trigger of the same name that does nothing."""
    client = plain(path)
    (table,) = client.execute("SELECT tbl_name FROM sqlite_master WHERE name = ?", (trigger,)).fetchone()
    client.execute(f"DROP TRIGGER {trigger}")
    client.execute(f"CREATE TRIGGER {trigger} BEFORE DELETE ON {table} WHEN 0 BEGIN SELECT 1; END")
    with galaxlite.Database(path) as db:
        [finding] = db.check()
        assert trigger in finding.problem and "changed" in finding.problem and finding.repair
        assert db.check(repair=True) == []


def test_a_table_dropped_and_made_again_outside_galaxlite_is_not_repairable(path: Path, plain) -> None:
    client = plain(path)
    client.execute("DROP TABLE docs")
    client.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT, label INTEGER)")
    client.execute("INSERT INTO docs VALUES (1, 'new', 0)")
    out = gl("check", str(path), "--repair")
    assert out.returncode == 1
    assert "table docs: " in out.stdout and "never reached history (not repairable)" in out.stdout
    with galaxlite.Database(path) as db:  # nothing was "repaired" away
        [finding] = [f for f in db.check() if f.table == "docs"]
        assert finding.repair is None


def test_a_forged_history_row_is_found(path: Path, plain) -> None:
    """A history row forged with the values a real write would use (the key's current
    valid_from, the clock's version) passes the history guard (a trigger cannot tell it from
    the versioning triggers' own): check finds it overlapping the current version."""
    plain(path).execute(
        "INSERT INTO _gl_h1 (h0, h1, h2, _gl_rowid, valid_from, valid_to) SELECT id, 'forged', label, "
        "id, coalesce((SELECT valid_from FROM _gl_c1 WHERE _gl_k0 = id), (SELECT max(valid_from) FROM _gl_r1 "
        "WHERE id BETWEEN lo AND hi)), (SELECT version FROM galaxlite_clock) FROM docs WHERE id = 50"
    )
    with galaxlite.Database(path) as db:
        [finding] = db.check()
        assert finding.table == "docs" and "_gl_h1 overlap" in finding.problem and finding.repair is None


def test_a_dropped_catalog_is_an_error_at_open_not_made_again_empty(path: Path, plain) -> None:
    plain(path).execute("DROP TABLE galaxlite_tags")
    with pytest.raises(galaxlite.DatabaseError, match="catalog galaxlite_tags is missing .*every version tag"):
        galaxlite.Database(path)
    out = gl("check", str(path))
    assert out.returncode != 0 and "galaxlite_tags" in out.stdout + out.stderr


def test_a_changed_catalog_column_is_an_error_at_open(path: Path, plain) -> None:
    plain(path).execute("ALTER TABLE galaxlite_tables RENAME COLUMN columns TO cols")
    with pytest.raises(galaxlite.DatabaseError, match="catalog galaxlite_tables lost column.s. columns"):
        galaxlite.Database(path)


def test_the_embedding_cache_is_made_again_when_dropped(path: Path, plain) -> None:
    plain(path).execute("DROP TABLE galaxlite_embeddings")  # a cache: recomputed when needed
    with galaxlite.Database(path) as db:
        assert db.check() == []


def test_snapshot_storage_is_checked(path: Path, plain) -> None:
    with galaxlite.Database(path) as db:
        db.execute("CREATE SNAPSHOT s AS SELECT * FROM docs")
        [(storage,)] = db.query("SELECT storage FROM db4ai_snapshot")
    client = plain(path)
    client.execute(f"DROP TRIGGER {storage}_read_only_update")
    with galaxlite.Database(path) as db:
        [finding] = db.check()
        assert f"{storage}_read_only_update" in finding.problem and finding.repair
        assert db.check(repair=True) == []
    client.execute(f"ALTER TABLE {storage} RENAME TO elsewhere")
    with galaxlite.Database(path) as db:
        [finding] = db.check()
        assert f"snapshot s@1.0.0 (storage {storage}): its storage table is missing" in finding.problem
        assert finding.repair is None
