"""Differential SQL: plain SQLite scripts give the same answers through galaxlite (versioned
tables; ``galaxlite.Database`` and the DB-API) as through raw apsw (plain tables).

What is compared, and the script format, are in ``tests/differential.py``; the corpus is
``fixtures/differential/*.sql`` (its README lists the known differences, strict xfails here).
``make test`` runs the whole corpus and a few generated scripts; ``make test-long``
(``GALAXLITE_LONG=1``) runs many more generated scripts: random writes (UPSERT, REPLACE,
RETURNING, executemany on the bulk path, savepoints, foreign keys, a trigger) with tags
between them, on a rowid table, a WITHOUT ROWID table and a STRICT one.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import replace
from pathlib import Path

import differential
import figures
import pytest

import galaxlite

LONG = bool(os.environ.get("GALAXLITE_LONG"))
GENERATED_SCRIPTS = 300 if LONG else 6
GENERATED_STEPS = 80 if LONG else 40
CORPUS = differential.corpus()
SCRIPTS = {path.name: differential.load(path) for path in CORPUS}
FEATURES = {  # what the corpus must exercise: a pattern each (case-insensitive)
    "UPSERT": "ON CONFLICT (",
    "DO NOTHING": "DO NOTHING",
    "RETURNING": "RETURNING",
    "window functions": "OVER (",
    "recursive CTE": "WITH RECURSIVE",
    "JSON": "json_each(",
    "generated columns": "GENERATED ALWAYS AS",
    "STRICT": ") STRICT",
    "WITHOUT ROWID": "WITHOUT ROWID",
    "triggers": "CREATE TRIGGER",
    "INSTEAD OF triggers": "INSTEAD OF",
    "savepoints": "ROLLBACK TO",
    "?NNN parameters": "?2",
    "named parameters": ":n",
    "INSERT OR REPLACE": "INSERT OR REPLACE",
    "FK cascades": "ON DELETE CASCADE",
    "collations": "COLLATE NOCASE",
    "UPDATE FROM": ") AS d WHERE",
    "ORDER BY LIMIT on UPDATE": "ORDER BY sku LIMIT",
    "changes()": "changes()",
    "last_insert_rowid()": "last_insert_rowid()",
}


def _params(script: differential.Script):
    for engine in differential.ENGINES.values():
        marks = ()
        if script.xfail:
            marks = (pytest.mark.xfail(reason=script.xfail, strict=True),)
        yield pytest.param(script, engine, id=f"{script.name}-{engine.name}", marks=marks)


def assert_same(script: differential.Script, engine: type, folder: Path, figure: str) -> None:
    report = differential.run_script(script, folder, engine)
    assert report.statements == script.statements
    figures.add(figure, report.statements)
    figures.add("differential scripts")
    if report.differences:
        pytest.fail(str(report), pytrace=False)


# ------------------------------------------------------------------------------------ the corpus


def test_the_corpus_is_large_and_covers_the_features() -> None:
    assert sum(s.statements for s in SCRIPTS.values()) >= 300
    text = "\n".join(step.sql for s in SCRIPTS.values() for step in s.steps).lower()
    missing = [name for name, pattern in FEATURES.items() if pattern.lower() not in text]
    assert missing == []
    steps = [step for s in SCRIPTS.values() for step in s.steps]
    assert sum(step.error for step in steps) >= 60
    assert sum(step.tag is not None for step in steps) >= 40
    assert sum(step.many is not None and len(step.many) >= 64 for step in steps) >= 3  # bulk path


@pytest.mark.parametrize(("script", "engine"), [p for s in SCRIPTS.values() for p in _params(s)])
def test_corpus_script_gives_sqlites_answers(script, engine, tmp_path: Path) -> None:
    assert_same(script, engine, tmp_path, "differential statements (corpus)")


# ------------------------------------------------------------------------------------ generated

SCHEMA = """
CREATE TABLE a (id INTEGER PRIMARY KEY, k TEXT UNIQUE, n INTEGER NOT NULL DEFAULT 0, r REAL);
CREATE TABLE b (k TEXT PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0, note TEXT) WITHOUT ROWID;
CREATE TABLE c (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a (id) ON DELETE CASCADE, v ANY) STRICT;
CREATE UNIQUE INDEX a_big_r ON a (r) WHERE r > 20;
CREATE INDEX a_n ON a (n);
INSERT INTO b (k, n) VALUES ('log', 0);
CREATE TRIGGER a_counted AFTER UPDATE OF n ON a BEGIN UPDATE b SET n = n + 1 WHERE k = 'log'; END;
"""


class Generator:
    """Random statements over ``SCHEMA``: small key pools so that conflicts, cascades and
    failures happen often; transactions are whole blocks, tags are made outside them."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.tags = 0
        self.altered = False

    def key(self) -> str:
        return f"'k{self.rng.randrange(12)}'"

    def where(self) -> str:
        r = self.rng
        return r.choice([
            f"id % {r.randrange(2, 5)} = {r.randrange(2)}", f"n > {r.randrange(-3, 8)}",
            f"k = {self.key()}", "k LIKE 'k1%'", "id IN (SELECT a_id FROM c)", "r IS NULL",
            f"id BETWEEN {r.randrange(6)} AND {r.randrange(6, 20)}", "1",
        ])

    def one(self) -> str:
        """A WHERE that picks at most one row of ``a``: a statement whose outcome depends on
        the order rows are visited in (a key changed on several rows under OR IGNORE / OR
        REPLACE, a primary key shifted) is left unspecified by SQLite, and galaxlite's
        triggers make SQLite visit them in rowid order rather than index order."""
        return self.rng.choice([f"id = {self.rng.randrange(1, 20)}", f"k = {self.key()}",
                                f"id = (SELECT max(id) FROM a WHERE {self.where()})"])

    def returning(self, columns: str) -> str:
        return f" RETURNING {columns}" if self.rng.random() < 0.25 else ""

    def write(self) -> str:
        r = self.rng
        values = ", ".join(f"({self.key()}, {r.randrange(-2, 10)}, {r.choice(['NULL', r.randrange(100) / 4])})"
                           for _ in range(r.randrange(1, 4)))
        choices = [
            f"INSERT {r.choice(['', 'OR IGNORE ', 'OR REPLACE '])}INTO a (k, n, r) VALUES {values}"
            + self.returning("id, k"),
            f"INSERT INTO a (k, n, r) VALUES {values} ON CONFLICT (k) DO UPDATE SET n = n + excluded.n"
            + self.returning("*"),
            f"INSERT INTO a (k, n) VALUES ({self.key()}, 1) ON CONFLICT DO NOTHING",
            f"UPDATE a SET n = n + {r.randrange(-3, 4)} WHERE {self.where()}" + self.returning("id, n"),
            f"UPDATE {r.choice(['', 'OR IGNORE ', 'OR REPLACE '])}a SET k = {self.key()} WHERE {self.one()}",
            f"DELETE FROM a WHERE {self.where()}" + self.returning("id"),
            f"REPLACE INTO b (k, n, note) VALUES ({self.key()}, {r.randrange(5)}, 'r')",
            f"INSERT INTO b (k, n) VALUES ({self.key()}, 1) ON CONFLICT (k) DO UPDATE SET n = n * 2",
            f"UPDATE b SET note = coalesce(note, '') || 'x' WHERE n > {r.randrange(4)}",
            f"DELETE FROM b WHERE k <> 'log' AND n < {r.randrange(4)}",
            f"INSERT INTO c (a_id, v) VALUES ({r.randrange(1, 15)}, {r.choice(['1', quote(r.random()), SEVEN])})",
            f"INSERT INTO c (a_id, v) SELECT id, n FROM a WHERE {self.where()}",
            f"UPDATE c SET v = {r.choice(['v || v', 'NULL', '42'])} WHERE id % 2 = {r.randrange(2)}",
            "SELECT count(*), sum(n), total(r), group_concat(k) FROM (SELECT * FROM a ORDER BY id)",
            "SELECT b.k, b.n, b.note FROM b ORDER BY b.k",
            "SELECT c.id, c.a_id, c.v, a.k FROM c LEFT JOIN a ON a.id = c.a_id ORDER BY c.id",
            f"SELECT id, n, sum(n) OVER (ORDER BY id) FROM a WHERE {self.where()} ORDER BY id",
            f"UPDATE a SET id = id + {r.randrange(1, 30)} WHERE {self.one()}",
            f"UPDATE OR REPLACE a SET id = {r.randrange(1, 12)} WHERE {self.one()}",
            f"UPDATE OR REPLACE a SET r = {r.randrange(18, 26)} WHERE {self.one()}",
            f"INSERT OR REPLACE INTO a (id, k, r) VALUES ({r.randrange(1, 12)}, {self.key()}, {r.randrange(18, 26)})",
            f"DELETE FROM a WHERE id IN (SELECT id FROM a ORDER BY n DESC, id LIMIT {r.randrange(1, 3)})",
            f"UPDATE b SET k = k || 'x' WHERE k = (SELECT min(k) FROM b WHERE k <> 'log' AND n = {r.randrange(3)})",
            f"INSERT INTO b (k, n) SELECT k, n FROM a WHERE {self.where()} ON CONFLICT DO UPDATE SET n = excluded.n",
            f"DELETE FROM c WHERE a_id NOT IN (SELECT id FROM a) OR id = {r.randrange(10)}",
        ]
        return r.choice(choices)

    def steps(self, count: int) -> list[str]:
        r = self.rng
        out: list[str] = []
        while len(out) < count:
            roll = r.random()
            if roll < 0.08:
                self.tags += 1
                out.append(f"--! tag g{self.tags}")
            elif roll < 0.10:
                sets = [[r.randrange(-2, 3), f"k{r.randrange(12)}"] for _ in range(r.choice([2, 70]))]
                out.append(f"--! many {json.dumps(sets)}\nUPDATE a SET n = n + ? WHERE k = ?;")
            elif roll < 0.11 and not self.altered:
                self.altered = True
                out.append("ALTER TABLE a ADD COLUMN extra TEXT DEFAULT 'e';")
            elif roll < 0.14:
                rows = r.choice([3, 70])  # 64 or more: galaxlite's bulk path
                start = r.randrange(1000)
                out.append(f"--! many {json.dumps([[f'm{start + i}', i] for i in range(rows)])}\n"
                           "INSERT INTO a (k, n) VALUES (?, ?);")
            elif roll < 0.22:
                body = [self.write() + ";" for _ in range(r.randrange(1, 4))]
                if r.random() < 0.5:
                    body.insert(r.randrange(len(body) + 1), "SAVEPOINT sp;")
                    body.append(r.choice(["ROLLBACK TO sp;", "RELEASE sp;"]))
                out += ["BEGIN;", *body, r.choice(["COMMIT;", "ROLLBACK;"])]
            else:
                out.append(self.write() + ";")
        return out


