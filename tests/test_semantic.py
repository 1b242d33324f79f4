"""SEMANTIC_MATCH / SEMANTIC_SCORE and the embedding cache.

Results are compared with a brute-force reference (numpy over the embedder's own outputs);
the embedder is called once per distinct text (counted by a registered wrapper around the
hash embedder); AT VERSION, parameters, joins, writes, views and VECTOR columns all work;
mistakes are clear errors that point into the SQL. The real default model (MiniLM) is used
where semantics matter, the hash embedder where only mechanics do.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import galaxlite
from galaxlite import transpile
from galaxlite.semantic import embedders as EMB
from galaxlite.semantic.vectors import encode_vector
from galaxlite.transpile import plan as P

# ------------------------------------------------------------------------------ helpers


class Counting:
    """The hash embedder, recording every text it is asked to embed."""

    def __init__(self, name: str = "counting", dim: int = 64):
        self.inner = EMB.HashEmbedder(dim=dim, name=name)
        self.name, self.dim = name, dim
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.embed(texts)


@pytest.fixture
def counting() -> Counting:
    emb = Counting()
    EMB.register_embedder("counting", lambda: emb, replace=True)
    return emb


def open_hash(path: Path, embedder: str = "hash") -> galaxlite.Database:
    return galaxlite.Database(path, embedder=embedder)


def reference_ids(emb, rows: Sequence[tuple[int, str | None]], query: str, threshold: float) -> set[int]:
    """Ids whose text's cosine similarity to ``query`` is at least ``threshold`` (brute force)."""
    scores = reference_scores(emb, rows, query)
    return {i for i, s in scores.items() if s is not None and s >= threshold}


def reference_scores(emb, rows: Sequence[tuple[int, str | None]], query: str) -> dict[int, float | None]:
    q = emb.embed([query])[0]
    out: dict[int, float | None] = {}
    for i, text in rows:
        out[i] = None if text is None else float(emb.embed([text])[0] @ q)
    return out


WORDS = (
    "data model training vector table query learning cat dog fish tree river stone cloud "
    "rain snow bread cheese apple market price engine wheel song music"
).split()


def corpus(n: int, seed: int = 0) -> list[tuple[int, str]]:
    rng = np.random.default_rng(seed)
    return [(i, " ".join(rng.choice(WORDS, size=rng.integers(2, 7)))) for i in range(1, n + 1)]


DOCS = corpus(120)


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory) -> galaxlite.Database:
    db = open_hash(tmp_path_factory.mktemp("corpus") / "c.db")
    db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT)")
    db.executemany("INSERT INTO docs (id, body) VALUES (?, ?)", DOCS)
    yield db
    db.close()


def ids(db: galaxlite.Database, sql: str, params=None) -> set[int]:
    return {r[0] for r in db.query(sql, params)}


# ------------------------------------------------------------------------------ reference


@given(
    query=st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join),
    threshold=st.floats(min_value=-0.3, max_value=0.95),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_match_equals_brute_force_reference(corpus_db, query, threshold):
    emb = EMB.get_embedder("hash")
    scores = reference_scores(emb, DOCS, query)
    assume(all(abs(s - threshold) > 1e-5 for s in scores.values()))  # no float ties
    got = ids(corpus_db, "SELECT id FROM docs WHERE SEMANTIC_MATCH(body, ?, ?)", (query, threshold))
    assert got == {i for i, s in scores.items() if s >= threshold}


