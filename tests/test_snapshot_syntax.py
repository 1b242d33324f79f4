"""The front end of dataset snapshots: statements, ``name@version`` refs, USING batches, errors.

Forms follow openGauss DB4AI (its gram.y grammar and its error wording; docs/snapshots.md).
"""

from __future__ import annotations

import string
from dataclasses import replace

import pytest
from helpers import SEED_SCRIPT
from hypothesis import given, settings
from hypothesis import strategies as st

from galaxlite import transpile
from galaxlite.transpile import plan as P
from galaxlite.transpile.errors import (
    PastIsReadOnly,
    SnapshotIsReadOnly,
    SqlSyntaxError,
    UnsupportedSyntax,
)

V = P.SnapshotVersion


def parse(sql: str) -> P.Plan:
    return transpile.parse_statement(sql)


def detail(sql: str):
    return parse(sql).detail


def fails(sql: str, message: str, near: str | None = None, cls=SqlSyntaxError) -> transpile.TranspileError:
    """The statement fails with ``message``; ``near`` is the text at the reported position."""
    with pytest.raises(cls) as info:
        parse(sql)
    err = info.value
    assert err.message == message
    if near is not None:
        assert err.position is not None
        assert sql[err.position :].startswith(near), sql[err.position :]
    return err


def test_the_lone_at_is_a_token_and_at_names_are_still_parameters():
    kinds = [(t.kind, t.text) for t in transpile.tokenize("m0 @ 1.0 @p @1")]
    assert kinds == [("word", "m0"), ("op", "@"), ("number", "1.0"), ("param", "@p"), ("param", "@1")]


# ------------------------------------------------------------------------------ versions


@pytest.mark.parametrize(
    "written, version",
    [
        ("@2021", V(parts=("2021",))),
        ("@007", V(parts=("7",))),  # an integer loses its leading zeros, as in openGauss
        ("@1.0", V(parts=("1", "0"))),
        ("@1.0.0", V(parts=("1", "0", "0"))),
        ("@1.2.3.4", V(parts=("1", "2", "3", "4"))),
        ("@1.007", V(parts=("1", "007"))),
        ("@10.20.30", V(parts=("10", "20", "30"))),
        ("@squash", V(literal="squash")),
        ("@Squash", V(literal="squash")),  # unquoted identifiers are lower-cased
        ("@v2_b", V(literal="v2_b")),
        ("@café", V(literal="café")),
        ('@"rev 1.1"', V(literal="rev 1.1")),
        ('@"Rev ""x"""', V(literal='Rev "x"')),
        ("@'rev 1.1'", V(literal="rev 1.1")),
        ("@'it''s'", V(literal="it's")),
        (" @ 1.0.0", V(parts=("1", "0", "0"))),
        ("@ 1.0.0", V(parts=("1", "0", "0"))),
        (" @1.0.0", V(parts=("1", "0", "0"))),
        ("\n@\n2021", V(parts=("2021",))),
        (" @ squash", V(literal="squash")),
        ("@ 'rev 1.1'", V(literal="rev 1.1")),
        ('@"from"', V(literal="from")),
    ],
)
def test_versions_in_every_statement(written, version):
    assert detail(f"CREATE SNAPSHOT m0{written} AS SELECT * FROM t").name.version == version
    assert detail(f"CREATE SNAPSHOT m0 FROM {written} USING (DELETE)").parent == version
    assert detail(f"PUBLISH SNAPSHOT m0{written}").name.version == version
    assert detail(f"SAMPLE SNAPSHOT m0{written} AS _a AT RATIO .5").name.version == version
    plan = parse(f"SELECT * FROM m0{written} WHERE x = @p")
    assert plan.refs[0].snapshot.version == version
    assert plan.template.pieces[2] == ' AS "m0" WHERE x = @p'


@pytest.mark.parametrize(
    "written, near",
    [("@1e5", "@1e5"), ("@1.", "@1."), ("@1.0.0.", "@1.0.0."), ("@12ab", "@12ab"), ("@-1", "@"),
     ("@ AS", "@ AS"), ("@where", "@where"), ("@p::x", "@p::x"), ("@0x1f", "@0x1f")],
)
def test_malformed_versions(written, near):
    message = "expected a snapshot version after '@': 1.0.0, 2021, a name, \"text\" or 'text'"
    fails(f"PURGE SNAPSHOT m0{written}", message, near)
    fails(f"SELECT * FROM m0{written}", message, near)


@pytest.mark.parametrize("written", ['@""', "@''"])
def test_empty_version(written):
    fails(f"CREATE SNAPSHOT m0{written} AS SELECT 1", "a snapshot version must not be empty", written)


def test_version_render():
    assert V(parts=("1", "0", "0")).render("_") == "1_0_0"
    assert V(literal="rev 1.1").render("_") == "rev 1.1"


# ---------------------------------------------------------------- CREATE SNAPSHOT ... AS


def test_create_as_plan_is_the_query():
    sql = "CREATE SNAPSHOT m0 AS SELECT * FROM t WHERE id > 3"
    plan = parse(sql)
    assert plan.kind == P.CREATE_SNAPSHOT
    assert plan.sql == "SELECT * FROM t WHERE id > 3"
    assert plan.template is None and plan.refs == ()
    d = plan.detail
    assert d == P.CreateSnapshot(
        P.SnapshotName(None, "m0", None, 16),
        query="SELECT * FROM t WHERE id > 3",
        query_position=sql.index("SELECT"),
        projection="SELECT *",
        from_clause="FROM t WHERE id > 3",
    )


def test_create_as_full_form():
    sql = "create snapshot Main.\"My Snap\" @ 2021 comment is 'first' as\nselect a, b\nfrom t join u using (id)"
    d = detail(sql)
    assert d.name == P.SnapshotName("main", "My Snap", V(parts=("2021",)), sql.index("Main"))
    assert d.comment == "first"
    assert d.query == "select a, b\nfrom t join u using (id)"
    assert (d.projection, d.from_clause) == ("select a, b", "from t join u using (id)")
    assert detail("CREATE SNAPSHOT m0 COMMENT IS NULL AS SELECT 1").comment is None


@pytest.mark.parametrize(
    "query, projection, from_clause",
    [
        ("SELECT 1 AS a", "SELECT 1 AS a", ""),
        ("SELECT 'a from b' AS x FROM t", "SELECT 'a from b' AS x", "FROM t"),
        ('SELECT "from" FROM t', 'SELECT "from"', "FROM t"),
        ("SELECT (SELECT max(a) FROM u) AS m FROM t", "SELECT (SELECT max(a) FROM u) AS m", "FROM t"),
        ("SELECT a IS DISTINCT FROM b FROM t", "SELECT a IS DISTINCT FROM b", "FROM t"),
        ("SELECT a FROM t UNION SELECT a FROM u", "SELECT a", "FROM t UNION SELECT a FROM u"),
        ("WITH x AS (SELECT 1 AS a FROM t) SELECT * FROM x", "WITH x AS (SELECT 1 AS a FROM t) SELECT *", "FROM x"),
        ("VALUES (1), (2)", "VALUES (1), (2)", ""),
        ("SELECT * FROM t WHERE s = ';'", "SELECT *", "FROM t WHERE s = ';'"),
    ],
)
def test_create_as_projection_split(query, projection, from_clause):
    d = detail(f"CREATE SNAPSHOT m0 AS {query}")
    assert (d.query, d.projection, d.from_clause) == (query, projection, from_clause)