SEVEN = "'seven'"


def quote(value: float) -> str:
    return repr(round(value, 3))


def generated_script(seed: int) -> differential.Script:
    generator = Generator(seed)
    text = SCHEMA + "\n".join(generator.steps(GENERATED_STEPS)) + "\n--! tag last\n"
    script = differential.parse(text, f"generated-{seed}")
    # whether a generated statement fails is SQLite's to say (no corpus expectation)
    steps = tuple(s if s.tag is not None else replace(s, error=None) for s in script.steps)
    return replace(script, steps=steps)


@pytest.mark.parametrize("engine", list(differential.ENGINES.values()), ids=list(differential.ENGINES))
@pytest.mark.parametrize("seed", range(GENERATED_SCRIPTS))
def test_generated_script_gives_sqlites_answers(seed: int, engine, tmp_path: Path) -> None:
    assert_same(generated_script(seed), engine, tmp_path, "differential statements (generated)")


def test_generated_scripts_reach_conflicts_failures_and_the_bulk_path(tmp_path: Path) -> None:
    """The generator is worth running: its scripts fail statements, make tags, take the bulk
    path and return rows."""
    steps = [s for seed in range(4) for s in generated_script(seed).steps]
    assert sum(s.tag is not None for s in steps) >= 8
    assert any(s.many is not None and len(s.many) >= 64 for s in steps)
    plain = differential.Baseline(tmp_path / "plain.db")
    outcomes = [plain.run(s) for s in steps if s.tag is None]
    plain.close()
    assert sum(o.error is galaxlite.IntegrityError for o in outcomes) >= 5
    assert sum(bool(o.rows) for o in outcomes) >= 10