@given(query=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_score_equals_brute_force_reference(corpus_db, query):
    expected = reference_scores(EMB.get_embedder("hash"), DOCS, query)
    rows = corpus_db.query("SELECT id, SEMANTIC_SCORE(body, ?) FROM docs", (query,))
    assert len(rows) == len(DOCS)
    for i, score in rows:
        assert score == pytest.approx(expected[i], abs=1e-5)


def test_order_by_score_gives_the_reference_top_k(corpus_db):
    expected = reference_scores(EMB.get_embedder("hash"), DOCS, "river stone")
    top = corpus_db.query(
        "SELECT id, SEMANTIC_SCORE(body, 'river stone') AS s FROM docs ORDER BY s DESC, id LIMIT 5"
    )
    ranked = sorted(expected.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert [r[0] for r in top] == [i for i, _ in ranked]


@given(st.data())
@settings(max_examples=15, deadline=None)
def test_random_tables_match_reference(tmp_path_factory, data):
    rows = data.draw(
        st.lists(
            st.one_of(st.none(), st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join)),
            min_size=0,
            max_size=30,
        )
    )
    query = data.draw(st.sampled_from(WORDS))
    threshold = data.draw(st.floats(min_value=-0.2, max_value=0.9))
    numbered = list(enumerate(rows, start=1))
    emb = EMB.get_embedder("hash")
    scores = reference_scores(emb, numbered, query)
    assume(all(s is None or abs(s - threshold) > 1e-5 for s in scores.values()))
    with open_hash(tmp_path_factory.mktemp("rand") / "r.db") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        db.executemany("INSERT INTO t VALUES (?, ?)", numbered)
        got = ids(db, "SELECT id FROM t WHERE SEMANTIC_MATCH(body, ?, ?)", (query, threshold))
        nulls = db.query("SELECT id FROM t WHERE SEMANTIC_SCORE(body, ?) IS NULL", (query,))
    assert got == {i for i, s in scores.items() if s is not None and s >= threshold}
    assert {r[0] for r in nulls} == {i for i, s in scores.items() if s is None}


# ------------------------------------------------------------------------------ the seed query

ML_DOCS = [
    (1, "Neural networks learn useful representations from large datasets."),
    (2, "Preheat the oven and bake the bread for forty minutes."),
    (3, "A support vector machine is a classic supervised learning algorithm."),
    (4, "The football team won the championship final on penalties."),
    (5, "Stock markets fell sharply after the interest rate decision."),
    (6, "Training a classifier requires labelled examples."),
    (7, "Fresh basil and tomatoes make a simple summer salad."),
]
SEED_QUERY = (
    "SELECT id, body FROM docs AT VERSION 'train-v1' "
    "WHERE SEMANTIC_MATCH(body, 'machine learning', 0.4) ORDER BY id"
)


@pytest.fixture
def ml_db(tmp_path) -> galaxlite.Database:
    db = galaxlite.Database(tmp_path / "ml.db")  # the default embedder: MiniLM
    db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    db.executemany("INSERT INTO docs (id, body) VALUES (?, ?)", ML_DOCS)
    db.execute("CREATE VERSION TAG 'train-v1'")
    db.execute("UPDATE docs SET body = 'Gradient descent fits the weights of a deep network.' WHERE id = 2")
    db.execute("DELETE FROM docs WHERE id = 3")
    db.execute("UPDATE docs SET body = 'Rain is expected all weekend in the north.' WHERE id = 6")
    yield db
    db.close()


def test_seed_query_at_version_finds_machine_learning_documents(ml_db):
    rows = ml_db.query(SEED_QUERY)
    assert rows == [(i, b) for i, b in ML_DOCS if i in (1, 3, 6)]
    emb = EMB.get_embedder("minilm")
    assert {r[0] for r in rows} == reference_ids(emb, ML_DOCS, "machine learning", 0.4)


def test_current_data_and_the_past_differ(ml_db):
    now = ml_db.query(
        "SELECT id FROM docs WHERE SEMANTIC_MATCH(body, 'machine learning', 0.4) ORDER BY id"
    )
    current = ml_db.query("SELECT id, body FROM docs")
    assert {r[0] for r in now} == reference_ids(EMB.get_embedder("minilm"), current, "machine learning", 0.4)
    assert 3 not in {r[0] for r in now} and 6 not in {r[0] for r in now}
    past_only = ml_db.query(
        "SELECT past.id FROM docs AT VERSION 'train-v1' AS past LEFT JOIN docs AS now "
        "ON now.id = past.id WHERE SEMANTIC_MATCH(past.body, 'machine learning', 0.4) "
        "AND (now.id IS NULL OR NOT SEMANTIC_MATCH(now.body, 'machine learning', 0.4)) ORDER BY 1"
    )
    assert past_only == [(3,), (6,)]


PAIRS = [
    ("The invoice must be paid within thirty days", "Settle the bill before a month has passed"),
    ("My laptop screen is cracked", "The display of my notebook computer is broken"),
    ("The hikers reached the summit at noon", "At midday the climbers got to the mountain top"),
    ("She adopted a kitten from the shelter", "She took home a young cat from the animal rescue"),
    ("The bridge was closed for repairs", "Maintenance work shut the crossing over the river"),
    ("He speaks three languages fluently", "He is trilingual"),
    ("Prices at the supermarket went up again", "Groceries have become more expensive once more"),
    ("The orchestra played a symphony", "The musicians performed a classical work"),
    ("I lost my keys somewhere in the park", "My house keys went missing on the green"),
    ("The vaccine prevents the disease", "The shot protects people from getting ill"),
    ("The train was delayed by an hour", "The railway service arrived sixty minutes late"),
    ("They are building a new school", "Construction of a fresh academy is under way"),
]


def test_minilm_ranks_each_paraphrase_first_through_sql(tmp_path):
    with galaxlite.Database(tmp_path / "p.db") as db:
        db.execute("CREATE TABLE s (id INTEGER PRIMARY KEY, text TEXT)")
        db.executemany("INSERT INTO s (id, text) VALUES (?, ?)", [(i, b) for i, (_, b) in enumerate(PAIRS)])
        hits = 0
        for i, (a, _) in enumerate(PAIRS):
            (best,) = db.query(
                "SELECT id FROM s ORDER BY SEMANTIC_SCORE(text, ?) DESC LIMIT 1", (a,)
            )[0]
            hits += best == i
    assert hits / len(PAIRS) >= 0.9


# ------------------------------------------------------------------------------ parameters


def test_positional_parameters_inside_and_outside(corpus_db):
    emb = EMB.get_embedder("hash")
    expected = {i for i in reference_ids(emb, DOCS, "cat dog", 0.3) if i > 50}
    got = ids(
        corpus_db, "SELECT id FROM docs WHERE SEMANTIC_MATCH(body, ?, ?) AND id > ?", ("cat dog", 0.3, 50)
    )
    assert got == expected
    got = ids(
        corpus_db, "SELECT id FROM docs WHERE id > ? AND SEMANTIC_MATCH(body, ?, ?)", (50, "cat dog", 0.3)
    )
    assert got == expected


def test_named_parameters(corpus_db):
    emb = EMB.get_embedder("hash")
    got = ids(
        corpus_db,
        "SELECT id FROM docs WHERE SEMANTIC_MATCH(body, :q, :t) AND id <= :n",
        {"q": "music song", "t": 0.25, "n": 80},
    )
    assert got == {i for i in reference_ids(emb, DOCS, "music song", 0.25) if i <= 80}


def test_version_and_semantic_parameters_together(tmp_path):
    with open_hash(tmp_path / "v.db") as db:
        db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT)")
        db.executemany("INSERT INTO docs VALUES (?, ?)", [(1, "cat dog"), (2, "bread cheese")])
        v1 = db.create_tag("v1")
        db.execute("UPDATE docs SET body = 'cat fish' WHERE id = 2")
        sql = "SELECT id FROM docs AT VERSION ? WHERE SEMANTIC_MATCH(body, ?, ?) AND id >= ? ORDER BY id"
        assert db.query(sql, ("v1", "cat", 0.3, 1)) == [(1,)]
        assert db.query(sql, (v1, "cat", 0.3, 2)) == []
        now = "SELECT id FROM docs WHERE SEMANTIC_MATCH(body, ?, ?) ORDER BY id"
        assert db.query(now, ("cat", 0.3)) == [(1,), (2,)]


