"""Declared embedding columns: ``text TEXT EMBEDDING [MODEL 'name'] [DIM n]`` in CREATE TABLE and
ADD COLUMN, ``ALTER TABLE ... ALTER COLUMN ... SET / DROP EMBEDDING``, ``SHOW EMBEDDING HEALTH``
and ``Database.embedding_health``; the declared column in exports and SEMANTIC_MATCH."""

from __future__ import annotations

from collections.abc import Sequence

import apsw
import lance
import numpy as np
import pyarrow as pa
import pytest

import galaxlite
from galaxlite.semantic import cache as CACHE
from galaxlite.semantic import embedders as EMB


class Counting:
    """The hash embedder, recording each batch it is asked to embed."""

    def __init__(self, name: str = "counting", dim: int = 16):
        self.inner = EMB.HashEmbedder(dim=dim, name=name)
        self.name, self.dim = name, dim
        self.batches: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return self.inner.embed(texts)

    @property
    def texts(self) -> list[str]:
        return [t for b in self.batches for t in b]


@pytest.fixture
def counting() -> Counting:
    emb = Counting()
    EMB.register_embedder("counting", lambda: emb, replace=True)
    return emb


@pytest.fixture
def docs(tmp_path, counting):
    db = galaxlite.Database(tmp_path / "data", embedder="hash")
    db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, text TEXT EMBEDDING MODEL 'counting' DIM 16, label INTEGER)")
    db.executemany("INSERT INTO docs (text, label) VALUES (?, ?)",
                   [("positive example", 1), ("negative example", 0), ("another positive", 1), (None, 0)])
    yield db
    assert db.check() == []
    db.close()


def unit(emb: Counting, texts: list[str]) -> np.ndarray:
    x = emb.inner.embed(texts).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_the_stored_table_is_plain_sqlite_and_the_clause_is_in_the_catalog(docs, tmp_path):
    (sql,) = docs.query("SELECT sql FROM sqlite_master WHERE name = 'docs'")[0]
    assert "EMBEDDING" not in sql.upper() and "COUNTING" not in sql.upper()
    assert docs.query("SELECT table_name, column_name, embedder, dim, declared FROM galaxlite_embedding_columns") == [
        ("docs", "text", "counting", 16, 1)
    ]
    # any SQLite client reads and writes the table
    plain = apsw.Connection(str(tmp_path / "data" / "galaxlite.db"))
    plain.execute("INSERT INTO docs (text, label) VALUES ('from a plain client', 1)")
    assert next(plain.execute("SELECT count(*) FROM docs"))[0] == 5
    plain.close()


def test_a_declared_column_exports_as_float32_vectors_under_its_own_name(docs, counting):
    docs.create_training_snapshot("t1")
    ds = lance.dataset(docs.training_dataset("t1"))
    assert ds.schema.field("text").type == pa.list_(pa.float32(), 16)
    assert ds.schema.field("text__text").type == pa.string()
    table = ds.to_table()
    texts = table.column("text__text").to_pylist()
    assert texts == ["positive example", "negative example", "another positive", None]
    vectors = table.column("text").to_pylist()
    assert vectors[3] is None
    assert np.allclose(np.array(vectors[:3], dtype=np.float32), unit(counting, texts[:3]), atol=1e-6)
    assert sorted(counting.texts) == sorted(texts[:3])  # each text embedded once, then cached
    counting.batches.clear()
    docs.create_training_snapshot("t2", precision="sq8")
    assert counting.texts == []


def test_missing_embeddings_are_computed_in_batches_with_progress(docs, counting):
    n = CACHE.EMBED_BATCH + 50
    docs.executemany("INSERT INTO docs (text, label) VALUES (?, 0)", [(f"text {i}",) for i in range(n)])
    seen = []
    computed = docs.embed("docs", "text", progress=lambda done, total: seen.append((done, total)))
    assert computed == n + 3
    assert max(len(b) for b in counting.batches) <= CACHE.EMBED_BATCH
    assert seen[-1] == (n + 3, n + 3) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) == len(counting.batches)
    assert docs.embed("docs", "text") == 0  # cached


def test_semantic_match_uses_the_declared_model_over_the_session_default(docs, counting):
    # the database was opened with embedder="hash": the column's declared model wins
    ids = docs.query("SELECT id FROM docs WHERE SEMANTIC_MATCH(text, 'positive example', 0.99)")
    assert ids == [(1,)]
    assert "positive example" in counting.texts
    with pytest.raises(galaxlite.EmbedderMismatchError, match="declared EMBEDDING MODEL 'counting'"):
        docs.embed("docs", "text", embedder="hash")


