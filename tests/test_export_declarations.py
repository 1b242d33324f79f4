"""An export of an old tag uses the embedding declarations in force at the tag's version
(``galaxlite_embedding_history``), whatever was declared, dropped, switched or recorded since:
the same content hash as the export made at tag time. Real files and Lance datasets."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import apsw
import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

import galaxlite
from galaxlite.semantic import embedders as EMB
from galaxlite.semantic.hashing import HashEmbedder

EMB.register_embedder("hash64d", lambda: HashEmbedder(dim=64, name="hash64d"), replace=True)


def build(path: Path) -> galaxlite.Database:
    db = galaxlite.Database(path, embedder="hash")
    db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT EMBEDDING MODEL 'hash', "
               "note TEXT, label INTEGER, summary TEXT)")
    db.executemany("INSERT INTO docs (id, body, note, label, summary) VALUES (?, ?, ?, ?, ?)",
                   [(i, f"document {i} about {'cats' if i % 2 else 'dogs'}", f"note {i % 4}", i % 3,
                     f"summary {i % 5}") for i in range(1, 31)])
    db.embed("docs", "summary")  # recorded (not declared): hash, the session's embedder
    return db


def hashes(records) -> dict[str, str]:
    return {e.table: e.content_hash for e in records}


CHANGES = {
    "SET EMBEDDING on a plain column": ["ALTER TABLE docs ALTER COLUMN note SET EMBEDDING MODEL 'hash'"],
    "DROP EMBEDDING": ["ALTER TABLE docs ALTER COLUMN body DROP EMBEDDING"],
    "another model": ["ALTER TABLE docs ALTER COLUMN body SET EMBEDDING MODEL 'hash64d'"],
    "ADD COLUMN ... EMBEDDING": ["ALTER TABLE docs ADD COLUMN extra TEXT EMBEDDING MODEL 'hash64d'",
                                "UPDATE docs SET extra = body"],
    "first use by SEMANTIC_MATCH": ["SELECT count(*) FROM docs WHERE SEMANTIC_MATCH(note, 'note 1', 0.5)"],
    "first use by db.embed": [("embed", "note", None)],
    "first use after a one-row write": ["INSERT INTO docs (id, body, note) VALUES (100, 'x', 'y')",
                                        "SELECT count(*) FROM docs WHERE SEMANTIC_MATCH(note, 'y', 0.5)"],
    "db.embed switches the embedder": [("embed", "summary", "hash64d")],
    "dropped and declared again": ["ALTER TABLE docs ALTER COLUMN body DROP EMBEDDING",
                                   "ALTER TABLE docs ALTER COLUMN body SET EMBEDDING MODEL 'hash'"],
    "renamed, then dropped": ["ALTER TABLE docs RENAME COLUMN body TO content",
                              "ALTER TABLE docs ALTER COLUMN content DROP EMBEDDING",
                              "ALTER TABLE docs RENAME COLUMN note TO body",
                              "ALTER TABLE docs ALTER COLUMN body SET EMBEDDING MODEL 'hash64d'"],
    "table renamed, then switched": ["ALTER TABLE docs RENAME TO papers",
                                     "ALTER TABLE papers ALTER COLUMN body SET EMBEDDING MODEL 'hash64d'"],
    "in one transaction with writes": ["BEGIN", "UPDATE docs SET label = 9",
                                       "ALTER TABLE docs ALTER COLUMN note SET EMBEDDING MODEL 'hash'",
                                       "ALTER TABLE docs ALTER COLUMN body DROP EMBEDDING", "COMMIT"],
}


def apply(db: galaxlite.Database, steps) -> None:
    for step in steps:
        if isinstance(step, tuple):
            _, column, embedder = step
            db.embed("docs", column, embedder=embedder)
        else:
            db.execute(step).fetchall()


@pytest.mark.parametrize("change", list(CHANGES))
def test_an_old_tags_export_keeps_the_declarations_of_tag_time(tmp_path, change):
    with build(tmp_path / "data") as db:
        db.create_training_snapshot("t")
        at_tag_time = hashes(db.exports("t"))
        apply(db, CHANGES[change])
        db.create_training_snapshot("after")
        after = hashes(db.exports("after"))
        assert db.check() == []  # (the history is in step with the catalog)
        assert hashes(db.export_training("t")) == at_tag_time  # also with the file reopened:
    with galaxlite.Database(tmp_path / "data", embedder="hash") as db:
        assert hashes(db.export_training("t")) == at_tag_time
        assert hashes(db.export_training("after")) == after
        assert db.check() == []


def test_an_export_of_a_tag_has_the_columns_declared_then(tmp_path):
    with build(tmp_path / "data") as db:
        db.create_tag("t")
        apply(db, CHANGES["SET EMBEDDING on a plain column"] + CHANGES["DROP EMBEDDING"])
        db.create_tag("u")
        then, now = db.export_training("t"), db.export_training("u")
        import lance

        assert lance.dataset(then[0].path).schema.field("body").type != lance.dataset(then[0].path).schema.field(
            "note").type
        assert set(lance.dataset(then[0].path).schema.names) >= {"body", "body__text", "note"}
        assert "note__text" not in lance.dataset(then[0].path).schema.names
        assert set(lance.dataset(now[0].path).schema.names) >= {"body", "note", "note__text"}
        assert "body__text" not in lance.dataset(now[0].path).schema.names
        # the catalog of today is unchanged by the exports; its history says what was when
        assert db.query("SELECT column_name, embedder FROM galaxlite_embedding_columns ORDER BY 1") == [
            ("note", "hash"), ("summary", "hash")]
        assert db.query("SELECT column_name, embedder, valid_to IS NULL FROM galaxlite_embedding_history "
                        "ORDER BY valid_from, column_name") == [
            ("body", "hash", 0), ("summary", "hash", 1), ("note", "hash", 1)]


def test_a_name_taken_over_brings_no_declaration_of_its_former_table(tmp_path):
    """A plain table's declarations go with it: a versioned table renamed to its name later
    exports, for an old tag, what it had then."""
    with galaxlite.Database(tmp_path / "data", embedder="hash") as db:
        db.execute("CREATE TABLE x (id INTEGER PRIMARY KEY, body TEXT EMBEDDING MODEL 'hash') WITHOUT VERSIONING")
        db.execute("CREATE TABLE y (id INTEGER PRIMARY KEY, body TEXT)")
        db.executemany("INSERT INTO y (body) VALUES (?)", [("one",), ("two",)])
        db.create_training_snapshot("t")
        at_tag_time = hashes(db.exports("t"))
        db.execute("DROP TABLE x")
        db.execute("ALTER TABLE y RENAME TO x")
        assert hashes(db.export_training("t")) == at_tag_time
        assert db.query("SELECT count(*) FROM galaxlite_embedding_history") == [(0,)]
        assert db.check() == []


OPS = st.sampled_from([
    "ALTER TABLE docs ALTER COLUMN body SET EMBEDDING MODEL 'hash'",
    "ALTER TABLE docs ALTER COLUMN body SET EMBEDDING MODEL 'hash64d'",
    "ALTER TABLE docs ALTER COLUMN note SET EMBEDDING MODEL 'hash64d'",
    "ALTER TABLE docs ALTER COLUMN body DROP EMBEDDING",
    "ALTER TABLE docs ALTER COLUMN note DROP EMBEDDING",
    "SELECT count(*) FROM docs WHERE SEMANTIC_MATCH(note, 'note 2', 0.5)",
    "UPDATE docs SET label = label + 1 WHERE id % 3 = 0",
    "TAG",
])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(OPS, min_size=1, max_size=8))
def test_every_tag_exports_as_at_its_time_after_any_declaration_history(tmp_path_factory, ops):
    path = tmp_path_factory.mktemp("decl") / "data"
    with build(path) as db:
        made: dict[str, dict[str, str]] = {}
        for i, op in enumerate([*ops, "TAG"]):
            if op == "TAG":
                db.create_training_snapshot(f"t{i}", seed=i)
                made[f"t{i}"] = hashes(db.exports(f"t{i}"))
                continue
            try:
                db.execute(op).fetchall()
            except galaxlite.SemanticError:  # nothing to drop: the statement changed nothing
                pass
        # PURGE HISTORY trims the declarations no tag had in force, and every tag keeps its own
        db.purge_history(f"t{len(ops)}")  # (the last tag)
        assert db.query("SELECT count(*) FROM galaxlite_embedding_history AS h WHERE valid_to IS NOT NULL "
                        "AND NOT EXISTS (SELECT 1 FROM galaxlite_tags AS g WHERE g.version >= h.valid_from "
                        "AND g.version < h.valid_to)") == [(0,)]
        for tag, expected in made.items():
            assert hashes(db.export_training(tag, seed=int(tag[1:]))) == expected, (tag, ops)
        assert db.check() == []


def test_purge_history_trims_the_declarations_no_tag_had(tmp_path):
    """Declarations closed before the horizon that no tag saw go; those a tag saw, those in
    force at or after the horizon, and (with OF t) other tables' stay."""
    with build(tmp_path / "data") as db:
        db.execute("CREATE TABLE other (id INTEGER PRIMARY KEY, body TEXT EMBEDDING MODEL 'hash')")
        db.create_tag("t")
        for model in ("hash64d", "hash", "hash64d"):  # two declarations of body no tag sees
            db.execute(f"ALTER TABLE docs ALTER COLUMN body SET EMBEDDING MODEL '{model}'")
            db.execute(f"ALTER TABLE other ALTER COLUMN body SET EMBEDDING MODEL '{model}'")
            db.execute("UPDATE docs SET label = label + 1 WHERE id = 1")  # (a new version)
        db.create_tag("u")
        db.execute("ALTER TABLE docs ALTER COLUMN body SET EMBEDDING MODEL 'hash'")  # after u

        def rows(table: str) -> list[tuple]:
            return db.query("SELECT embedder, valid_to IS NULL FROM galaxlite_embedding_history "
                            "WHERE table_name = ? AND column_name = 'body' ORDER BY valid_from", (table,))

        assert len(rows("docs")) == 5 and len(rows("other")) == 4
        db.purge_history("u", table="docs")
        assert rows("docs") == [("hash", 0), ("hash64d", 0), ("hash", 1)]  # t's, u's, now
        assert len(rows("other")) == 4  # (OF docs)
        db.purge_history("u")
        assert rows("other") == [("hash", 0), ("hash64d", 1)]
        assert db.check() == []


