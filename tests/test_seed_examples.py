"""The examples of the version-tags seed (seeds/000_*.txt), run as written.

The seed's "Training pipeline" runs as written, ``FOR TRAINING`` export included (its
details are tested in test_training_export.py); the Python workflow reads the export with
galaxlite's reader, since pylance has no ``LanceDataset.to_pytorch()``.
``SEMANTIC_MATCH`` (the last AT VERSION example) belongs to a later issue too.
"""

from __future__ import annotations

from pathlib import Path

import lance
import numpy as np
import pytest

import galaxlite

CREATE_TRAINING_DATA = (
    "CREATE TABLE training_data (id INTEGER PRIMARY KEY, text TEXT, label INTEGER)"
)

SEED_BULK_INSERT = """-- Insert training data
BULK INSERT INTO training_data (id, text, label) VALUES
(1, 'positive example', 1),
(2, 'negative example', 0),
(3, 'another positive', 1);"""

SEED_TRAINING_TAG = """-- Create training snapshot
CREATE VERSION TAG 'train-2024-01'
FOR TRAINING
WITH TRAINING PRECISION 'float32'
TRAINING SEED 12345;"""

PLAIN_TAG = "CREATE VERSION TAG 'train-2024-01';"

SEED_INSERT = """-- Add more data later
INSERT INTO training_data (id, text, label) VALUES (4, 'new data', 1);"""

SEED_COUNT_AT_TAG = "SELECT COUNT(*) FROM training_data AT VERSION 'train-2024-01'; -- 3"
SEED_COUNT_NOW = "SELECT COUNT(*) FROM training_data; -- 4"

SEED_TRAINING_TAG_FORMS = (
    "CREATE VERSION TAG 'train-v1' FOR TRAINING;",
    "CREATE VERSION TAG 'train-v1-sq8'\nFOR TRAINING\nWITH TRAINING PRECISION 'sq8';",
    "CREATE VERSION TAG 'experiment-42'\nFOR TRAINING\nWITH TRAINING PRECISION 'float32'\n"
    "TRAINING SEED 42;",
)

ROWS = [(1, "positive example", 1), (2, "negative example", 0), (3, "another positive", 1)]


def _state(db: galaxlite.Database) -> tuple:
    """Everything a failed statement must leave as it was."""
    return (
        db.query("SELECT * FROM training_data ORDER BY id"),
        db.tags(),
        db.query("SELECT count(*) FROM galaxlite_tags"),
        db.version,
    )


def test_training_pipeline_counts_three_then_four(db: galaxlite.Database) -> None:
    """BULK INSERT 3 rows, tag, INSERT a 4th: 3 rows at the tag, 4 now."""
    db.execute(CREATE_TRAINING_DATA)
    result = db.execute(SEED_BULK_INSERT)
    assert result.rowcount == 3
    (version,) = db.execute(PLAIN_TAG).fetchone()
    assert version == db.tag_version("train-2024-01")
    db.execute(SEED_INSERT)
    assert db.execute(SEED_COUNT_AT_TAG).fetchall() == [(3,)]
    assert db.execute(SEED_COUNT_NOW).fetchall() == [(4,)]
    assert db.query("SELECT * FROM training_data AT VERSION 'train-2024-01' ORDER BY id") == ROWS
    assert db.query("SELECT * FROM training_data ORDER BY id") == [*ROWS, (4, "new data", 1)]


def test_training_pipeline_as_one_script(db: galaxlite.Database) -> None:
    """The same pipeline through executescript, comments and all."""
    db.executescript(
        "\n".join((CREATE_TRAINING_DATA + ";", SEED_BULK_INSERT, PLAIN_TAG, SEED_INSERT))
    )
    assert db.execute(SEED_COUNT_AT_TAG).fetchone() == (3,)
    assert db.execute(SEED_COUNT_NOW).fetchone() == (4,)


def test_seed_training_pipeline_exports_the_three_rows(db: galaxlite.Database) -> None:
    """The seed's statements one by one, its exact FOR TRAINING statement included: the
    export holds the 3 rows of the tag, shuffled by TRAINING SEED 12345; the 4th row,
    inserted later, is in neither the tag nor the export."""
    db.execute(CREATE_TRAINING_DATA)
    db.execute(SEED_BULK_INSERT)
    (version,) = db.execute(SEED_TRAINING_TAG).fetchone()
    db.execute(SEED_INSERT)
    assert db.execute(SEED_COUNT_AT_TAG).fetchall() == [(3,)]
    assert db.execute(SEED_COUNT_NOW).fetchall() == [(4,)]
    tag = db.tags()[0]
    assert (tag.name, tag.version, tag.for_training, tag.precision, tag.seed) == (
        "train-2024-01", version, True, "float32", 12345
    )
    data = lance.dataset(db.training_dataset("train-2024-01")).to_table().to_pylist()
    order = np.random.default_rng([12345, 2]).permutation(3)
    assert [tuple(r.values()) for r in data] == [ROWS[i] for i in order]


def test_seed_for_training_in_a_script_rolls_the_script_back(db: galaxlite.Database) -> None:
    """The whole seed pipeline as one script: executescript runs it as one transaction, in
    which FOR TRAINING refuses to run (its files could not be rolled back); nothing stays."""
    db.execute(CREATE_TRAINING_DATA)
    before = _state(db)
    with pytest.raises(galaxlite.NotSupportedError, match="inside a transaction"):
        db.executescript("\n".join((SEED_BULK_INSERT, SEED_TRAINING_TAG, SEED_INSERT)))
    assert _state(db) == before