def test_create_as_query_refs_parameters_and_catalog():
    sql = "CREATE SNAPSHOT m1 AS SELECT * FROM m0@1.0.0 AS a JOIN t AT VERSION 'v1' ON a.id = t.id WHERE a.x = @p"
    plan = parse(sql)
    assert [type(r) for r in plan.refs] == [P.VersionRef, P.SnapshotRef]
    assert plan.refs[1].snapshot.name == "m0" and plan.refs[1].position == sql.index("m0@")
    assert plan.template.pieces == ("SELECT * FROM ", 1, " AS a JOIN ", 0, ' AS "t" ON a.id = t.id WHERE a.x = @p')
    assert plan.detail.query.startswith("SELECT * FROM m0@1.0.0")
    assert parse("CREATE SNAPSHOT c AS SELECT name FROM db4ai.snapshot").sql == (
        'SELECT name FROM db4ai_snapshot AS "snapshot"'
    )
    plan = parse("CREATE SNAPSHOT m0 AS SELECT * FROM t WHERE x = ?")
    assert plan.param_markers == 1


def test_create_as_semantic_calls_are_found_in_the_query():
    plan = parse("CREATE SNAPSHOT m0 AS SELECT id FROM docs WHERE SEMANTIC_MATCH(body, 'cats', 0.4)")
    assert [c.function for c in plan.semantic] == ["SEMANTIC_MATCH"]
    assert plan.template.pieces == ("SELECT id FROM docs WHERE ", 0, "")


def test_create_as_distribute_by_is_ignored_like_single_node_opengauss():
    d = detail("CREATE SNAPSHOT m0 DISTRIBUTE BY HASH(id, x) COMMENT IS 'c' AS SELECT * FROM t")
    assert (d.comment, d.query) == ("c", "SELECT * FROM t")
    assert detail("CREATE SNAPSHOT m0 DISTRIBUTE BY REPLICATION AS SELECT 1").query == "SELECT 1"


@pytest.mark.parametrize(
    "sql, message, near",
    [
        ("CREATE TEMP SNAPSHOT m0 AS SELECT 1", "Temporary snapshots are not supported.", "TEMP"),
        ("CREATE TEMPORARY SNAPSHOT m0 AS SELECT 1", "Temporary snapshots are not supported.", "TEMPORARY"),
        ("CREATE LOCAL TEMP SNAPSHOT m0 AS SELECT 1", "Temporary snapshots are not supported.", "LOCAL"),
        ("CREATE GLOBAL TEMPORARY SNAPSHOT m0 AS SELECT 1", "Temporary snapshots are not supported.", "GLOBAL"),
        ("CREATE SNAPSHOT m0 TO GROUP g AS SELECT 1", "Clustered snapshots are not supported.", "TO GROUP"),
        ("CREATE SNAPSHOT m0 TO NODE (n1) AS SELECT 1", "Clustered snapshots are not supported.", "TO NODE"),
        (
            "CREATE SNAPSHOT m0 DISTRIBUTE BY HASH(id) FROM @1.0.0 USING (DELETE)",
            "illegal DISTRIBUTE BY clause in CREATE SNAPSHOT ... FROM "
            "(hint: DISTRIBUTE BY is inherited from parent snapshot.)",
            "DISTRIBUTE",
        ),
        ("CREATE SNAPSHOT m0 DISTRIBUTE BY AS SELECT 1", "expected REPLICATION or HASH(column, ...) after DISTRIBUTE BY", "AS"),
        ("CREATE SNAPSHOT AS SELECT 1", "expected AS <query> or FROM @version USING (...) in CREATE SNAPSHOT", "SELECT"),
        ("CREATE SNAPSHOT", "expected snapshot name", None),
        ("CREATE SNAPSHOT 'm0' AS SELECT 1", "expected snapshot name", "'m0'"),
        ("CREATE SNAPSHOT m0.", "expected snapshot name after the schema name", None),
        ("CREATE SNAPSHOT m0", "expected AS <query> or FROM @version USING (...) in CREATE SNAPSHOT", None),
        ("CREATE SNAPSHOT m0 AS", "expected a query (SELECT, WITH or VALUES) after AS in CREATE SNAPSHOT", None),
        ("CREATE SNAPSHOT m0 AS INSERT INTO t VALUES (1)",
         "expected a query (SELECT, WITH or VALUES) after AS in CREATE SNAPSHOT", "INSERT"),
        ("CREATE SNAPSHOT m0 AS (SELECT 1)",
         "expected a query (SELECT, WITH or VALUES) after AS in CREATE SNAPSHOT", "(SELECT"),
        ("CREATE SNAPSHOT m0 AS WITH x AS (SELECT 1) DELETE FROM t",
         "CREATE SNAPSHOT ... AS needs a query: a WITH that writes is not one", "WITH"),
        ("CREATE SNAPSHOT m0 COMMENT IS 3 AS SELECT 1", "expected comment as a string literal", "3"),
        ("CREATE SNAPSHOT m0 COMMENT 'x' AS SELECT 1", "expected IS", "'x'"),
    ],
)
def test_create_errors(sql, message, near):
    fails(sql, message, near)


# -------------------------------------------------------------- CREATE SNAPSHOT ... FROM


def commands(using: str) -> tuple[P.SnapshotCommand, ...]:
    return detail(f"CREATE SNAPSHOT m0 FROM @1.0.0 USING {using}").commands


def test_create_from_full_form():
    sql = "CREATE SNAPSHOT s.m0@2.0.0 FROM @1.0.0 COMMENT IS 'less' USING (DELETE WHERE RANDOM() <= 0.2;)"
    d = detail(sql)
    assert d.name == P.SnapshotName("s", "m0", V(parts=("2", "0", "0")), sql.index("s.m0"))
    assert (d.parent, d.comment, d.query) == (V(parts=("1", "0", "0")), "less", None)
    assert d.commands == (
        P.SnapshotCommand(
            "DELETE", ("DELETE", "WHERE RANDOM() <= 0.2"), sql.index("DELETE"), where="RANDOM() <= 0.2"
        ),
    )
    plan = parse(sql)
    assert plan.sql == sql and plan.refs == () and plan.template is None


def test_comment_before_from_is_accepted_too():
    assert detail("CREATE SNAPSHOT m0 COMMENT IS 'c' FROM @1.0.0 USING (DELETE)").comment == "c"
    fails("CREATE SNAPSHOT m0 COMMENT IS 'c' FROM @1.0.0 COMMENT IS 'd' USING (DELETE)",
          "COMMENT IS given twice", "COMMENT IS 'd'")