def test_plain_clients_cannot_write_the_history(tmp_path, plain):
    with build(tmp_path / "data") as db:
        db.execute("ALTER TABLE docs ALTER COLUMN note SET EMBEDDING")
        before = db.query("SELECT * FROM galaxlite_embedding_history ORDER BY rowid")
    for sql in ("DELETE FROM galaxlite_embedding_history",
                "UPDATE galaxlite_embedding_history SET embedder = 'hash64d'",
                "INSERT INTO galaxlite_embedding_history VALUES ('docs', 'label', 'hash', 384, 1, 0, NULL)"):
        with pytest.raises(Exception, match=r"galaxlite: |no such function: galaxlite_catalog_writer"):
            plain(tmp_path / "data" / "galaxlite.db").execute(sql)
    with galaxlite.Database(tmp_path / "data") as db:
        assert db.query("SELECT * FROM galaxlite_embedding_history ORDER BY rowid") == before


def test_check_finds_a_history_out_of_step_with_the_catalog(tmp_path):
    with build(tmp_path / "data") as db:
        db.create_training_snapshot("t")
        db.execute("ALTER TABLE docs ALTER COLUMN note SET EMBEDDING")
    raw = apsw.Connection(str(tmp_path / "data" / "galaxlite.db"))  # a guard dropped outside galaxlite
    raw.execute("DROP TRIGGER galaxlite_embedding_history_no_delete")
    raw.execute("DELETE FROM galaxlite_embedding_history WHERE column_name = 'note'")
    raw.close()
    with galaxlite.Database(tmp_path / "data", embedder="hash") as db:
        problems = [str(p) for p in db.check()]
        assert any("galaxlite_embedding_history_no_delete" in p for p in problems)
        assert any("galaxlite_embedding_history is out of step" in p and "docs.note" in p for p in problems)
        db.check(repair=True)  # the guard again, and the declarations of now recorded from now on
        assert db.check() == []
        assert db.query("SELECT column_name FROM galaxlite_embedding_history WHERE valid_to IS NULL "
                        "ORDER BY column_name") == [("body",), ("note",), ("summary",)]
        db.execute("ALTER TABLE docs ALTER COLUMN note DROP EMBEDDING")
        assert db.check() == []