def test_missing_parameter_is_an_error(corpus_db):
    with pytest.raises(galaxlite.ProgrammingError, match="no value bound"):
        corpus_db.query("SELECT id FROM docs WHERE SEMANTIC_MATCH(body, ?, 0.3)")
    with pytest.raises(galaxlite.ProgrammingError, match=":q"):
        corpus_db.query("SELECT id FROM docs WHERE SEMANTIC_MATCH(body, :q, 0.3)", {"x": 1})


@pytest.mark.parametrize("bad", ["0.5", True, None, 1.5, -1.01, float("nan")])
def test_bad_threshold_values(corpus_db, bad):
    with pytest.raises(galaxlite.SemanticError, match="threshold") as info:
        corpus_db.query("SELECT id FROM docs WHERE SEMANTIC_MATCH(body, 'cat', ?)", (bad,))
    assert info.value.position == len("SELECT id FROM docs WHERE ")


def test_threshold_bounds_are_inclusive(corpus_db):
    assert len(ids(corpus_db, "SELECT id FROM docs WHERE SEMANTIC_MATCH(body, 'cat', -1)")) == len(DOCS)
    assert ids(corpus_db, "SELECT id FROM docs WHERE SEMANTIC_MATCH(body, 'zzz qqq', 1)") == set()


def test_query_must_be_a_string_for_a_text_column(corpus_db):
    with pytest.raises(galaxlite.SemanticError, match="must be a string"):
        corpus_db.query("SELECT id FROM docs WHERE SEMANTIC_MATCH(body, ?, 0.3)", (42,))


# ------------------------------------------------------------------------------ where calls go


@pytest.fixture
def shop(tmp_path) -> galaxlite.Database:
    db = open_hash(tmp_path / "shop.db")
    db.executescript(
        """
        CREATE TABLE labels (name TEXT PRIMARY KEY, body TEXT);
        CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT, label TEXT, n INTEGER);
        INSERT INTO labels VALUES ('pets', 'cat dog fish'), ('food', 'bread cheese apple');
        INSERT INTO docs VALUES (1, 'the cat and the dog', 'pets', 1),
                                (2, 'fresh bread with cheese', 'food', 2),
                                (3, 'a fish in the river', 'pets', 3),
                                (4, 'engine wheel price', 'food', 4);
        """
    )
    yield db
    db.close()


def test_select_list_where_and_order_by(shop):
    rows = shop.query(
        "SELECT id, SEMANTIC_MATCH(body, 'cat dog', 0.3) AS m, round(SEMANTIC_SCORE(body, 'cat dog'), 4) "
        "FROM docs WHERE SEMANTIC_SCORE(body, 'cat dog') > -2 ORDER BY SEMANTIC_SCORE(body, 'cat dog') DESC"
    )
    assert rows[0][:2] == (1, 1)
    assert [r[1] for r in rows].count(1) == 1
    scores = [r[2] for r in rows]
    assert scores == sorted(scores, reverse=True)


def test_qualified_columns_in_joins_and_ambiguity(shop):
    rows = shop.query(
        "SELECT d.id FROM docs AS d JOIN labels AS l ON l.name = d.label "
        "WHERE SEMANTIC_MATCH(l.body, 'dog', 0.2) AND NOT SEMANTIC_MATCH(d.body, 'river', 0.3) ORDER BY 1"
    )
    assert rows == [(1,)]
    assert shop.query(
        "SELECT docs.id FROM docs, labels WHERE labels.name = docs.label "
        "AND SEMANTIC_MATCH(main.docs.body, 'bread', 0.3)"
    ) == [(2,)]
    with pytest.raises(galaxlite.SemanticError, match="ambiguous column name 'body'") as info:
        shop.query("SELECT 1 FROM docs JOIN labels ON labels.name = docs.label WHERE SEMANTIC_MATCH(body, 'x', 0.1)")
    assert "docs.body" in str(info.value) or "qualify" in str(info.value)