@pytest.mark.parametrize(
    "cmd, op, pieces, fields",
    [
        ("INSERT VALUES (1, 'a')", "INSERT", ("INSERT", "VALUES (1, 'a')"), {"insert": "VALUES (1, 'a')"}),
        ("INSERT INTO SNAPSHOT SELECT * FROM t", "INSERT", ("INSERT", "SELECT * FROM t"), {"insert": "SELECT * FROM t"}),
        ("insert into snapshot (a, b) select a, b from t where c", "INSERT",
         ("INSERT", "(a, b) select a, b from t where c"), {"insert": "(a, b) select a, b from t where c"}),
        ("INSERT DEFAULT VALUES", "INSERT", ("INSERT", "DEFAULT VALUES"), {"insert": "DEFAULT VALUES"}),
        ("INSERT SELECT * FROM m0@1.0.0 WHERE x = 'a;b'", "INSERT",
         ("INSERT", "SELECT * FROM m0@1.0.0 WHERE x = 'a;b'"), {"insert": "SELECT * FROM m0@1.0.0 WHERE x = 'a;b'"}),
        ("UPDATE SET x = 1", "UPDATE", ("UPDATE", "SET x = 1"), {"set": "x = 1"}),
        ("UPDATE SNAPSHOT SET x = 1 WHERE y > 2", "UPDATE", ("UPDATE", "SET x = 1", "WHERE y > 2"),
         {"set": "x = 1", "where": "y > 2"}),
        ("UPDATE snapshot AS i SET x = t.x, y = f(y) FROM t JOIN u ON t.a = u.a WHERE i.id = t.id", "UPDATE",
         ("UPDATE", "AS i", "SET x = t.x, y = f(y)", "FROM t JOIN u ON t.a = u.a", "WHERE i.id = t.id"),
         {"alias": "i", "set": "x = t.x, y = f(y)", "from_": "t JOIN u ON t.a = u.a", "where": "i.id = t.id"}),
        ("UPDATE AS i SET x = (SELECT max(v) FROM w WHERE w.k = i.k) WHERE x IS NOT DISTINCT FROM NULL",
         "UPDATE", ("UPDATE", "AS i", "SET x = (SELECT max(v) FROM w WHERE w.k = i.k)",
                    "WHERE x IS NOT DISTINCT FROM NULL"),
         {"alias": "i", "set": "x = (SELECT max(v) FROM w WHERE w.k = i.k)", "where": "x IS NOT DISTINCT FROM NULL"}),
        ("UPDATE SET \" u+ \" = \"x <> y\" + 1", "UPDATE", ("UPDATE", "SET \" u+ \" = \"x <> y\" + 1"),
         {"set": "\" u+ \" = \"x <> y\" + 1"}),
        ("DELETE", "DELETE", ("DELETE",), {}),
        ("DELETE FROM SNAPSHOT", "DELETE", ("DELETE",), {}),
        ("DELETE WHERE RANDOM() <= 0.2", "DELETE", ("DELETE", "WHERE RANDOM() <= 0.2"), {"where": "RANDOM() <= 0.2"}),
        ("delete from snapshot as x using t join u using (id) where x.id = t.id", "DELETE",
         ("DELETE", "as x", "using t join u using (id)", "where x.id = t.id"),
         {"alias": "x", "using": "t join u using (id)", "where": "x.id = t.id"}),
        ("DELETE AS \"Q\" WHERE \"Q\".a IN (SELECT a FROM t WHERE b)", "DELETE",
         ("DELETE", "AS \"Q\"", "WHERE \"Q\".a IN (SELECT a FROM t WHERE b)"),
         {"alias": "Q", "where": "\"Q\".a IN (SELECT a FROM t WHERE b)"}),
        ("DELETE USING t", "DELETE", ("DELETE", "USING t"), {"using": "t"}),
    ],
)
def test_using_commands(cmd, op, pieces, fields):
    sql = f"CREATE SNAPSHOT m0 FROM @1.0.0 USING ({cmd})"
    (got,) = detail(sql).commands
    expected = P.SnapshotCommand(op, pieces, sql.index(cmd), **fields)
    assert got == expected


@pytest.mark.parametrize(
    "cmd, text, actions",
    [
        ("ALTER ADD c int", "ADD c int", [("add", "c", "int", False, "ADD c int")]),
        ("ALTER SNAPSHOT ADD COLUMN C int DEFAULT 0, DROP d",
         "ADD COLUMN C int DEFAULT 0, DROP d",
         [("add", "c", "int DEFAULT 0", False, "ADD COLUMN C int DEFAULT 0"), ("drop", "d", "", False, "DROP d")]),
        ("alter table snapshot drop column if exists \"X y\", add \" u+ \" DECIMAL(10, 2) NOT NULL DEFAULT 1",
         "drop column if exists \"X y\", add \" u+ \" DECIMAL(10, 2) NOT NULL DEFAULT 1",
         [("drop", "X y", "", True, "drop column if exists \"X y\""),
          ("add", " u+ ", "DECIMAL(10, 2) NOT NULL DEFAULT 1", False, "add \" u+ \" DECIMAL(10, 2) NOT NULL DEFAULT 1")]),
        ("ADD b, DROP \"x <> y\"", "ADD b, DROP \"x <> y\"",
         [("add", "b", "", False, "ADD b"), ("drop", "x <> y", "", False, "DROP \"x <> y\"")]),
        ("DROP IF EXISTS a", "DROP IF EXISTS a", [("drop", "a", "", True, "DROP IF EXISTS a")]),
        ("ALTER ADD v VECTOR(3)", "ADD v VECTOR(3)", [("add", "v", "VECTOR(3)", False, "ADD v VECTOR(3)")]),
        # the seed example: no blank after the quoted name (SQLite, unlike PostgreSQL, would also
        # take 'Add "abc"d int' as a column of type "d int": not refused here)
        ('ALTER SNAPSHOT ADD "x <> y"INT DEFAULT 2', 'ADD "x <> y"INT DEFAULT 2',
         [("add", "x <> y", "INT DEFAULT 2", False, 'ADD "x <> y"INT DEFAULT 2')]),
    ],
)
def test_using_alter(cmd, text, actions):
    (got,) = commands(f"({cmd})")
    assert (got.op, got.pieces) == ("ALTER", ("ALTER", text))
    assert got.alter == tuple(P.AlterAction(*a) for a in actions)


def test_using_commands_are_not_analysed_as_part_of_the_statement():
    """The engine runs each command through parse_statement: refs, AT VERSION and SEMANTIC_*
    inside commands are found then, not in the CREATE SNAPSHOT plan."""
    sql = ("CREATE SNAPSHOT m0 FROM @1.0.0 USING (DELETE WHERE SEMANTIC_MATCH(body, 'river', 0.3); "
           "INSERT SELECT * FROM m0@1.0.0 JOIN t AT VERSION 'v' USING (id))")
    plan = parse(sql)
    assert (plan.refs, plan.semantic, plan.template, plan.sql) == ((), (), None, sql)
    delete, insert = plan.detail.commands
    assert parse(f"DELETE FROM w WHERE {delete.where}").semantic[0].function == "SEMANTIC_MATCH"
    inner = parse(f"INSERT INTO w {insert.insert}")
    assert [type(r) for r in inner.refs] == [P.VersionRef, P.SnapshotRef]


def test_using_batch_shapes():
    plain = commands("(INSERT VALUES (1); UPDATE SET a = 2; DELETE WHERE a = 3; ALTER ADD b int)")
    assert [c.op for c in plain] == ["INSERT", "UPDATE", "DELETE", "ALTER"]
    doubled = commands("((INSERT VALUES (1); UPDATE SET a = 2; DELETE WHERE a = 3; ALTER ADD b int))")
    assert [replace(c, position=c.position - 1) for c in doubled] == list(plain)
    assert [c.pieces for c in commands("( ; ;INSERT VALUES (1);; ;DELETE; )")] == [("INSERT", "VALUES (1)"), ("DELETE",)]
    odd = commands("(INSERT VALUES ('a;b', \"c;d\"); DELETE WHERE s = ';' -- ; comment\n)")
    assert [c.pieces for c in odd] == [("INSERT", "VALUES ('a;b', \"c;d\")"), ("DELETE", "WHERE s = ';'")]
    # a comment inside a clause stays in its piece
    (cmd,) = commands("(DELETE WHERE /* ; */ a = 1)")
    assert (cmd.pieces, cmd.where) == (("DELETE", "WHERE /* ; */ a = 1"), "a = 1")
    sql = "CREATE SNAPSHOT m0 FROM @1.0.0 USING (\n  DELETE;\n  UPDATE SET a = 1)"
    assert [c.position for c in detail(sql).commands] == [sql.index("DELETE"), sql.index("UPDATE")]