def test_a_file_of_an_older_galaxlite_gets_the_history_at_open(tmp_path):
    with build(tmp_path / "data") as db:
        db.create_training_snapshot("t")
        at_tag_time = hashes(db.exports("t"))
    raw = apsw.Connection(str(tmp_path / "data" / "galaxlite.db"))  # as an older galaxlite left it
    raw.create_scalar_function("galaxlite_catalog_writer", lambda: 1, 0)  # (past the guards)
    raw.execute("DROP TABLE galaxlite_embedding_history")
    raw.execute("DELETE FROM galaxlite_meta WHERE key = 'embedding_history'")
    raw.close()
    with galaxlite.Database(tmp_path / "data", embedder="hash") as db:
        assert db.query("SELECT table_name, column_name, embedder, valid_from, valid_to "
                        "FROM galaxlite_embedding_history ORDER BY column_name") == [
            ("docs", "body", "hash", 0, None), ("docs", "summary", "hash", 0, None)]
        assert db.check() == []
        db.execute("ALTER TABLE docs ALTER COLUMN body SET EMBEDDING MODEL 'hash64d'")
        assert hashes(db.export_training("t")) == at_tag_time


OLD_FILE = Path(__file__).resolve().parent.parent / "fixtures" / "old_files" / "declarations_unversioned.sql"