def test_subqueries_use_the_nearest_table(shop):
    rows = shop.query(
        "SELECT name FROM labels WHERE name IN "
        "(SELECT label FROM docs WHERE SEMANTIC_MATCH(body, 'river fish', 0.3)) ORDER BY 1"
    )
    assert rows == [("pets",)]
    rows = shop.query(
        "SELECT id FROM docs WHERE EXISTS (SELECT 1 FROM labels WHERE labels.name = docs.label "
        "AND SEMANTIC_MATCH(labels.body, 'apple', 0.2)) ORDER BY id"
    )
    assert rows == [(2,), (4,)]
    rows = shop.query(
        "SELECT id FROM docs WHERE SEMANTIC_MATCH(body, 'cat', 0.2) "
        "UNION SELECT id + 100 FROM docs WHERE SEMANTIC_MATCH(body, 'cheese', 0.2) ORDER BY 1"
    )
    assert rows == [(1,), (102,)]


def test_writes_with_semantic_conditions(shop):
    shop.execute("UPDATE docs SET n = 0 WHERE SEMANTIC_MATCH(body, 'cat dog', 0.3)")
    assert shop.query("SELECT id FROM docs WHERE n = 0") == [(1,)]
    shop.execute("CREATE TABLE hits (id INTEGER)")
    shop.execute("INSERT INTO hits SELECT id FROM docs WHERE SEMANTIC_MATCH(body, ?, 0.3)", ("bread cheese",))
    assert shop.query("SELECT id FROM hits") == [(2,)]
    shop.execute("CREATE TABLE scored AS SELECT id, SEMANTIC_SCORE(body, 'fish') AS s FROM docs")
    assert len(shop.query("SELECT * FROM scored WHERE s IS NOT NULL")) == 4
    shop.execute("CREATE TEMP TABLE t_hits AS SELECT id FROM docs WHERE SEMANTIC_MATCH(body, 'fish', 0.3)")
    assert shop.query("SELECT id FROM t_hits") == [(3,)]
    shop.execute("DELETE FROM docs WHERE SEMANTIC_MATCH(body, 'engine', 0.3)")
    assert shop.query("SELECT id FROM docs ORDER BY id") == [(1,), (2,), (3,)]


def test_views_are_sources_but_cannot_store_calls(shop):
    shop.execute("CREATE VIEW pets AS SELECT id, body FROM docs WHERE label = 'pets'")
    assert shop.query("SELECT id FROM pets WHERE SEMANTIC_MATCH(body, 'river', 0.3)") == [(3,)]
    with pytest.raises(galaxlite.NotSupportedError, match="cannot be stored|not stored"):
        shop.execute("CREATE VIEW v AS SELECT id FROM docs WHERE SEMANTIC_MATCH(body, 'x', 0.3)")
    with pytest.raises(galaxlite.NotSupportedError):
        shop.execute(
            "CREATE TRIGGER tr AFTER INSERT ON docs BEGIN "
            "UPDATE docs SET n = 1 WHERE SEMANTIC_MATCH(body, 'x', 0.3); END"
        )


def test_executemany_refuses_clearly(shop):
    with pytest.raises(galaxlite.NotSupportedError, match="executemany"):
        shop.executemany("UPDATE docs SET n = ? WHERE SEMANTIC_MATCH(body, 'cat', 0.3)", [(1,), (2,)])
    assert shop.query("SELECT n FROM docs ORDER BY id") == [(1,), (2,), (3,), (4,)]


def test_dbapi_cursor(tmp_path):
    path = tmp_path / "d.db"
    with open_hash(path) as db:
        db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT)")
        db.executemany("INSERT INTO docs VALUES (?, ?)", [(1, "cat dog"), (2, "bread")])
    con = galaxlite.connect(str(path))
    try:
        cur = con.execute("SELECT id, SEMANTIC_SCORE(body, ?) AS s FROM docs ORDER BY s DESC", ("dog",))
        assert cur.fetchall()[0][0] == 1
        assert [d[0] for d in cur.description] == ["id", "s"]
    finally:
        con.close()


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "sql, cls, message",
    [
        ("SELECT SEMANTIC_MATCH(id, 'x', 0.3) FROM docs", galaxlite.SemanticError, "INTEGER"),
        ("SELECT SEMANTIC_MATCH(n, 'x', 0.3) FROM docs", galaxlite.SemanticError, "INTEGER"),
        ("SELECT SEMANTIC_MATCH(nope, 'x', 0.3) FROM docs", galaxlite.SemanticError, "no such column"),
        ("SELECT SEMANTIC_MATCH(z.body, 'x', 0.3) FROM docs", galaxlite.SemanticError, "no such column"),
        ("SELECT SEMANTIC_MATCH(body, 'x', 2) FROM docs", galaxlite.SemanticError, "from -1 to 1"),
        ("SELECT SEMANTIC_MATCH(body, 'x') FROM docs", galaxlite.SqlSyntaxError, "3 arguments"),
        ("SELECT SEMANTIC_SCORE(body, 'x', 0.3) FROM docs", galaxlite.SqlSyntaxError, "2 arguments"),
        ("SELECT SEMANTIC_MATCH(body, label, 0.3) FROM docs", galaxlite.SqlSyntaxError, "string literal"),
        ("SELECT SEMANTIC_MATCH(upper(body), 'x', 0.3) FROM docs", galaxlite.SqlSyntaxError, "column name"),
        ("SELECT SEMANTIC_MATCH(body, 'x', 0.1 + 0.2) FROM docs", galaxlite.SqlSyntaxError, "3 arguments"),
        ("SELECT SEMANTIC_MATCH(body, ?1, 0.3) FROM docs", galaxlite.NotSupportedError, "numbered"),
        (
            "SELECT SEMANTIC_MATCH(s.body, 'x', 0.3) FROM (SELECT body FROM docs) AS s",
            galaxlite.SemanticError,
            "subquery",
        ),
        (
            "WITH c AS (SELECT body FROM docs) SELECT SEMANTIC_MATCH(body, 'x', 0.3) FROM c",
            galaxlite.SemanticError,
            "WITH clause",
        ),
        ("SELECT SEMANTIC_MATCH(body, 'x', 0.3) FROM docs AT VERSION 'nope'", galaxlite.UnknownTagError, "nope"),
    ],
)
def test_errors_are_clear_and_point_into_the_sql(shop, sql, cls, message):
    with pytest.raises(cls, match=message) as info:
        shop.query(sql)
    assert info.value.position is not None
    assert "line 1, column" in str(info.value)


