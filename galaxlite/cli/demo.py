"""``galaxlite demo``: build a small database from ``fixtures/demo`` and show each step.

Every step prints its SQL, then what galaxlite answered. The database stays in the
directory afterwards, for ``galaxlite shell DIR`` or ``galaxlite info DIR``.

The demo's data, ``fixtures/demo`` in the repository, installs as the package
``galaxlite.demo_data`` and is read through ``importlib.resources``, so the demo runs from an
installed wheel as from the checkout. Results print with ``galaxlite.cli.output``, as
``galaxlite query`` prints them (``galaxlite.cli.narration``); the history-as-data steps are
in ``galaxlite.cli.demo_history``.
"""

from __future__ import annotations

import csv
import tempfile
from importlib.resources import files
from pathlib import Path
from typing import TextIO

import click

import galaxlite
from galaxlite import Database, errors
from galaxlite.cli.demo_history import (
    keep_it_small,
    like_sqlite3,
    restore_and_dialect,
    what_changed,
)
from galaxlite.cli.narration import Demo, run_plain
from galaxlite.cli.output import table_lines, tag_rows
from galaxlite.database import DATABASE_FILE

# fixtures/demo in the repository; installed as the package galaxlite.demo_data
DEFAULT_FIXTURES = Path(str(files("galaxlite.demo_data")))
NEW_DOCS = [
    ("Astronomers timed a pulsar glitch to the microsecond.", "science", "news"),
    ("The underdogs won the regional final on penalties.", "sports", "forum"),
    ("This flatbread bakes in a dry pan in five minutes.", "cooking", "blog"),
]


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header line."""
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def prepare_directory(directory: str | None) -> Path:
    """The demo's directory: new, or existing without a galaxlite database in it."""
    if directory is None:
        return Path(tempfile.mkdtemp(prefix="galaxlite-demo-")).resolve()
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise errors.InterfaceError(f"{directory!r} is a file; give a directory for the demo")
    if (path / DATABASE_FILE).exists():
        raise errors.InterfaceError(
            f"{directory!r} already holds a galaxlite database; give a new or empty directory"
        )
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def run_demo(directory: str | None, fixtures: Path | None, out: TextIO) -> Path:
    """Build the demo database in ``directory`` and narrate; returns the directory."""
    data = fixtures or DEFAULT_FIXTURES
    if not (data / "docs.csv").is_file():
        raise errors.InterfaceError(f"the demo data is not in {str(data)!r}: give --fixtures DIR")
    labels = read_csv(data / "labels.csv")
    corrections = read_csv(data / "corrections.csv")
    where = prepare_directory(directory)
    click.secho(f"galaxlite demo: building a database in {where}", file=out, bold=True)
    with Database(where) as db:
        demo = Demo(db, out)
        load(demo, data / "docs.csv", labels)
        clean(demo, corrections)
        time_travel(demo)
        what_changed(demo)
        schema_change(demo)
        snapshots(demo)
        semantic_search(demo)
        plain_client(demo)
        like_sqlite3(demo)
        keep_it_small(demo, restore_and_dialect(demo))
        training_export(demo)
        export_again(demo)
        finish(demo, where)
    return where


def load(demo: Demo, docs: Path, labels: list[dict[str, str]]) -> None:
    demo.step("Create tables", "Every ordinary table is versioned; it still looks like a plain table.")
    demo.sql("CREATE TABLE labels (name TEXT PRIMARY KEY, description TEXT)")
    demo.sql(
        "CREATE TABLE docs (id INTEGER PRIMARY KEY, text TEXT NOT NULL,\n"
        "                   label TEXT NOT NULL REFERENCES labels (name), source TEXT)"
    )
    demo.step("Load the data with BULK INSERT", "From Python rows or a file: one version, all-or-nothing, on the fast path.")
    demo.many(
        "BULK INSERT INTO labels (name, description) VALUES (?, ?)",
        [(r["name"], r["description"]) for r in labels],
        f"{len(labels)} rows from labels.csv",
    )
    demo.sql(
        f"BULK INSERT INTO docs FROM '{str(docs).replace(chr(39), chr(39) * 2)}'",
        note="a CSV (or Parquet) file, streamed; values typed by the columns' affinity",
    )
    demo.sql("SELECT label, count(*) AS docs FROM docs GROUP BY label ORDER BY label")
    demo.step("Tag the raw data", "A tag names the current version; it copies nothing.")
    demo.sql("CREATE VERSION TAG 'raw'")