@pytest.mark.parametrize(
    "using, message, near",
    [
        ("()", "List of snapshot modifications is empty.", "()"),
        ("(())", "List of snapshot modifications is empty.", "(())"),
        ("( ; ; )", "List of snapshot modifications is empty.", "( ; ; )"),
        ("", "expected ( after USING", None),
        ("(DELETE", "unbalanced parentheses in USING (...)", "(DELETE"),
        ("(DELETE) x", "unexpected text after the end of the statement", "x"),
        ("(WHERE x = 1)", "missing INSERT / UPDATE / DELETE keyword before WHERE clause at: 'WHERE x = 1'", "WHERE"),
        ("(FROM t)", "missing INSERT / UPDATE keyword before FROM clause at: 'FROM t'", "FROM t"),
        ("(USING t)", "missing DELETE keyword before USING clause at: 'USING t'", "USING t"),
        ("(SET a = 1)", "missing UPDATE keyword before SET clause at: 'SET a = 1'", "SET"),
        ("(AS a)", "missing UPDATE / DELETE keyword before AS clause at: 'AS a'", "AS a"),
        ("(DELETE; SELECT 1)", "missing ALTER / INSERT / UPDATE / DELETE keyword before SQL clause: 'SELECT 1'", "SELECT"),
        ("(INSERT)", "missing auxiliary clauses in INSERT", "INSERT"),
        ("(INSERT INTO SNAPSHOT)", "missing auxiliary clauses in INSERT", "INSERT"),
        ("(INSERT (a) DEFAULT)", "missing SELECT or VALUES clause in INSERT operation", "(a)"),
        ("(INSERT INTO t VALUES (1))",
         "INSERT in USING adds rows to the new snapshot: write INSERT [INTO SNAPSHOT] SELECT ... | VALUES ...", "t VALUES"),
        ("(UPDATE)", "missing auxiliary clauses in UPDATE", "UPDATE"),
        ("(UPDATE AS i)", "missing auxiliary clauses in UPDATE", "UPDATE"),
        ("(UPDATE WHERE a = 1)", "missing SET clause in UPDATE operation", "WHERE"),
        ("(UPDATE t SET a = 1)", "illegal SQL clause in UPDATE at: 't SET a = 1'", "t SET"),
        ("(UPDATE SET a = 1 WHERE a = 1 WHERE b = 2)", "multiple WHERE clauses in UPDATE at: 'WHERE b = 2'", "WHERE b"),
        ("(UPDATE SET a = 1 FROM t FROM u)", "multiple FROM clauses in UPDATE at: 'FROM u'", "FROM u"),
        ("(UPDATE AS a AS b SET x = 1)", "multiple AS clauses in UPDATE at: 'AS b SET x = 1'", "AS b"),
        ("(UPDATE AS SET x = 1)", "illegal SQL clause in UPDATE at: 'x = 1'", "x = 1"),
        ("(UPDATE AS 'a' SET x = 1)", "expected an alias after AS in UPDATE", "'a'"),
        ("(UPDATE SET WHERE b = 2)", "expected text after SET", "SET"),
        ("(UPDATE SET a = 1 FROM WHERE b)", "expected text after FROM", "FROM"),
        ("(DELETE FROM t WHERE a = 1)", "illegal FROM clause in DELETE at: 'FROM t WHERE a = 1'", "FROM t"),
        ("(DELETE SET a = 1)", "illegal SET clause in DELETE at: 'SET a = 1'", "SET"),
        ("(DELETE x)", "illegal SQL clause in DELETE at: 'x'", "x)"),
        ("(DELETE WHERE)", "expected text after WHERE", "WHERE"),
        ("(DELETE USING WHERE a)", "expected text after USING", "USING"),
        ("(DELETE WHERE a WHERE b)", "multiple WHERE clauses in DELETE at: 'WHERE b'", "WHERE b"),
        ("(DELETE AS a AS b)", "multiple AS clauses in DELETE at: 'AS b'", "AS b"),
        ("(ALTER)", "missing auxiliary clauses in ALTER", "ALTER"),
        ("(ALTER SNAPSHOT)", "missing auxiliary clauses in ALTER", "ALTER"),
        ("(ALTER Add b, c)",
         "expected ADD or DROP keyword before 'c' in: 'Add b, c' (hint: currently only ADD and DROP supported)", "c)"),
        ("(ALTER RENAME a TO b)",
         "expected ADD or DROP keyword before 'RENAME' in: 'RENAME a TO b' (hint: currently only ADD and DROP supported)",
         "RENAME"),
        ("(ALTER ADD c int,)", "expected ADD or DROP keyword in: 'ADD c int,'", ")"),
        ("(ALTER DROP IF x)", "expected EXISTS keyword in DROP operation after 'IF' in: 'DROP IF x'", "x)"),
        ("(ALTER ADD)", "unable to extract column name in ADD operation: 'ADD'", "ADD"),
        ("(ALTER DROP COLUMN IF EXISTS)", "unable to extract column name in DROP operation: 'DROP COLUMN IF EXISTS'", "DROP"),
        ("(ALTER ADD 'c' int)", "unable to extract column name in ADD operation: 'ADD 'c' int'", "'c'"),
        ("(ALTER Add \"abc\"@ int)", 'syntax error at or near "@"', "@ int"),
        ("(ALTER DROP c CASCADE)", 'syntax error at or near "CASCADE"', "CASCADE"),
        ("(ALTER ADD c int WHERE x)", "illegal WHERE clause in ALTER at: 'WHERE x'", "WHERE"),
        ("(ALTER ADD c int FROM t)", "illegal FROM clause in ALTER at: 'FROM t'", "FROM"),
        ("(ALTER TABLE t ADD c int)",
         "ALTER in USING changes the new snapshot: write ALTER [SNAPSHOT] ADD ... | DROP ...", "t ADD"),
    ],
)
def test_using_errors(using, message, near):
    fails(f"CREATE SNAPSHOT m0 FROM @1.0.0 USING {using}", message, near)


@pytest.mark.parametrize(
    "sql, message, near",
    [
        ("CREATE SNAPSHOT m0 FROM @1.0.0", "expected USING (command; ...) in CREATE SNAPSHOT ... FROM", None),
        ("CREATE SNAPSHOT m0 FROM 1.0.0 USING (DELETE)",
         "expected @version of the parent snapshot after FROM: "
         "reference a snapshot using the format: snapshot_name@version", "1.0.0"),
        ("CREATE SNAPSHOT m0 FROM m0@1.0.0 USING (DELETE)",
         "expected @version of the parent snapshot after FROM: "
         "reference a snapshot using the format: snapshot_name@version", "m0@"),
        ("CREATE SNAPSHOT m0 FROM @1.0.0 AS SELECT 1", "expected USING (command; ...) in CREATE SNAPSHOT ... FROM", "AS"),
    ],
)
def test_create_from_errors(sql, message, near):
    fails(sql, message, near)


# ------------------------------------------------------------------- SAMPLE / PUBLISH / ...