# ------------------------------------------------------------------------------------ the runner


def test_parse_reads_directives_and_sqlites_statement_ends() -> None:
    script = differential.parse(
        "--! xfail a reason\n"
        "-- a comment\n"
        "CREATE TRIGGER t AFTER INSERT ON x BEGIN\n  SELECT 1; SELECT ';';\nEND;\n"
        '--! params [1, {"hex": "00ff"}]\n'
        "SELECT ?1, ?2;\n"
        "--! tag v1\n"
        "--! many-range 3\n"
        "--! error\n"
        "INSERT INTO x VALUES (?1);\n",
        "s.sql",
    )
    assert script.xfail == "a reason"
    trigger, select, tag, insert = script.steps
    assert trigger.sql.startswith("CREATE TRIGGER") and trigger.sql.endswith("END;") and trigger.line == 3
    assert select.params == (1, b"\x00\xff") and not select.error
    assert tag.tag == "v1" and tag.line == 8
    assert insert.many == [(1,), (2,), (3,)] and insert.error
    assert script.statements == 3
    with pytest.raises(ValueError, match="s.sql, line 1: unknown directive 'nope'"):
        differential.parse("--! nope\n", "s.sql")
    with pytest.raises(ValueError, match="ends inside a statement"):
        differential.parse("SELECT 1", "s.sql")