def test_column_missing_at_that_version(shop):
    shop.create_tag("before")
    shop.execute("ALTER TABLE docs ADD COLUMN note TEXT")
    with pytest.raises(galaxlite.SemanticError, match="no such column"):
        shop.query("SELECT 1 FROM docs AT VERSION 'before' WHERE SEMANTIC_MATCH(note, 'x', 0.3)")
    assert shop.query("SELECT count(*) FROM docs WHERE SEMANTIC_MATCH(note, 'x', -1)") == [(0,)]


def test_unknown_and_unavailable_embedders(tmp_path, shop):
    with pytest.raises(galaxlite.UnknownEmbedderError, match="no-such-model"):
        galaxlite.Database(tmp_path / "x.db", embedder="no-such-model")

    def broken() -> EMB.Embedder:
        raise EMB.EmbedderNotAvailableError("embedder 'broken' needs package foo: pip install foo")

    EMB.register_embedder("broken", broken, replace=True)
    with galaxlite.Database(shop.filename, embedder="broken") as other:
        other.execute("CREATE TABLE fresh (body TEXT)")
        with pytest.raises(galaxlite.EmbedderNotAvailableError, match="pip install foo") as info:
            other.query("SELECT 1 FROM fresh WHERE SEMANTIC_MATCH(body, 'x', 0.3)")
        assert info.value.position == len("SELECT 1 FROM fresh WHERE ")


# ------------------------------------------------------------------------------ the cache


def test_each_distinct_text_is_embedded_once(tmp_path, counting):
    path = tmp_path / "c.db"
    with open_hash(path, "counting") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        db.executemany("INSERT INTO t (body) VALUES (?)", [("a b",), ("c d",), ("a b",), (None,), ("e",)])
        db.query("SELECT id FROM t WHERE SEMANTIC_MATCH(body, 'a', 0.5)")
        assert sorted(counting.texts) == ["a", "a b", "c d", "e"]
        counting.texts.clear()
        db.query("SELECT id FROM t WHERE SEMANTIC_MATCH(body, 'a', 0.2)")
        db.query("SELECT SEMANTIC_SCORE(body, 'a') FROM t")
        assert counting.texts == []  # same texts, same query: nothing new
        db.query("SELECT id FROM t WHERE SEMANTIC_MATCH(body, 'c', 0.5)")
        assert counting.texts == ["c"]  # only the new query text
        counting.texts.clear()
        db.create_tag("v1")
        db.execute("UPDATE t SET body = 'f g' WHERE id = 2")
        db.query("SELECT id FROM t WHERE SEMANTIC_MATCH(body, 'a', 0.5)")
        assert counting.texts == ["f g"]
        counting.texts.clear()
        db.query("SELECT id FROM t AT VERSION 'v1' WHERE SEMANTIC_MATCH(body, 'a', 0.5)")
        assert counting.texts == []  # 'c d' is still in the file's cache
        rows = db.query("SELECT count(*), count(DISTINCT embedder) FROM galaxlite_embeddings")
        assert rows == [(6, 1)]
    counting.texts.clear()
    with open_hash(path, "counting") as again:  # a new connection: nothing in memory
        again.query("SELECT id FROM t AT VERSION 'v1' WHERE SEMANTIC_MATCH(body, 'a', 0.5)")
        again.query("SELECT id FROM t WHERE SEMANTIC_MATCH(body, 'c', 0.5)")
    assert counting.texts == []