def clean(demo: Demo, corrections: list[dict[str, str]]) -> None:
    demo.step("Clean the data", "Fix labels, drop junk and duplicates, add documents.")
    demo.many(
        "UPDATE docs SET label = ? WHERE id = ?",
        [(r["label"], int(r["id"])) for r in corrections],
        f"{len(corrections)} label fixes from corrections.csv",
    )
    demo.sql("DELETE FROM docs WHERE length(text) < 20", note="junk such as 'n/a' and 'lorem ipsum'")
    demo.sql(
        "DELETE FROM docs WHERE id NOT IN (SELECT min(id) FROM docs GROUP BY text)",
        note="exact duplicates",
    )
    demo.sql(
        "INSERT INTO docs (text, label, source) VALUES (?, ?, ?), (?, ?, ?), (?, ?, ?)",
        [v for row in NEW_DOCS for v in row],
    )
    demo.sql("CREATE VERSION TAG 'clean'")


def time_travel(demo: Demo) -> None:
    demo.step("Travel in time with AT VERSION", "Read any table as it was at a tag or a µs timestamp.")
    demo.sql(
        "SELECT (SELECT count(*) FROM docs AT VERSION 'raw') AS raw,\n"
        "       (SELECT count(*) FROM docs AT VERSION 'clean') AS clean"
    )
    demo.sql(
        "SELECT past.id, past.label AS was, now.label AS is_now, now.text\n"
        "FROM docs AT VERSION 'raw' AS past JOIN docs AS now ON now.id = past.id\n"
        "WHERE past.label <> now.label ORDER BY past.id",
        note="today joined with the past: the relabelled documents",
    )
    demo.sql(
        "SELECT id, text FROM docs AT VERSION 'raw'\n"
        "WHERE id NOT IN (SELECT id FROM docs) ORDER BY id",
        note="what the cleaning removed",
    )
    raw_version = demo.db.tag_version("raw")
    demo.sql(
        "SELECT count(*) AS docs FROM docs AT VERSION ?",
        [raw_version],
        note=f"a bound int is a µs timestamp: {raw_version}, the version of tag 'raw'",
    )


def schema_change(demo: Demo) -> None:
    demo.step("Change the schema", "ALTER TABLE keeps every past version readable, with its columns then.")
    demo.sql("ALTER TABLE docs ADD COLUMN split TEXT")
    demo.sql("UPDATE docs SET split = CASE WHEN id % 5 = 0 THEN 'test' ELSE 'train' END")
    demo.sql("ALTER TABLE docs RENAME COLUMN text TO body")
    demo.sql("CREATE VERSION TAG 'split'")
    demo.sql("SELECT split, count(*) AS docs FROM docs GROUP BY split ORDER BY split")
    demo.sql("SELECT * FROM docs ORDER BY id LIMIT 3")
    demo.sql("SELECT * FROM docs AT VERSION 'raw' ORDER BY id LIMIT 3", note="the columns as they were")