def test_error_classes_follow_the_documented_table() -> None:
    import apsw

    assert differential.expected_error(apsw.ConstraintError("UNIQUE constraint failed")) is galaxlite.IntegrityError
    assert differential.expected_error(apsw.SQLError('near "x": syntax error')) is galaxlite.SqlSyntaxError
    assert differential.expected_error(apsw.SQLError("no such table: t")) is galaxlite.ProgrammingError
    assert differential.expected_error(apsw.BindingsError("wrong number")) is galaxlite.ProgrammingError
    assert differential.expected_error(apsw.TooBigError("string or blob too big")) is galaxlite.DataError


class _Lying(differential.GalaxliteDatabase):
    """galaxlite with a wrong rowcount after a write: the runner must notice."""

    name = "lying"

    def _execute(self, step):
        columns, rows, rowcount, lastrowid = super()._execute(step)
        return columns, rows, rowcount + 1 if rowcount > 0 else rowcount, lastrowid


def test_the_runner_finds_differences(tmp_path: Path) -> None:
    script = differential.parse(
        "CREATE TABLE t (x INTEGER PRIMARY KEY, y);\n"
        "INSERT INTO t VALUES (1, 'a');\n"
        "--! error\n"
        "SELECT 1;\n"
        "--! tag v1\n",
    )
    report = differential.run_script(script, tmp_path, _Lying)
    assert len(report.differences) == 2, report
    assert report.differences[0].startswith("line 2: rowcount: galaxlite 2 != SQLite 1")
    assert "corpus mistake" in report.differences[1]


# ------------------------------------------------------------------------------------ found here


@pytest.mark.parametrize(
    ("failing", "changes"),
    [
        ("INSERT INTO t VALUES (1, 'dup')", 0),  # ran and failed: SQLite sets 0
        ("UPDATE t SET y = NULL", 0),  # NOT NULL, on the set-based path
        ("INSERT INTO nosuch VALUES (1)", 2),  # could not be prepared: left alone
        ("DROP TABLE t", 0),  # the implicit DELETE fails on a foreign key
    ],
)
def test_changes_after_a_failed_write_is_sqlites(db: galaxlite.Database, failing: str, changes: int) -> None:
    db.execute("CREATE TABLE t (x INTEGER PRIMARY KEY, y TEXT NOT NULL)")
    db.execute("CREATE TABLE child (p INTEGER REFERENCES t (x))")
    db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    db.execute("INSERT INTO child VALUES (1)")
    db.execute("UPDATE t SET y = y || '!'")
    with pytest.raises(galaxlite.Error):
        db.execute(failing)
    assert db.query("SELECT changes()") == [(changes,)]
    many = [(3, "c"), (1, "again")]
    with pytest.raises(galaxlite.IntegrityError):
        db.executemany("INSERT INTO t VALUES (?, ?)", many)
    assert db.query("SELECT changes(), count(*) FROM t") == [(0, 2)]