def test_sample():
    sql = ("SAMPLE SNAPSHOT s.cars@2.0.0 STRATIFY BY Color, \"Size\" "
           "AS _train AT RATIO .8 COMMENT IS 'training', AS \"_Test\" AT RATIO 0.2, AS _all AT RATIO 1")
    plan = parse(sql)
    assert plan.kind == P.SAMPLE_SNAPSHOT and plan.sql == sql
    assert plan.detail == P.SampleSnapshot(
        P.SnapshotName("s", "cars", V(parts=("2", "0", "0")), sql.index("s.cars")),
        ("color", "Size"),
        (
            P.SampleSpec("_train", 0.8, ".8", "training"),
            P.SampleSpec("_Test", 0.2, "0.2", None),
            P.SampleSpec("_all", 1.0, "1", None),  # AT RATIO 1: accepted (openGauss wants 1.0)
        ),
    )
    assert detail("sample snapshot s1@2.0 as nick at ratio .5").samples == (P.SampleSpec("nick", 0.5, ".5"),)


@pytest.mark.parametrize(
    "sql, message, near",
    [
        ("SAMPLE SNAPSHOT m0 AS _a AT RATIO .5",
         "expected @version after the snapshot name: reference a snapshot using the format: snapshot_name@version", "AS"),
        ("SAMPLE SNAPSHOT m0@1.0.0 AS _a AT RATIO 0", "sample ratio must be between 0 and 1", "0"),
        ("SAMPLE SNAPSHOT m0@1.0.0 AS _a AT RATIO 1.5", "sample ratio must be between 0 and 1", "1.5"),
        ("SAMPLE SNAPSHOT m0@1.0.0 AS _a AT RATIO -0.5", "expected a ratio (a number such as .8) after AT RATIO", "-"),
        ("SAMPLE SNAPSHOT m0@1.0.0 AS _a AT RATIO x", "expected a ratio (a number such as .8) after AT RATIO", "x"),
        ("SAMPLE SNAPSHOT m0@1.0.0 AS _a RATIO .5", "expected AT RATIO", "RATIO"),
        ("SAMPLE SNAPSHOT m0@1.0.0 _a AT RATIO .5", "expected AS label AT RATIO r in SAMPLE SNAPSHOT", "_a"),
        ("SAMPLE SNAPSHOT m0@1.0.0", "expected AS label AT RATIO r in SAMPLE SNAPSHOT", None),
        ("SAMPLE SNAPSHOT m0@1.0.0 AS AT RATIO .5", "expected AT RATIO", "RATIO"),
        ("SAMPLE SNAPSHOT m0@1.0.0 AS 'a' AT RATIO .5",
         "expected a sample label (the name infix, e.g. _train) after AS", "'a'"),
        ("SAMPLE SNAPSHOT m0@1.0.0 STRATIFY BY AS _a AT RATIO .5", "expected a column name after STRATIFY BY", "AS"),
        ("SAMPLE SNAPSHOT m0@1.0.0 STRATIFY a AS _a AT RATIO .5", "expected BY", "a AS"),
        ("SAMPLE SNAPSHOT m0@1.0.0 AS _a AT RATIO .5,", "expected AS label AT RATIO r in SAMPLE SNAPSHOT", None),
        ("SAMPLE SNAPSHOT m0@1.0.0 AS _a AT RATIO .5 x", "unexpected text after the end of the statement", "x"),
    ],
)
def test_sample_errors(sql, message, near):
    fails(sql, message, near)


@pytest.mark.parametrize("action", ["publish", "archive", "purge"])
def test_manage(action):
    sql = f"{action.upper()} SNAPSHOT main.m0 @ 'rev 1.1'"
    plan = parse(sql)
    assert plan.kind == P.MANAGE_SNAPSHOT and plan.sql == sql
    assert plan.detail == P.ManageSnapshot(action, P.SnapshotName("main", "m0", V(literal="rev 1.1"), sql.index("main")))
    fails(f"{action} snapshot m0",
          "expected @version after the snapshot name: reference a snapshot using the format: snapshot_name@version")
    fails(f"{action} snapshot m0@1.0.0 now", "unexpected text after the end of the statement", "now")
    fails(f"{action} snapshot @1.0.0", "expected snapshot name", "@1.0.0")


# ----------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    "sql, kind, param",
    [
        ("SET db4ai_snapshot_mode = CSS", P.SET_PARAMETER, ("db4ai_snapshot_mode", "css", False)),
        ("set DB4AI_SNAPSHOT_MODE to 'MSS'", P.SET_PARAMETER, ("db4ai_snapshot_mode", "MSS", False)),
        ("SET SESSION db4ai_snapshot_mode = 8", P.SET_PARAMETER, ("db4ai_snapshot_mode", "8", False)),
        ("SET db4ai_snapshot_version_delimiter = '#'", P.SET_PARAMETER, ("db4ai_snapshot_version_delimiter", "#", False)),
        ("SET db4ai_snapshot_version_separator TO '_'", P.SET_PARAMETER, ("db4ai_snapshot_version_separator", "_", False)),
        ("SET db4ai_sample_seed = 42", P.SET_PARAMETER, ("db4ai_sample_seed", "42", False)),
        ("SET db4ai_sample_seed = -7", P.SET_PARAMETER, ("db4ai_sample_seed", "-7", False)),
        ("SET db4ai_sample_seed = +7", P.SET_PARAMETER, ("db4ai_sample_seed", "7", False)),
        ("SET db4ai_sample_seed = DEFAULT", P.SET_PARAMETER, ("db4ai_sample_seed", None, False)),
        ('SET "db4ai_snapshot_mode" = "CSS"', P.SET_PARAMETER, ("db4ai_snapshot_mode", "CSS", False)),
        ("RESET db4ai_snapshot_mode", P.SET_PARAMETER, ("db4ai_snapshot_mode", None, False)),
        ("SHOW db4ai_snapshot_version_delimiter", P.SHOW_PARAMETER, ("db4ai_snapshot_version_delimiter", None, False)),
        ("ALTER DATABASE SET db4ai_snapshot_mode = css", P.SET_PARAMETER, ("db4ai_snapshot_mode", "css", True)),
        ("alter database set db4ai_sample_seed to 3", P.SET_PARAMETER, ("db4ai_sample_seed", "3", True)),
        ("ALTER DATABASE SET db4ai_sample_seed TO DEFAULT", P.SET_PARAMETER, ("db4ai_sample_seed", None, True)),
        ("ALTER DATABASE RESET db4ai_snapshot_version_separator", P.SET_PARAMETER,
         ("db4ai_snapshot_version_separator", None, True)),
    ],
)
def test_parameters(sql, kind, param):
    plan = parse(sql)
    assert plan.kind == kind and plan.sql == sql
    got = plan.detail
    assert (got.name, got.value, got.persist) == param
    # the position points at the value (SET forms) or at the name (RESET, SHOW)
    at = sql[got.position :].lower()
    if got.value is None and kind == P.SET_PARAMETER and "default" in sql.lower():
        assert at == "default"
    elif got.value is None:
        assert at.startswith(got.name)
    else:
        assert at.lstrip("+'\"").startswith(got.value.lower())