def snapshots(demo: Demo) -> None:
    demo.step(
        "Freeze datasets as snapshots",
        "CREATE SNAPSHOT copies a query's rows into an immutable, versioned dataset (name@1.0.0).",
    )
    demo.sql(
        "CREATE SNAPSHOT corpus COMMENT IS 'cleaned documents'\n"
        "AS SELECT id, body, label FROM docs",
        note="version 1.0.0; also a real view \"corpus@1.0.0\" for any SQLite client",
    )
    demo.sql(
        "CREATE SNAPSHOT corpus FROM @1.0.0 COMMENT IS 'no forum posts, short labels'\n"
        "USING (DELETE WHERE id IN (SELECT id FROM docs WHERE source = 'forum');\n"
        "       UPDATE SET label = upper(substr(label, 1, 3)))",
        note="derived from 1.0.0: a DELETE makes it 1.1.0 (ALTER → 2.0.0, UPDATE only → 1.0.1)",
    )
    demo.sql("SET db4ai_sample_seed = 7", note="samples are reproducible under a seed")
    demo.sql(
        "SAMPLE SNAPSHOT corpus@1.1.0 STRATIFY BY label\n"
        "AS _train AT RATIO .8, AS _test AT RATIO .2",
        note="disjoint samples; every label contributes 80 % / 20 % of its rows",
    )
    demo.sql(
        "SELECT label, (SELECT count(*) FROM corpus_train@1.1.0 AS t WHERE t.label = s.label) AS train,\n"
        "       (SELECT count(*) FROM corpus_test@1.1.0 AS t WHERE t.label = s.label) AS test\n"
        "FROM corpus@1.1.0 AS s GROUP BY label ORDER BY label",
        note="name@version works anywhere a table name does",
    )
    demo.sql("PUBLISH SNAPSHOT corpus_train@1.1.0")
    demo.sql(
        "SELECT id, parent_id, name, commands, published, row_count\n"
        "FROM db4ai.snapshot ORDER BY id",
        note="the catalog keeps the lineage: how each snapshot was made from its parent",
    )


def semantic_search(demo: Demo) -> None:
    demo.step(
        "Search by meaning with SEMANTIC_MATCH",
        "Texts are embedded offline (all-MiniLM-L6-v2), once each, and cached in the file.",
    )
    try:
        demo.sql(
            "SELECT id, label, round(SEMANTIC_SCORE(body, 'baking desserts'), 2) AS score, body\n"
            "FROM docs WHERE SEMANTIC_MATCH(body, 'baking desserts', 0.4)\n"
            "ORDER BY score DESC",
            note="cosine similarity >= 0.4: no word of the query needs to appear",
        )
    except errors.EmbedderNotAvailableError as exc:
        demo.echo(f"semantic search skipped: {exc.message}", fg="yellow")
        return
    demo.sql(
        "SELECT id, label, text FROM docs AT VERSION 'raw'\n"
        "WHERE SEMANTIC_MATCH(text, 'space and astronomy research', 0.4) ORDER BY id",
        note="the same on the raw data (its column was still called text); the cache is shared",
    )
    demo.sql(
        "ALTER TABLE docs ALTER COLUMN body SET EMBEDDING MODEL 'minilm'",
        note="declared: exports, searches and db.embed use this model (the table stays plain SQLite)",
    )
    demo.sql("SHOW EMBEDDING HEALTH", note="per embedding column: its model, how many values are embedded")


def plain_client(demo: Demo) -> None:
    demo.step(
        "Share the file with plain SQLite",
        "Any SQLite client (here Python's sqlite3) reads the current data; its writes to a "
        "versioned table are versioned.",
    )
    run_plain(demo, "SELECT count(*) FROM docs", "run by Python's sqlite3 module")
    run_plain(
        demo,
        "CREATE TABLE reviews (doc_id INTEGER PRIMARY KEY, verdict TEXT)",
        "sqlite3: a table another program makes is plain...",
    )
    run_plain(demo, "INSERT INTO reviews VALUES (1, 'unsure'), (2, 'good')", "sqlite3 again")
    demo.sql("ALTER TABLE reviews ENABLE VERSIONING", note="...until galaxlite versions it, rows and all")
    enabled = demo.db.version
    run_plain(demo, "UPDATE reviews SET verdict = 'good' WHERE doc_id = 1", "sqlite3 again")
    demo.sql(
        "SELECT past.doc_id, past.verdict AS was, now.verdict AS is_now\n"
        "FROM reviews AT VERSION ? AS past JOIN reviews AS now USING (doc_id)",
        [enabled],
        note="the plain client's UPDATE was versioned",
    )