def test_embed_precomputes_current_and_history(tmp_path, counting):
    with open_hash(tmp_path / "e.db", "counting") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        db.executemany("INSERT INTO t (body) VALUES (?)", [("one",), ("two",), ("two",)])
        db.create_tag("v1")
        db.execute("UPDATE t SET body = 'three' WHERE id = 1")
        assert db.embed("t", "body") == 3  # one, two, three
        assert db.embed("t", "body") == 0
        assert sorted(counting.texts) == ["one", "three", "two"]
        counting.texts.clear()
        db.query("SELECT id FROM t AT VERSION 'v1' WHERE SEMANTIC_MATCH(body, 'one', 0.5)")
        db.query("SELECT id FROM t WHERE SEMANTIC_MATCH(body, 'one', 0.5)")
        assert counting.texts == []
        with pytest.raises(galaxlite.SemanticError, match="no such column"):
            db.embed("t", "nope")
        with pytest.raises(galaxlite.SemanticError, match="no such table"):
            db.embed("nope", "body")


def test_cache_survives_a_write_lock_held_elsewhere(tmp_path, open_db, counting):
    path = tmp_path / "busy.db"
    with open_hash(path, "counting") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        db.executemany("INSERT INTO t (body) VALUES (?)", [("x y",), ("z",)])
    writer = galaxlite.Database(path)
    reader = galaxlite.Database(path, embedder="counting", timeout=0.05)
    try:
        writer.execute("BEGIN IMMEDIATE")
        assert reader.query("SELECT id FROM t WHERE SEMANTIC_MATCH(body, 'x y', 0.9)") == [(1,)]
        writer.execute("ROLLBACK")
    finally:
        reader.close()
        writer.close()


def test_other_connections_writes_are_seen(tmp_path, counting):
    path = tmp_path / "o.db"
    with open_hash(path) as a, open_hash(path) as b:
        a.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        a.execute("INSERT INTO t VALUES (1, 'cat')")
        assert a.query("SELECT id FROM t WHERE SEMANTIC_MATCH(body, 'cat', 0.9)") == [(1,)]
        b.execute("INSERT INTO t VALUES (2, 'cat')")
        b.execute("UPDATE t SET body = 'dog' WHERE id = 1")
        assert a.query("SELECT id FROM t WHERE SEMANTIC_MATCH(body, 'cat', 0.9)") == [(2,)]


def test_rolled_back_changes_are_not_remembered(tmp_path):
    with open_hash(tmp_path / "r.db") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        db.execute("INSERT INTO t VALUES (1, 'cat'), (2, 'dog')")
        match = "SELECT id FROM t WHERE SEMANTIC_MATCH(body, 'cat', 0.9) ORDER BY id"
        assert db.query(match) == [(1,)]
        db.execute("BEGIN")
        db.execute("UPDATE t SET body = 'cat' WHERE id = 2")
        assert db.query(match) == [(1,), (2,)]
        db.execute("ROLLBACK")
        assert db.query(match) == [(1,)]
        with db.transaction():
            db.execute("SAVEPOINT s")
            db.execute("UPDATE t SET body = 'dog' WHERE id = 1")
            assert db.query(match) == []
            db.execute("ROLLBACK TO s")
            assert db.query(match) == [(1,)]


def test_temp_tables_do_not_pile_up(tmp_path):
    with open_hash(tmp_path / "t.db") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        db.execute("INSERT INTO t VALUES (1, 'cat'), (2, 'dog')")
        for k in range(120):
            db.query("SELECT id FROM t WHERE SEMANTIC_MATCH(body, ?, 0.5)", (f"cat {k}",))
            with db.transaction():
                db.query("SELECT SEMANTIC_SCORE(body, ?) FROM t", (f"dog {k}",))
        (n,) = db.query("SELECT count(*) FROM sqlite_temp_master WHERE name LIKE '\\_gl\\_sem\\_%' ESCAPE '\\'")[0]
        assert n <= 32 + 8 + 2


def test_bookkeeping_leaves_lastrowid_and_changes_alone(tmp_path):
    with open_hash(tmp_path / "l.db") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        result = db.execute("INSERT INTO t (id, body) VALUES (41, 'cat'), (42, 'dog')")
        assert result.lastrowid == 42
        db.query("SELECT id FROM t WHERE SEMANTIC_MATCH(body, 'new words here', 0.5)")
        assert db.query("SELECT last_insert_rowid(), changes()") == [(42, 2)]


# ------------------------------------------------------------------------------ embedder identity


def test_a_column_keeps_its_embedder(tmp_path, counting):
    path = tmp_path / "id.db"
    with open_hash(path, "hash") as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        db.execute("INSERT INTO t VALUES (1, 'cat dog')")
        db.query("SELECT id FROM t WHERE SEMANTIC_MATCH(body, 'cat', 0.3)")
        assert db.query("SELECT table_name, column_name, embedder, dim FROM galaxlite_embedding_columns") == [
            ("t", "body", "hash", 384)
        ]
    with galaxlite.Database(path) as default:  # no explicit embedder: the recorded one
        assert default.query("SELECT id FROM t WHERE SEMANTIC_MATCH(body, 'cat', 0.3)") == [(1,)]
    with open_hash(path, "counting") as other:
        with pytest.raises(galaxlite.EmbedderMismatchError, match="'hash'") as info:
            other.query("SELECT id FROM t WHERE SEMANTIC_MATCH(body, 'cat', 0.3)")
        assert "db.embed('t', 'body', embedder='counting')" in str(info.value)
        assert counting.texts == []  # nothing was embedded with the wrong model
        assert other.embed("t", "body", embedder="counting") == 1  # re-embeds and switches
        assert other.query("SELECT id FROM t WHERE SEMANTIC_MATCH(body, 'cat', 0.3)") == [(1,)]
        assert other.query("SELECT embedder, dim FROM galaxlite_embedding_columns") == [("counting", 64)]
    with open_hash(path, "hash") as back:
        with pytest.raises(galaxlite.EmbedderMismatchError):
            back.query("SELECT id FROM t WHERE SEMANTIC_MATCH(body, 'cat', 0.3)")