@pytest.mark.parametrize("sql", SEED_TRAINING_TAG_FORMS)
def test_seed_for_training_forms_export(db: galaxlite.Database, sql: str) -> None:
    """Every FOR TRAINING form of the seed makes a tag with its precision and seed, and an
    export of the table."""
    db.execute(CREATE_TRAINING_DATA)
    db.execute(SEED_BULK_INSERT)
    db.execute(sql)
    (tag,) = db.tags()
    expected = {"train-v1": ("float32", None), "train-v1-sq8": ("sq8", None), "experiment-42": ("float32", 42)}
    assert (tag.for_training, tag.precision, tag.seed) == (True, *expected[tag.name])
    (record,) = db.exports(tag.name)
    assert (record.table, record.rows, record.precision, record.seed) == (
        "training_data", 3, *expected[tag.name]
    )


def test_seed_python_training_workflow(tmp_path: Path) -> None:
    """``Database("./data")`` (a directory), ``create_training_snapshot('train-v1', seed=42)``,
    ``training_dataset('train-v1')``, then batches whose ``'text'`` is float32 vectors (the
    text column is embedded first; the hash embedder stands in for the default one)."""
    with galaxlite.Database(tmp_path / "data", embedder="hash") as db:
        db.execute(CREATE_TRAINING_DATA)
        db.execute(SEED_BULK_INSERT)
        db.embed("training_data", "text")
        ts = db.create_training_snapshot("train-v1", seed=42)
        assert ts == db.tag_version("train-v1")
        path = db.training_dataset("train-v1")
    assert Path(path).parent.parent == tmp_path / "data" / "exports"
    assert lance.dataset(path).count_rows() == 3
    (batch,) = galaxlite.training_batches(path, batch_size=32)
    assert batch["text"].dtype == np.float32 and batch["text"].shape == (3, 384)
    order = np.random.default_rng([42, 2]).permutation(3)
    assert batch["label"].tolist() == [ROWS[i][2] for i in order]
    assert batch["text__text"].tolist() == [ROWS[i][1] for i in order]


def test_seed_simple_snapshot_survives_reopening(tmp_path: Path) -> None:
    """``CREATE VERSION TAG 'before-migration'`` in a directory database, read after reopening."""
    with galaxlite.Database(tmp_path / "data") as db:
        db.execute(CREATE_TRAINING_DATA)
        db.execute(SEED_BULK_INSERT)
        (version,) = db.execute("CREATE VERSION TAG 'before-migration';").fetchone()
        db.execute("DELETE FROM training_data WHERE label = 0")
    with galaxlite.Database(tmp_path / "data") as db:
        assert [(t.name, t.version) for t in db.tags()] == [("before-migration", version)]
        assert db.query(
            "SELECT id FROM training_data AT VERSION 'before-migration' ORDER BY id"
        ) == [(1,), (2,), (3,)]
        assert db.query("SELECT id FROM training_data ORDER BY id") == [(1,), (3,)]


@pytest.fixture
def docs(db: galaxlite.Database) -> galaxlite.Database:
    """The seed's ``docs`` table, tagged 'train-v1', then changed."""
    db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT)")
    db.execute(
        "INSERT INTO docs (body) VALUES ('machine learning basics'), ('cooking pasta'), "
        "('deep learning for machines')"
    )
    db.execute("CREATE VERSION TAG 'train-v1'")
    db.execute("UPDATE docs SET body = 'gardening' WHERE id = 1")
    db.execute("INSERT INTO docs (body) VALUES ('machine translation')")
    return db


THEN = [(1, "machine learning basics"), (2, "cooking pasta"), (3, "deep learning for machines")]


def test_seed_at_version_by_tag(docs: galaxlite.Database) -> None:
    """``SELECT * FROM docs AT VERSION 'train-v1';``"""
    assert sorted(docs.query("SELECT * FROM docs AT VERSION 'train-v1';")) == THEN


def test_seed_at_version_by_timestamp(docs: galaxlite.Database) -> None:
    """``SELECT * FROM docs AT VERSION <µs>;`` with the tag's own timestamp as the literal."""
    version = docs.tag_version("train-v1")
    assert sorted(docs.query(f"SELECT * FROM docs AT VERSION {version};")) == THEN


def test_seed_timestamp_literal_predates_the_table(docs: galaxlite.Database) -> None:
    """The seed's literal 1715385600000000 (May 2024) is before this table existed."""
    with pytest.raises(galaxlite.TableNotAtVersionError):
        docs.execute("SELECT * FROM docs AT VERSION 1715385600000000;")


def test_seed_at_version_combined_with_where(docs: galaxlite.Database) -> None:
    """``SELECT id, body FROM docs AT VERSION 'train-v1' WHERE ...`` (a plain predicate in
    place of SEMANTIC_MATCH, which is a later issue)."""
    result = docs.execute(
        "SELECT id, body\nFROM docs AT VERSION 'train-v1'\nWHERE body LIKE '%learning%' ORDER BY id"
    )
    assert result.fetchall() == [(1, "machine learning basics"), (3, "deep learning for machines")]
    assert result.columns == ["id", "body"]


def test_seed_at_version_is_read_only(docs: galaxlite.Database) -> None:
    """The seed's note: INSERT/UPDATE/DELETE against a historical snapshot are refused."""
    before = docs.query("SELECT * FROM docs ORDER BY id")
    for sql in (
        "INSERT INTO docs AT VERSION 'train-v1' (body) VALUES ('x')",
        "UPDATE docs AT VERSION 'train-v1' SET body = 'x'",
        "DELETE FROM docs AT VERSION 'train-v1'",
    ):
        with pytest.raises(galaxlite.ReadOnlyVersionError):
            docs.execute(sql)
    assert docs.query("SELECT * FROM docs ORDER BY id") == before
    assert sorted(docs.query("SELECT * FROM docs AT VERSION 'train-v1'")) == THEN