def test_embedding_health_counts_values_and_embedded_ones(docs):
    [h] = docs.embedding_health()
    assert (h.table, h.column, h.model, h.dim, h.declared, h.values, h.embedded, h.missing) == (
        "docs", "text", "counting", 16, True, 3, 0, 3
    )
    docs.execute("INSERT INTO docs (text, label) VALUES ('positive example', 1)")  # a repeated value
    docs.query("SELECT id FROM docs WHERE SEMANTIC_MATCH(text, 'x', 0.5)")
    [h] = docs.embedding_health()
    assert (h.values, h.embedded, h.missing) == (4, 4, 0)
    result = docs.execute("SHOW EMBEDDING HEALTH")
    assert [d[0] for d in result.description] == [
        "table_name", "column_name", "model", "dim", "declared", "values", "embedded", "missing"
    ]
    assert result.fetchall() == [("docs", "text", "counting", 16, 1, 4, 4, 0)]


def test_add_column_set_and_drop_embedding(docs, counting):
    docs.execute("ALTER TABLE docs ADD COLUMN note TEXT EMBEDDING MODEL 'hash'")
    docs.execute("ALTER TABLE docs ADD COLUMN plain_note TEXT")
    docs.execute("UPDATE docs SET note = 'n' || id, plain_note = 'p' || id")
    docs.execute("ALTER TABLE docs ALTER COLUMN plain_note SET EMBEDDING MODEL 'hash' DIM 384")
    records = {(h.column, h.model, h.dim, h.declared) for h in docs.embedding_health()}
    assert records == {("text", "counting", 16, True), ("note", "hash", 384, True),
                       ("plain_note", "hash", 384, True)}
    docs.execute("ALTER TABLE docs ALTER plain_note DROP EMBEDDING")
    docs.execute("ALTER TABLE docs ALTER COLUMN text SET EMBEDDING MODEL 'hash'")  # a new model
    docs.create_training_snapshot("t")
    schema = lance.dataset(docs.training_dataset("t")).schema
    assert schema.field("note").type == pa.list_(pa.float32(), 384)
    assert schema.field("text").type == pa.list_(pa.float32(), 384)
    assert schema.field("plain_note").type == pa.string() and "plain_note__text" not in schema.names


def test_declarations_follow_renames_and_go_with_drops(docs):
    docs.execute("ALTER TABLE docs RENAME COLUMN text TO body")
    docs.execute("ALTER TABLE docs RENAME TO articles")
    assert [(h.table, h.column) for h in docs.embedding_health()] == [("articles", "body")]
    docs.execute("ALTER TABLE articles ADD COLUMN extra TEXT EMBEDDING MODEL 'hash'")
    docs.execute("ALTER TABLE articles DROP COLUMN extra")
    assert [(h.table, h.column) for h in docs.embedding_health()] == [("articles", "body")]
    docs.execute("DROP TABLE articles")
    assert docs.embedding_health() == []
    assert docs.query("SELECT count(*) FROM galaxlite_embedding_columns") == [(0,)]


def test_a_plain_table_can_declare_too(tmp_path, counting):
    with galaxlite.Database(tmp_path / "p.db", embedder="hash") as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, t TEXT EMBEDDING MODEL 'counting') WITHOUT VERSIONING")
        db.execute("INSERT INTO notes (t) VALUES ('alpha'), ('beta')")
        assert db.query("SELECT id FROM notes WHERE SEMANTIC_MATCH(t, 'alpha', 0.99)") == [(1,)]
        assert [(h.table, h.declared, h.embedded) for h in db.embedding_health()] == [("notes", True, 2)]
        db.execute("DROP TABLE notes")
        assert db.embedding_health() == []


def test_if_not_exists_and_rollback_leave_the_catalog_alone(docs):
    docs.execute("CREATE TABLE IF NOT EXISTS docs (id INTEGER PRIMARY KEY, text TEXT EMBEDDING MODEL 'hash')")
    assert [h.model for h in docs.embedding_health()] == ["counting"]
    docs.execute("BEGIN")
    docs.execute("CREATE TABLE more (id INTEGER PRIMARY KEY, t TEXT EMBEDDING MODEL 'hash')")
    docs.execute("ALTER TABLE docs ALTER COLUMN text DROP EMBEDDING")
    docs.execute("ROLLBACK")
    assert [(h.table, h.column) for h in docs.embedding_health()] == [("docs", "text")]