# ------------------------------------------------------------------------------ VECTOR columns


@pytest.fixture
def vec_db(tmp_path) -> galaxlite.Database:
    EMB.register_embedder("hash8", lambda: EMB.HashEmbedder(dim=8, name="hash8"), replace=True)
    db = galaxlite.Database(tmp_path / "vec.db", embedder="hash8")
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, emb VECTOR(8), body TEXT)")
    rng = np.random.default_rng(3)
    vecs = rng.standard_normal((40, 8)).astype(np.float32)
    vecs[5] = 0  # a zero vector scores 0
    db.executemany("INSERT INTO items (id, emb) VALUES (?, ?)", [(i, v) for i, v in enumerate(vecs)])
    db.execute("INSERT INTO items (id, emb) VALUES (100, NULL)")
    db.vecs = vecs
    yield db
    db.close()


def cosine(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1)
    norms[norms == 0] = 1
    return (x @ q) / norms / np.linalg.norm(q)


@pytest.mark.parametrize("form", ["list", "blob", "text"])
def test_vector_columns_with_vector_queries(vec_db, form):
    q = np.arange(1, 9, dtype=np.float32)
    arg = {"list": q.tolist(), "blob": encode_vector(q), "text": "[" + ", ".join(map(str, q.tolist())) + "]"}[form]
    expected = cosine(vec_db.vecs, q)
    rows = dict(vec_db.query("SELECT id, SEMANTIC_SCORE(emb, ?) FROM items", (arg,)))
    assert rows[100] is None and rows[5] == 0
    for i in range(40):
        assert rows[i] == pytest.approx(float(expected[i]), abs=1e-5)
    got = ids(vec_db, "SELECT id FROM items WHERE SEMANTIC_MATCH(emb, ?, 0.2)", (arg,))
    assert got == {i for i in range(40) if expected[i] >= 0.2}


def test_vector_columns_with_text_queries_use_the_embedder(vec_db):
    q = EMB.get_embedder("hash8").embed(["cat dog"])[0]
    expected = cosine(vec_db.vecs, q)
    got = ids(vec_db, "SELECT id FROM items WHERE SEMANTIC_MATCH(emb, 'cat dog', 0.1)")
    assert got == {i for i in range(40) if expected[i] >= 0.1}


def test_vector_query_errors(vec_db):
    with pytest.raises(galaxlite.VectorDimensionError, match="3 components"):
        vec_db.query("SELECT id FROM items WHERE SEMANTIC_MATCH(emb, ?, 0.2)", ([1, 2, 3],))
    with pytest.raises(galaxlite.SemanticError, match="all zeros"):
        vec_db.query("SELECT id FROM items WHERE SEMANTIC_MATCH(emb, ?, 0.2)", ([0] * 8,))
    with pytest.raises(galaxlite.SemanticError, match="VECTOR"):
        vec_db.embed("items", "emb")


def test_vector_column_needs_an_embedder_of_its_dimension(tmp_path):
    with open_hash(tmp_path / "d.db") as db:  # hash: 384-d
        db.execute("CREATE TABLE items (emb VECTOR(8))")
        db.execute("INSERT INTO items VALUES (?)", ([1] * 8,))
        with pytest.raises(galaxlite.SemanticError, match="384-d"):
            db.query("SELECT 1 FROM items WHERE SEMANTIC_MATCH(emb, 'cat', 0.2)")
        assert db.query("SELECT count(*) FROM items WHERE SEMANTIC_MATCH(emb, ?, 0.99)", ([1] * 8,)) == [(1,)]


def test_vector_columns_at_version(vec_db):
    vec_db.create_tag("v1")
    vec_db.execute("UPDATE items SET emb = ? WHERE id = 1", ([1, 0, 0, 0, 0, 0, 0, 0],))
    q = [1, 0, 0, 0, 0, 0, 0, 0]
    assert 1 in ids(vec_db, "SELECT id FROM items WHERE SEMANTIC_MATCH(emb, ?, 0.999)", (q,))
    past = ids(vec_db, "SELECT id FROM items AT VERSION 'v1' WHERE SEMANTIC_MATCH(emb, ?, 0.999)", (q,))
    assert 1 not in past


# ------------------------------------------------------------------------------ front end