@pytest.mark.parametrize(
    "sql, message, near, cls",
    [
        ("SET foo = 1", 'unrecognized configuration parameter "foo"', "foo", SqlSyntaxError),
        ("SHOW search_path", 'unrecognized configuration parameter "search_path"', "search_path", SqlSyntaxError),
        ("RESET x", 'unrecognized configuration parameter "x"', "x", SqlSyntaxError),
        ("ALTER DATABASE SET x = 1", 'unrecognized configuration parameter "x"', "x", SqlSyntaxError),
        ("SET", "expected a parameter name after SET", None, SqlSyntaxError),
        ("SHOW 'x'", "expected a parameter name after SHOW", "'x'", SqlSyntaxError),
        ("SET db4ai_snapshot_mode", "expected = or TO after db4ai_snapshot_mode", None, SqlSyntaxError),
        ("SET db4ai_snapshot_mode =", "expected a value for db4ai_snapshot_mode", None, SqlSyntaxError),
        ("SET db4ai_snapshot_mode = (1)", "expected a value (a name, 'string' or number) for db4ai_snapshot_mode",
         "(1)", SqlSyntaxError),
        ("SET db4ai_snapshot_mode = - x", "expected a value (a name, 'string' or number) for db4ai_snapshot_mode",
         "-", SqlSyntaxError),
        ("SET db4ai_snapshot_mode = a b", "unexpected text after the end of the statement", "b", SqlSyntaxError),
        ("SHOW db4ai_sample_seed x", "unexpected text after the end of the statement", "x", SqlSyntaxError),
        ("RESET ALL", "RESET ALL is not supported: name the parameter", "ALL", UnsupportedSyntax),
        ("SHOW ALL", "SHOW ALL is not supported: name the parameter", "ALL", UnsupportedSyntax),
        ("ALTER DATABASE main db4ai_snapshot_mode = css",
         "expected SET or RESET after ALTER DATABASE (galaxlite has one database per file)", "main", SqlSyntaxError),
    ],
)
def test_parameter_errors(sql, message, near, cls):
    fails(sql, message, near, cls)


# ---------------------------------------------------------------- refs inside statements


def refs_of(sql: str) -> list[tuple]:
    plan = parse(sql)
    return [
        (r.snapshot.schema, r.snapshot.name, r.snapshot.version.render("."), sql[r.position :][:2])
        for r in plan.refs
        if isinstance(r, P.SnapshotRef)
    ]


@pytest.mark.parametrize(
    "sql, kind, pieces",
    [
        ("SELECT * FROM m0@1.0.0", P.READ, ("SELECT * FROM ", 0, ' AS "m0"')),
        ("SELECT * FROM m0@1.0.0 AS a", P.READ, ("SELECT * FROM ", 0, " AS a")),
        ("SELECT * FROM m0@1.0.0 a WHERE a.x = 1", P.READ, ("SELECT * FROM ", 0, " a WHERE a.x = 1")),
        ('SELECT * FROM m0@1.0.0 "A"', P.READ, ("SELECT * FROM ", 0, ' "A"')),
        ("SELECT m0.x FROM main.m0 @ 2021 WHERE m0.x > 1", P.READ, ("SELECT m0.x FROM ", 0, ' AS "m0" WHERE m0.x > 1')),
        ("SELECT * FROM (m0@1.0.0)", P.READ, ("SELECT * FROM (", 0, ' AS "m0")')),
        ("SELECT * FROM t, m0@squash, u", P.READ, ("SELECT * FROM t, ", 0, ' AS "m0", u')),
        ("SELECT * FROM t JOIN m0@'rev 1.1' ON t.id = m0.id", P.READ,
         ("SELECT * FROM t JOIN ", 0, ' AS "m0" ON t.id = m0.id')),
        ("SELECT * FROM t LEFT JOIN \"My S\"@\"v 2\" s USING (id)", P.READ, ("SELECT * FROM t LEFT JOIN ", 0, " s USING (id)")),
        ("SELECT (SELECT count(*) FROM m0@1.0.0) AS n", P.READ, ("SELECT (SELECT count(*) FROM ", 0, ' AS "m0") AS n')),
        ("WITH x AS (SELECT * FROM m0@1.0.0) SELECT * FROM x", P.READ,
         ("WITH x AS (SELECT * FROM ", 0, ' AS "m0") SELECT * FROM x')),
        ("SELECT * FROM m0@1.0.0 UNION ALL SELECT * FROM m0@2.0.0", P.READ,
         ("SELECT * FROM ", 0, ' AS "m0" UNION ALL SELECT * FROM ', 1, ' AS "m0"')),
        ("INSERT INTO t SELECT * FROM m0@1.0.0", P.WRITE, ("INSERT INTO t SELECT * FROM ", 0, ' AS "m0"')),
        ("UPDATE t SET a = s.a FROM m0@1.0.0 AS s WHERE s.id = t.id", P.WRITE,
         ("UPDATE t SET a = s.a FROM ", 0, " AS s WHERE s.id = t.id")),
        ("DELETE FROM t WHERE id IN (SELECT id FROM m0@1.0.0)", P.WRITE,
         ("DELETE FROM t WHERE id IN (SELECT id FROM ", 0, ' AS "m0")')),
        ("CREATE TABLE c AS SELECT * FROM m0@1.0.0", P.CREATE_TABLE, ("CREATE TABLE c AS SELECT * FROM ", 0, ' AS "m0"')),
        ("CREATE VIEW v AS SELECT * FROM m0@1.0.0", P.OTHER, ("CREATE VIEW v AS SELECT * FROM ", 0, ' AS "m0"')),
        ("BULK INSERT INTO t SELECT * FROM m0@1.0.0", P.BULK_INSERT, ("INSERT INTO t SELECT * FROM ", 0, ' AS "m0"')),
    ],
)
def test_refs_become_holes(sql, kind, pieces):
    plan = parse(sql)
    assert plan.kind == kind
    assert plan.template.pieces == pieces
    assert all(isinstance(r, P.SnapshotRef) for r in plan.refs)


def test_ref_names_and_positions():
    assert refs_of("SELECT * FROM Main.M0@1.0.0 JOIN \"Mixed\"@X ON 1") == [
        ("main", "m0", "1.0.0", "Ma"), (None, "Mixed", "x", '"M'),
    ]
    plan = parse("SELECT * FROM m0@1.0.0")
    assert plan.refs[0] == P.SnapshotRef(P.SnapshotName(None, "m0", V(parts=("1", "0", "0")), 14), 14)


def test_snapshot_and_version_refs_share_the_hole_numbering():
    sql = "SELECT * FROM a@1.0.0 JOIN t AT VERSION 'v' ON 1 JOIN b@2 ON 1 WHERE SEMANTIC_MATCH(t.x, 'q', 0.5)"
    plan = parse(sql)
    assert [type(r).__name__ for r in plan.refs] == ["VersionRef", "SnapshotRef", "SnapshotRef"]
    assert plan.template.pieces == (
        "SELECT * FROM ", 1, ' AS "a" JOIN ', 0, ' AS "t" ON 1 JOIN ', 2, ' AS "b" ON 1 WHERE ', 3, "",
    )
    assert plan.semantic[0].hole == 3
    assert plan.consumed_params == ()