def test_the_implicit_rule_stays(tmp_path):
    with galaxlite.Database(tmp_path / "i.db", embedder="hash") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        db.execute("INSERT INTO t (body) VALUES ('a'), ('b')")
        db.query("SELECT id FROM t WHERE SEMANTIC_MATCH(body, 'a', 0.5)")
        [h] = db.embedding_health()
        assert (h.column, h.model, h.declared, h.embedded) == ("body", "hash", False, 2)
        db.create_training_snapshot("x")
        assert lance.dataset(db.training_dataset("x")).schema.field("body").type == pa.list_(pa.float32(), 384)


@pytest.mark.parametrize(
    ("sql", "error", "message", "near"),
    [
        ("CREATE TABLE e (id INTEGER PRIMARY KEY, n INTEGER EMBEDDING)", galaxlite.SemanticError,
         "n is INTEGER", "EMBEDDING)"),
        ("CREATE TABLE e (v VECTOR(3) EMBEDDING)", galaxlite.SemanticError, "VECTOR column", "EMBEDDING)"),
        ("CREATE TABLE e (t TEXT EMBEDDING MODEL 'nope')", galaxlite.UnknownEmbedderError,
         "unknown embedder 'nope'", "'nope')"),
        ("CREATE TABLE e (t TEXT EMBEDDING MODEL 'hash' DIM 12)", galaxlite.SemanticError,
         "DIM 12 does not match embedder 'hash', which makes 384-d", "12)"),
        ("CREATE TABLE e (t TEXT EMBEDDING MODEL hash)", galaxlite.SqlSyntaxError, "string literal", "hash)"),
        ("CREATE TABLE e (t TEXT EMBEDDING DIM 0)", galaxlite.SqlSyntaxError, "DIM needs a whole number", "0)"),
        ("CREATE TABLE e (t TEXT EMBEDDING DIM 2 DIM 2)", galaxlite.SqlSyntaxError, "DIM given twice", "DIM 2)"),
        ("CREATE TABLE e (t TEXT EMBEDDING EMBEDDING)", galaxlite.SqlSyntaxError, "EMBEDDING given twice", "EMBEDDING)"),
        ("CREATE TEMP TABLE e (t TEXT EMBEDDING)", galaxlite.NotSupportedError, "TEMP table", "EMBEDDING)"),
        ("ALTER TABLE docs ADD COLUMN c REAL EMBEDDING", galaxlite.SemanticError, "c is REAL", "EMBEDDING"),
        ("ALTER TABLE docs ALTER COLUMN label SET EMBEDDING", galaxlite.SemanticError, "label is INTEGER", "EMBEDDING"),
        ("ALTER TABLE docs ALTER COLUMN nope SET EMBEDDING", galaxlite.SemanticError, "no such column", "EMBEDDING"),
        ("ALTER TABLE docs ALTER COLUMN label DROP EMBEDDING", galaxlite.SemanticError, "no embeddings to drop",
         "label DROP"),
        ("ALTER TABLE docs ALTER COLUMN text TYPE INTEGER", galaxlite.NotSupportedError,
         "ALTER COLUMN supports SET EMBEDDING", "TYPE"),
    ],
)
def test_mistakes_are_named_where_they_are_and_change_nothing(docs, sql, error, message, near):
    before = docs.query("SELECT type, name, sql FROM sqlite_master ORDER BY name")
    catalog = docs.query("SELECT * FROM galaxlite_embedding_columns")
    with pytest.raises(error, match=message) as caught:
        docs.execute(sql)
    assert caught.value.position == sql.index(near)
    assert docs.query("SELECT type, name, sql FROM sqlite_master ORDER BY name") == before
    assert docs.query("SELECT * FROM galaxlite_embedding_columns") == catalog


def test_an_older_catalog_is_brought_up_to_date_at_open(tmp_path):
    path = tmp_path / "old.db"
    with galaxlite.Database(path, embedder="hash") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        db.execute("INSERT INTO t (body) VALUES ('a')")
        db.embed("t", "body")
    plain = apsw.Connection(str(path))  # what an older galaxlite's catalog looked like
    plain.create_scalar_function("galaxlite_catalog_writer", lambda: 1, 0)  # (past the guards)
    plain.execute("DROP TABLE galaxlite_embedding_history")  # (the history came later still)
    plain.execute("DELETE FROM galaxlite_meta WHERE key = 'embedding_history'")
    plain.execute("ALTER TABLE galaxlite_embedding_columns DROP COLUMN declared")
    plain.close()
    with galaxlite.Database(path, embedder="hash") as db:
        assert db.query("SELECT table_name, column_name, declared FROM galaxlite_embedding_columns") == [
            ("t", "body", 0)
        ]
        db.execute("ALTER TABLE t ALTER COLUMN body SET EMBEDDING")
        assert [(h.model, h.declared) for h in db.embedding_health()] == [("hash", True)]
        assert db.check() == []