def test_a_file_an_older_galaxlite_made_exports_its_old_tag_as_it_did(tmp_path):
    """The file (fixtures/old_files) records the content hash of tag v1's export, made by
    that galaxlite: after the upgrade at open, and declarations changed since, an export of
    v1 has that hash again."""
    path = tmp_path / "old" / "galaxlite.db"
    path.parent.mkdir()
    conn = sqlite3.connect(path)
    conn.executescript(OLD_FILE.read_text(encoding="utf-8"))
    conn.close()
    with galaxlite.Database(path.parent, embedder="hash") as db:
        (recorded,) = db.exports("v1")
        assert db.check() == []
        assert db.query("SELECT column_name, embedder, declared, valid_from, valid_to FROM "
                        "galaxlite_embedding_history ORDER BY column_name") == [
            ("body", "hash", 1, 0, None), ("note", "hash", 0, 0, None)]
        db.execute("ALTER TABLE docs ALTER COLUMN body DROP EMBEDDING")
        db.execute("ALTER TABLE docs ALTER COLUMN note SET EMBEDDING MODEL 'hash64d'")
        (again,) = db.export_training("v1")
        assert again.content_hash == recorded.content_hash
        assert db.check() == []


def test_a_dropped_history_is_an_error_at_open_not_made_again_empty(tmp_path, plain):
    with build(tmp_path / "data"):
        pass
    plain(tmp_path / "data" / "galaxlite.db").execute("DROP TABLE galaxlite_embedding_history")
    with pytest.raises(galaxlite.DatabaseError, match="catalog galaxlite_embedding_history is missing .*older tags"):
        galaxlite.Database(tmp_path / "data")