def test_semantic_calls_see_snapshot_items():
    for sql, exposed in [
        ("SELECT * FROM m0@1.0 WHERE SEMANTIC_MATCH(m0.body, 'x', 0.5)", "m0"),
        ("SELECT * FROM m0 @ squash d WHERE SEMANTIC_MATCH(d.body, 'x', 0.5)", "d"),
        ("SELECT * FROM m0@'a b' AS d WHERE SEMANTIC_MATCH(d.body, 'x', 0.5)", "d"),
        ("SELECT * FROM m0@\"a\" WHERE SEMANTIC_MATCH(body, 'x', 0.5)", "m0"),
    ]:
        (item,) = parse(sql).semantic[0].scopes[0]
        assert (item.name, item.exposed, item.ref) == ("m0", exposed, 0)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM t WHERE x = @p",
        "SELECT @a, @b",
        "INSERT INTO t VALUES (@a, @b)",
        "INSERT INTO t (a) SELECT @a WHERE @b",
        "UPDATE t SET a = @a WHERE b = @b",
        "DELETE FROM t WHERE x IN (@a, @b)",
        "SELECT * FROM t ORDER BY a LIMIT @n OFFSET @o",
        "SELECT * FROM t LIMIT @n",
        "SELECT * FROM t, u LIMIT @n",
        "SELECT * FROM fts WHERE fts MATCH @q",
        "SELECT * FROM t WHERE a BETWEEN @lo AND @hi",
        "SELECT * FROM json_each(@j)",
    "SELECT * FROM (SELECT @p AS a)",
    "SELECT * FROM (VALUES (@p)) JOIN (WITH x AS (SELECT 1) SELECT @q) ON 1",
        "SELECT * FROM generate_series(1, @n)",
        "SELECT 'a@b.c' AS email, \"x@y\" FROM t -- m0@1.0.0\n",
        "SELECT db4ai.snapshot FROM db4ai",
        "SELECT * FROM t WHERE db4ai.snapshot = 1",
        "INSERT INTO t (a, b) VALUES (a IS DISTINCT FROM @p, db4ai.snapshot)",
        "INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET a = @a",
    ],
)
def test_at_parameters_and_lookalikes_are_left_alone(sql):
    plan = parse(sql)
    assert plan.refs == () and plan.template is None
    assert plan.sql == sql.strip().removesuffix("-- m0@1.0.0").strip()


@pytest.mark.parametrize("sql", ["SELECT 1 @ 2", "SELECT @", "SELECT * FROM t WHERE x = @ p"])
def test_a_lone_at_outside_a_relation_is_still_a_lexical_error(sql):
    fails(sql, "unrecognized token '@'", "@")


def test_catalog_table_name():
    assert parse("SELECT * FROM db4ai.snapshot").sql == 'SELECT * FROM db4ai_snapshot AS "snapshot"'
    assert parse("SELECT s.name FROM DB4AI.Snapshot s").sql == "SELECT s.name FROM db4ai_snapshot s"
    assert parse('SELECT * FROM t JOIN "db4ai"."snapshot" AS c ON 1').sql == (
        "SELECT * FROM t JOIN db4ai_snapshot AS c ON 1"
    )
    assert parse("SELECT * FROM m0@1.0.0, db4ai.snapshot").template.pieces == (
        "SELECT * FROM ", 0, ' AS "m0", db4ai_snapshot AS "snapshot"',
    )


@pytest.mark.parametrize(
    "sql, near, shown",
    [
        ("INSERT INTO m0@1.0.0 VALUES (1)", "m0@", "m0@1.0.0"),
        ("INSERT OR REPLACE INTO m0@1.0.0 VALUES (1)", "m0@", "m0@1.0.0"),
        ("REPLACE INTO m0@1.0.0 VALUES (1)", "m0@", "m0@1.0.0"),
        ("UPDATE m0 @ 1.0.0 SET a = 1", "m0 @", "m0 @ 1.0.0"),
        ("UPDATE OR IGNORE m0@1.0.0 SET a = 1", "m0@", "m0@1.0.0"),
        ('DELETE FROM s.m0@"x" WHERE 1', "s.m0", 's.m0@"x"'),
        ("CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM m0@1.0.0; END", "m0@", "m0@1.0.0"),
    ],
)
def test_snapshots_are_read_only(sql, near, shown):
    err = fails(sql, f"snapshot {shown} is read-only: snapshots are immutable", near, SnapshotIsReadOnly)
    assert isinstance(err, PastIsReadOnly)  # the engine maps it like AT VERSION writes


@pytest.mark.parametrize("sql", ["INSERT INTO db4ai.snapshot VALUES (1)", "DELETE FROM db4ai.snapshot",
                                 "UPDATE db4ai.snapshot SET published = 1"])
def test_catalog_is_read_only(sql):
    fails(sql, "db4ai.snapshot is read-only: it changes through CREATE / SAMPLE / PUBLISH / ARCHIVE / "
          "PURGE SNAPSHOT", "db4ai", SnapshotIsReadOnly)


def test_scripts_mix_snapshot_statements():
    plans = transpile.parse_script(
        "SET db4ai_snapshot_mode = CSS; CREATE SNAPSHOT m0 AS SELECT * FROM t;"
        "CREATE SNAPSHOT m0 FROM @1.0.0 USING (UPDATE SET a = ';'; DELETE WHERE a IS NULL);"
        "SELECT * FROM m0@1.0.1; SHOW db4ai_snapshot_mode; PURGE SNAPSHOT m0@1.0.1"
    )
    assert [p.kind for p in plans] == [
        P.SET_PARAMETER, P.CREATE_SNAPSHOT, P.CREATE_SNAPSHOT, P.READ, P.SHOW_PARAMETER, P.MANAGE_SNAPSHOT,
    ]
    assert [c.pieces for c in plans[2].detail.commands] == [("UPDATE", "SET a = ';'"), ("DELETE", "WHERE a IS NULL")]


# the seed's examples (SPEC §4's source, seeds/003): the CREATE statements come from the engine tests
SEED_EXAMPLES = "SET db4ai_snapshot_mode = CSS;" + SEED_SCRIPT + """
ALTER DATABASE SET db4ai_snapshot_version_delimiter = '#';
SELECT * FROM public.data@1.2.3; SELECT * FROM accounting.invoice@2021; SELECT * FROM user.cars@cleaned;
SELECT * FROM user.cars@"rev 1.1"; SELECT * FROM user.cars@'rev 1.1';
SELECT * FROM public."data@1.2.3"; SELECT * FROM public.data#1_2_3;
CREATE SNAPSHOT public.cars AS SELECT id, make, price, modified FROM cars_table;
CREATE SNAPSHOT public.cars FROM @1.0.0 USING ( ALTER ADD year int, DROP make; INSERT SELECT * FROM
cars_table WHERE modified=CURRENT_DATE; UPDATE SET year=in.year FROM cars_table in WHERE
SNAPSHOT.id=in.id; DELETE WHERE modified < CURRENT_DATE - 30 )
"""


def test_the_seed_examples_parse():
    script = SEED_EXAMPLES.replace("SELECT * FROM public.data#1_2_3;", "")  # '#' is not SQLite's
    plans = transpile.parse_script(script)
    kinds = [p.kind for p in plans]
    assert kinds == [P.SET_PARAMETER] + [P.CREATE_SNAPSHOT] * 5 + [P.SET_PARAMETER] + [P.READ] * 6 + [
        P.CREATE_SNAPSHOT
    ] * 2
    second = plans[2].detail
    assert [c.op for c in second.commands] == ["UPDATE", "ALTER", "UPDATE", "ALTER", "DELETE"]
    assert [(a.action, a.column, a.definition) for a in second.commands[1].alter] == [
        ("add", " u+ ", "INTEGER"), ("add", "x <> y", "INT DEFAULT 2"), ("add", "t", "CHAR(10) DEFAULT ''"),
        ("drop", "a2", ""), ("drop", "b9", ""), ("drop", "b10", ""),
    ]
    assert second.commands[4].pieces == ("DELETE", "WHERE pk = 3")
    assert plans[4].detail.commands[0].pieces == (
        "DELETE", "USING test_data o", "WHERE SNAPSHOT.pk =\no.pk AND o.A7 % 2 = 0"
    )  # the user's text, line breaks included
    refs = [p.refs[0].snapshot for p in plans[7:12]]
    assert [(r.schema, r.name, r.version.render("#")) for r in refs] == [
        ("public", "data", "1#2#3"), ("accounting", "invoice", "2021"), ("user", "cars", "cleaned"),
        ("user", "cars", "rev 1.1"), ("user", "cars", "rev 1.1"),
    ]
    assert plans[12].refs == () and plans[12].sql == 'SELECT * FROM main."data@1.2.3"'
    last = plans[-1].detail.commands
    assert [c.pieces[0] for c in last] == ["ALTER", "INSERT", "UPDATE", "DELETE"]
    assert (last[2].from_, last[2].where) == ("cars_table in", "SNAPSHOT.id=in.id")
    # the separator example: the view's name, quoted (SQLite has no '#' token)
    assert transpile.parse_statement("SELECT * FROM public.data#1_2_3").sql == 'SELECT * FROM main."data#1_2_3"'
    with pytest.raises(SqlSyntaxError, match="unrecognized token '#'"):
        transpile.parse_statement("SELECT a # b FROM t")