def training_export(demo: Demo) -> None:
    demo.step(
        "Export a training set",
        "FOR TRAINING writes every table as of the tag as a Lance dataset: seeded shuffle, "
        "vectors quantized as asked.",
    )
    demo.sql(
        "CREATE VERSION TAG 'train-v1' FOR TRAINING\n"
        "WITH TRAINING PRECISION 'sq8' TRAINING SEED 42",
        note="text columns with embeddings (docs.body, searched above) become vectors",
    )
    rows = [(e.table, e.rows, e.precision, e.seed, e.content_hash[:19] + "…") for e in demo.db.exports("train-v1")]
    for line in table_lines(["table", "rows", "precision", "seed", "content hash"], rows):
        demo.echo(line)
    path = demo.db.training_dataset("train-v1", "docs")
    demo.echo(f"db.training_dataset('train-v1', 'docs') = {path}", dim=True)
    import lance  # here: only this step needs it

    fields = ", ".join(f"{f.name}: {f.type}" for f in lance.dataset(path).schema)
    demo.echo(f"lance.dataset(path).schema: {fields}")
    batch = next(galaxlite.training_batches(path, batch_size=32))
    shapes = ", ".join(f"{k}: {v.dtype}{list(v.shape)}" for k, v in batch.items())
    demo.echo(f"galaxlite.training_batches(path, batch_size=32) → {shapes}")
    demo.echo("(sq8 codes decoded back to float32; torch users: galaxlite.torch_dataset(path))", dim=True)


def export_again(demo: Demo) -> None:
    demo.step(
        "Export an old tag again, and verify",
        "Any tag exports at any time with the data it had; exports sit side by side, and "
        "verify recomputes their content hashes.",
    )
    demo.sql("UPDATE docs SET source = 'edited' WHERE id <= 5", note="a write after the tag")
    again = demo.db.export_training("train-v1", precision="sq8", seed=42)
    first = {e.table: e.content_hash for e in demo.db.exports("train-v1")[: len(again)]}
    same = all(first[e.table] == e.content_hash for e in again)
    demo.echo(f"db.export_training('train-v1', precision='sq8', seed=42): same content hashes: {same}")
    rq4 = demo.db.export_training("train-v1", precision="rabitq4")
    path = next(e.path for e in rq4 if e.table == "docs")
    demo.echo(f"db.export_training('train-v1', precision='rabitq4') → {path}", dim=True)
    import lance

    names = lance.dataset(path).schema.names
    demo.echo(f"stored columns: {', '.join(names)}  (codes named for what they are)")
    decoded = galaxlite.decode(lance.dataset(path).to_table())
    demo.echo(f"galaxlite.decode(table).column_names → {', '.join(decoded.column_names)}")
    checked = demo.db.verify_export("train-v1")
    demo.echo(f"db.verify_export('train-v1'): {sum(v.ok for v in checked)} of {len(checked)} datasets ok")


def finish(demo: Demo, where: Path) -> None:
    demo.step("Version tags", "Tags are names for versions; they never change.")
    columns, rows = tag_rows(demo.db)
    for line in table_lines(columns[:4], [r[:4] for r in rows]):
        demo.echo(line)
    demo.echo()
    demo.echo(f"Done. The database is in {where}. Explore it with:", bold=True)
    demo.echo(f"  galaxlite shell {where}")
    demo.echo(f"  galaxlite info {where}")
    demo.echo(f"  galaxlite snapshots {where}")
    demo.echo(f"  galaxlite lineage {where} corpus_train@1.1.0")
    demo.echo(f"  galaxlite browse {where}   (Datasette: pip install 'galaxlite[datasette]')")
    demo.echo(f"  galaxlite {where} \"SELECT * FROM docs AT VERSION 'raw' LIMIT 5\"")