def test_front_end_records_calls_scopes_and_holes():
    plan = transpile.parse_statement(
        "SELECT a.id FROM docs AS a JOIN docs AT VERSION 'v1' AS b ON b.id = a.id "
        "WHERE SEMANTIC_MATCH(b.body, ?, :t) AND a.id IN "
        "(SELECT id FROM labels WHERE SEMANTIC_SCORE(note, 'x') > 0) AND a.id > ?"
    )
    match, score = plan.semantic
    assert (match.function, match.qualifier, match.column, match.hole) == ("SEMANTIC_MATCH", ("b",), "body", 1)
    assert match.query == P.SemanticArg(param=0) and match.threshold == P.SemanticArg(param="t")
    assert [i.exposed for i in match.scopes[0]] == ["a", "b"] and match.scopes[0][1].ref == 0
    assert [i.name for i in score.scopes[0]] == ["labels"] and len(score.scopes) == 2
    assert score.hole == 2 and score.threshold is None
    assert plan.consumed_params == () and {p for c in plan.semantic for p in c.params} == {0}
    rendered = plan.template.render(["(SUB)", "<M>", "<S>"])
    assert "SEMANTIC" not in rendered and "<M>" in rendered and "<S>" in rendered and "(SUB)" in rendered


def test_front_end_leaves_other_sql_alone():
    for sql in (
        "SELECT semantic_match FROM t",
        "SELECT t.semantic_match(1) FROM t",
        "SELECT 'SEMANTIC_MATCH(body, 1, 2)' FROM t",
        "CREATE TABLE v (vector TEXT, n INTEGER)",
    ):
        plan = transpile.parse_statement(sql)
        assert plan.semantic == () and plan.sql == sql


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE VIEW v AS SELECT SEMANTIC_SCORE(body, 'x') FROM t",
        "CREATE INDEX i ON t (SEMANTIC_SCORE(body, 'x'))",
        "CREATE TABLE z (a TEXT DEFAULT (SEMANTIC_SCORE(a, 'x')))",
    ],
)
def test_front_end_refuses_stored_calls(sql):
    with pytest.raises(transpile.UnsupportedSyntax, match="evaluated when a query runs"):
        transpile.parse_statement(sql)


def test_many_calls_in_one_statement(corpus_db):
    queries = ["cat", "dog", "bread", "music"]
    clauses = " OR ".join(f"SEMANTIC_MATCH(body, '{q}', 0.3)" for q in queries)
    emb = EMB.get_embedder("hash")
    expected = set(itertools.chain.from_iterable(reference_ids(emb, DOCS, q, 0.3) for q in queries))
    assert ids(corpus_db, f"SELECT id FROM docs WHERE {clauses}") == expected


def test_tables_without_rowid_or_with_a_column_named_rowid(tmp_path):
    emb = EMB.get_embedder("hash")
    rows = [(1, "cat dog"), (2, "bread"), (3, "dog fish"), (4, "cat dog")]
    with open_hash(tmp_path / "w.db") as db:
        db.execute("CREATE TABLE wr (id INTEGER PRIMARY KEY, body TEXT) WITHOUT ROWID")
        db.execute("CREATE TABLE shadow (rowid TEXT, _rowid_ TEXT, id INTEGER, body TEXT)")
        db.execute(  # (WITHOUT VERSIONING: see the engine bug below)
            "CREATE TABLE full (rowid TEXT, _rowid_ TEXT, oid TEXT, id INTEGER, body TEXT) "
            "WITHOUT VERSIONING"
        )
        db.executemany("INSERT INTO wr VALUES (?, ?)", rows)
        db.executemany("INSERT INTO shadow VALUES ('x', 'y', ?, ?)", rows)
        db.executemany("INSERT INTO full VALUES ('x', 'y', 'z', ?, ?)", rows)
        expected = reference_ids(emb, rows, "dog", 0.3)
        scores = reference_scores(emb, rows, "dog")
        for table in ("wr", "shadow", "full"):
            assert ids(db, f"SELECT id FROM {table} WHERE SEMANTIC_MATCH(body, 'dog', 0.3)") == expected
            got = dict(db.query(f"SELECT id, SEMANTIC_SCORE(body, 'dog') FROM {table}"))
            assert got == pytest.approx(scores, abs=1e-5)


def test_same_table_twice_with_aliases(corpus_db):
    emb = EMB.get_embedder("hash")
    a = reference_ids(emb, DOCS, "cat", 0.3)
    b = reference_ids(emb, DOCS, "bread", 0.3)
    got = corpus_db.query(
        "SELECT x.id, y.id FROM docs AS x JOIN docs AS y ON y.id = x.id + 1 "
        "WHERE SEMANTIC_MATCH(x.body, 'cat', 0.3) AND SEMANTIC_MATCH(y.body, 'bread', 0.3)"
    )
    assert set(got) == {(i, i + 1) for i in a if i + 1 in b}


def test_table_shadowing_every_rowid_name_is_refused_clearly(tmp_path):
    with galaxlite.Database(tmp_path / "s.db") as db:
        with pytest.raises(galaxlite.NotSupportedError, match="INTEGER PRIMARY KEY"):
            db.execute("CREATE TABLE full (rowid TEXT, _rowid_ TEXT, oid TEXT, body TEXT)")
        assert not db.query("SELECT name FROM sqlite_master WHERE name = 'full'")
        db.execute("CREATE TABLE full (rowid TEXT, _rowid_ TEXT, oid TEXT, body TEXT) WITHOUT VERSIONING")
        db.execute("INSERT INTO full VALUES ('x', 'y', 'z', 'cat')")
        assert db.query("SELECT body FROM full") == [("cat",)]