# ------------------------------------------------------------------------------ properties

_WORD_START = string.ascii_letters + "_"
_words = st.text(_WORD_START, min_size=1, max_size=1).flatmap(
    lambda first: st.text(_WORD_START + string.digits, max_size=8).map(lambda rest: first + rest)
)
_RESERVED = {w.lower() for w in (
    "WHERE JOIN INNER LEFT RIGHT FULL OUTER CROSS NATURAL ON USING GROUP ORDER LIMIT UNION INTERSECT "
    "EXCEPT WINDOW HAVING INDEXED NOT RETURNING SET VALUES DO FROM SELECT OFFSET AS AND OR TO WITH COMMENT "
    "DISTRIBUTE STRATIFY"
).split()}
_plain_words = _words.filter(lambda w: w.lower() not in _RESERVED)


@st.composite
def versions(draw) -> tuple[str, P.SnapshotVersion]:
    """(as written, the version the parser must produce)."""
    kind = draw(st.sampled_from(["num", "word", "qident", "string"]))
    if kind == "num":
        parts = draw(st.lists(st.text(string.digits, min_size=1, max_size=4), min_size=1, max_size=5))
        want = (str(int(parts[0])),) if len(parts) == 1 else tuple(parts)
        return ".".join(parts), V(parts=want)
    if kind == "word":
        word = draw(_plain_words)
        return word, V(literal=word.lower())
    text = draw(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=12))
    if kind == "qident":
        return '"' + text.replace('"', '""') + '"', V(literal=text)
    return "'" + text.replace("'", "''") + "'", V(literal=text)


@st.composite
def names(draw) -> tuple[str, str]:
    if draw(st.booleans()):
        word = draw(_plain_words)
        return word, word.lower()
    text = draw(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=10))
    return '"' + text.replace('"', '""') + '"', text


_spaces = st.sampled_from(["", " ", "  ", "\n", "\t "])


@settings(max_examples=300, deadline=None)
@given(names(), st.one_of(st.none(), names()), versions(), _spaces, _spaces)
def test_names_and_versions_round_trip(name, schema, version, before, after):
    written_name = name[0] if schema is None else f"{schema[0]}.{name[0]}"
    written = f"{written_name}{before}@{after}{version[0]}"
    # a number right after "@" with no blank: the lexer sees a parameter "@1" (still a version)
    want = P.SnapshotName(None if schema is None else schema[1], name[1], version[1], 0)

    def same(got: P.SnapshotName, offset: int) -> None:
        assert got == P.SnapshotName(want.schema, want.name, want.version, offset)

    sql = f"PUBLISH SNAPSHOT {written}"
    same(detail(sql).name, len("PUBLISH SNAPSHOT "))
    sql = f"SELECT * FROM {written} WHERE x = @p"
    plan = parse(sql)
    (ref,) = plan.refs
    same(ref.snapshot, len("SELECT * FROM "))
    assert plan.template.pieces == ("SELECT * FROM ", 0, " AS " + transpile.quote_identifier(name[1]) + " WHERE x = @p")
    sql = f"CREATE SNAPSHOT {written} FROM @{version[0]} USING (DELETE)"
    d = detail(sql)
    same(d.name, len("CREATE SNAPSHOT "))
    assert d.parent == version[1]


# Statements without snapshot syntax: a small grammar of SELECT / INSERT / UPDATE / DELETE with
# @parameters, '@' inside strings, comments and quoted names, and db4ai used as an ordinary name.
_exprs = st.sampled_from([
    "1", "a", "t.a", "@p", "@q1", ":n", "?", "'x@y.z'", "\"c@d\"", "db4ai", "db4ai.snapshot", "a + @p",
    "(SELECT max(b) FROM u WHERE u.k = @k)", "a IS DISTINCT FROM @p", "lower('@')", "x /* m0@1.0.0 */",
])
_tables = st.sampled_from(["t", "u AS x", "\"a@b\"", "db4ai", "main.t", "(SELECT @p AS a)"])


@st.composite
def plain_statements(draw) -> str:
    shape = draw(st.sampled_from(["select", "insert", "update", "delete"]))
    e = [draw(_exprs) for _ in range(3)]
    if shape == "select":
        tail = draw(st.sampled_from(["", f" WHERE a = {e[2]}", f" ORDER BY a LIMIT {e[2]}", " LIMIT @n OFFSET @o"]))
        return f"SELECT {e[0]}, {e[1]} FROM {draw(_tables)}{tail}"
    if shape == "insert":
        return f"INSERT INTO t (a, b) VALUES ({e[0]}, {e[1]})"
    if shape == "update":
        return f"UPDATE t SET a = {e[0]} WHERE b = {e[1]}"
    return f"DELETE FROM t WHERE a IN ({e[0]}, {e[1]}) -- @x"


@settings(max_examples=300, deadline=None)
@given(plain_statements())
def test_plain_statements_are_not_rewritten(sql):
    plan = parse(sql)
    assert plan.refs == () and plan.template is None
    assert plan.sql == transpile.split_statements(sql)[0].text  # no edit at all
    assert plan.kind in (P.READ, P.WRITE)


@pytest.mark.parametrize("definition, word, at", [
    ("INT CHECK (q > 0)", "CHECK", "CHECK"),
    ("INT CONSTRAINT c CHECK (q > 0)", "CHECK", "CHECK"),
    ("INT REFERENCES t (id) ON DELETE CASCADE", "REFERENCES", "REFERENCES"),
    ("INT GENERATED ALWAYS AS (id * 2) STORED", "GENERATED", "GENERATED"),
    ("AS (id * 2)", "GENERATED", "AS"),
    ("INT UNIQUE", "UNIQUE", "UNIQUE"),
    ("INTEGER PRIMARY KEY", "PRIMARY", "PRIMARY"),
])
def test_alter_add_refuses_column_constraints(definition, word, at):
    sql = f"CREATE SNAPSHOT s FROM @1.0.0 USING (ALTER ADD q {definition})"
    with pytest.raises(UnsupportedSyntax, match=f"column constraint {word} is not supported") as info:
        transpile.parse_statement(sql)
    assert info.value.position == sql.index(at, sql.index("ADD q"))


def test_alter_add_keeps_type_default_not_null_and_collate():
    sql = ("CREATE SNAPSHOT s FROM @1.0.0 USING (ALTER ADD q DECIMAL(10, 2) NOT NULL "
           "DEFAULT (CAST(1 AS REAL)) COLLATE NOCASE)")
    (action,) = transpile.parse_statement(sql).detail.commands[0].alter
    assert action.definition == "DECIMAL(10, 2) NOT NULL DEFAULT (CAST(1 AS REAL)) COLLATE NOCASE"
