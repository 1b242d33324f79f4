"""Builders of the statements galaxlite gives a meaning of its own, one small function each.

Each builder gets a ``Cursor`` over the statement's tokens and returns ``(kind, detail)``:
the plan kind (``galaxlite.transpile.plan``) and its detail record. ``analysis.analyze``
picks the builder by the statement's leading keywords (its ``RULES`` table) and runs the
rewriting passes after it. Here: CREATE / ALTER / DROP TABLE (ALTER TABLE ... ENABLE
VERSIONING too), DROP VIEW, CREATE / DROP VERSION TAG with its TRAINING options, INSERT /
REPLACE / BULK INSERT, and the transaction statements; everything else is classified as a
read, a write or other SQL that runs as written.

>>> from galaxlite.transpile.lexer import split_statements
>>> (stmt,) = split_statements("CREATE VERSION TAG 'v1' FOR TRAINING TRAINING SEED 7")
>>> build_create_tag(Cursor(stmt))
('create_tag', TagStatement(name='v1', param=None, if_exists=False, training=TrainingOptions(precision='float32', seed=7)))
"""

from __future__ import annotations

from galaxlite.transpile import history
from galaxlite.transpile import plan as P
from galaxlite.transpile.cursor import Builder, Cursor, is_op, matching_paren, top_level
from galaxlite.transpile.dml import change_shape
from galaxlite.transpile.embeddings import build_alter_column
from galaxlite.transpile.errors import PastIsReadOnly
from galaxlite.transpile.lexer import NUMBER, OP, PARAM, Statement


def _classify(stmt: Statement) -> str:
    """READ, WRITE or OTHER for a statement with no galaxlite statement keyword."""
    first = stmt.tokens[0].upper
    if first in ("SELECT", "VALUES", "EXPLAIN"):
        return P.READ
    if first in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
        return P.WRITE
    if first == "WITH":  # the statement after the CTEs says
        toks = stmt.tokens
        k = top_level(toks, 1, len(toks), "INSERT", "UPDATE", "DELETE", "REPLACE", "SELECT", "VALUES")
        return P.WRITE if k < len(toks) and toks[k].upper not in ("SELECT", "VALUES") else P.READ
    return P.OTHER


def build_default(c: Cursor) -> tuple[str, object]:
    return _classify(c.stmt), None


def build_create_table(c: Cursor) -> tuple[str, object]:
    c.expect("CREATE")
    temp = c.accept("TEMP") or c.accept("TEMPORARY")
    c.expect("TABLE")
    if_not_exists = c.accept("IF", "NOT", "EXISTS")
    name = c.table_name()
    # The galaxlite table option WITHOUT VERSIONING: removed from the SQL SQLite sees.
    versioned = not (temp or name.is_temp)
    toks, depth = c.tokens, 0
    for k in range(c.i, len(toks)):
        tok = toks[k]
        if tok.kind == OP and tok.text in "()":
            depth += 1 if tok.text == "(" else -1
        elif depth == 0 and tok.is_word("WITHOUT") and k + 1 < len(toks) and toks[k + 1].is_word(
            "VERSIONING"
        ):
            first, last = tok, toks[k + 1]
            if k > 0 and is_op(toks[k - 1], ","):
                first = toks[k - 1]
            elif k + 2 < len(toks) and is_op(toks[k + 2], ","):
                last = toks[k + 2]
            c.remove(first, last)
            versioned = False
            break
    return P.CREATE_TABLE, P.CreateTable(name, temp or name.is_temp, if_not_exists, versioned)


def build_create_virtual_table(c: Cursor) -> tuple[str, object]:
    return P.OTHER, None


def build_alter_table(c: Cursor) -> tuple[str, object]:
    c.expect("ALTER", "TABLE")
    name_tok = c.peek()
    name = c.table_name()
    if c.at("AT", "VERSION"):
        raise c.error(
            f"table {name.name!r} AT VERSION is read-only: the past cannot be changed", name_tok,
            PastIsReadOnly,
        )
    if c.accept("ENABLE", "VERSIONING"):
        c.end()
        return P.ENABLE_VERSIONING, P.EnableVersioning(name, name_tok.start)
    if c.accept("RENAME", "TO"):
        return P.ALTER_TABLE, P.AlterTable(name, "rename_table", new=c.identifier("new table name"))
    if c.accept("RENAME"):
        c.accept("COLUMN")
        old = c.identifier("column name")
        c.expect("TO")
        return P.ALTER_TABLE, P.AlterTable(name, "rename_column", old, c.identifier("column name"))
    if c.accept("ADD"):
        c.accept("COLUMN")
        return P.ALTER_TABLE, P.AlterTable(name, "add_column", new=c.identifier("column name"))
    if c.accept("DROP"):
        c.accept("COLUMN")
        return P.ALTER_TABLE, P.AlterTable(name, "drop_column", old=c.identifier("column name"))
    if c.accept("ALTER"):
        return build_alter_column(c, name)
    raise c.error("expected RENAME, ADD, DROP, ALTER COLUMN or ENABLE VERSIONING after ALTER TABLE name")


def _drop(what: str, kind: str, detail: type) -> Builder:
    """The builder of ``DROP <what> [IF EXISTS] [schema.]name``."""

    def build(c: Cursor) -> tuple[str, object]:
        c.expect("DROP", what)
        if_exists = c.accept("IF", "EXISTS")
        name = c.table_name()
        c.end()
        return kind, detail(name, if_exists)

    return build


build_drop_table = _drop("TABLE", P.DROP_TABLE, P.DropTable)
build_drop_view = _drop("VIEW", P.OTHER, P.DropView)


def _tag_name(c: Cursor) -> tuple[str | None, int | str | None]:
    tok = c.peek()
    if tok is not None and tok.kind == PARAM:
        c.i += 1
        return None, c.param_key(tok, "AT VERSION")  # the wording of AT VERSION's own check
    name = c.string("tag name")
    if not name:
        raise c.error("a version tag name must not be empty", c.tokens[c.i - 1])
    return name, None


def _training_options(c: Cursor) -> P.TrainingOptions:
    precision, seed = "float32", None
    seen: set[str] = set()
    while c.peek() is not None:
        tok = c.peek()
        if c.accept("WITH", "TRAINING", "PRECISION"):
            if "precision" in seen:
                raise c.error("TRAINING PRECISION given twice", tok)
            seen.add("precision")
            ptok = c.peek()
            precision = c.string("training precision").lower()
            if precision not in P.PRECISIONS:
                raise c.error(
                    f"unknown training precision {ptok.value!r}: expected one of "
                    + ", ".join(repr(p) for p in P.PRECISIONS),
                    ptok,
                )
        elif c.accept("TRAINING", "SEED"):
            if "seed" in seen:
                raise c.error("TRAINING SEED given twice", tok)
            seen.add("seed")
            stok = c.next()
            if stok.kind != NUMBER or not stok.text.isdigit():
                raise c.error("TRAINING SEED must be a non-negative integer", stok)
            seed = int(stok.text)
            if seed > P.MAX_SEED:
                raise c.error("TRAINING SEED must fit in 64 bits (0 to 18446744073709551615)", stok)
        else:
            raise c.error("expected WITH TRAINING PRECISION or TRAINING SEED")
    return P.TrainingOptions(precision, seed)


def build_create_tag(c: Cursor) -> tuple[str, object]:
    c.expect("CREATE", "VERSION", "TAG")
    name, param = _tag_name(c)
    training = None
    if c.accept("FOR", "TRAINING"):
        training = _training_options(c)
    c.end()
    return P.CREATE_TAG, P.TagStatement(name, param, training=training)


def build_drop_tag(c: Cursor) -> tuple[str, object]:
    c.expect("DROP", "VERSION", "TAG")
    if_exists = c.accept("IF", "EXISTS")
    name, param = _tag_name(c)
    c.end()
    return P.DROP_TAG, P.TagStatement(name, param, if_exists=if_exists)


def _insert_target(c: Cursor) -> P.InsertInto:
    if c.accept("REPLACE"):
        c.expect("INTO")
    else:
        c.expect("INSERT")
        if c.accept("OR"):
            c.identifier("conflict resolution")
        c.expect("INTO")
    table = c.table_name()
    toks, n = c.tokens, len(c.tokens)
    upsert = any(t.is_word("DO") and k + 1 < n and toks[k + 1].is_word("UPDATE") for k, t in enumerate(toks))
    return P.InsertInto(table, one_row=_inserts_one_row(toks, c.i), upsert=upsert)


def _inserts_one_row(toks: tuple, k: int) -> bool:
    """Does the INSERT whose column list / source starts at token k insert at most one row?"""
    n = len(toks)
    if k < n and is_op(toks[k], "("):  # column list
        k = matching_paren(toks, k) + 1
    if k + 1 < n and toks[k].is_word("DEFAULT") and toks[k + 1].is_word("VALUES"):
        return True
    if k >= n or not toks[k].is_word("VALUES") or k + 1 >= n or not is_op(toks[k + 1], "("):
        return False
    after = matching_paren(toks, k + 1) + 1
    return after >= n or not is_op(toks[after], ",")


def build_insert(c: Cursor) -> tuple[str, object]:
    return P.WRITE, _insert_target(c)


def build_change(c: Cursor) -> tuple[str, object]:
    """UPDATE / DELETE: a write, with its set-based shape when it has one (``dml``)."""
    return P.WRITE, change_shape(c.stmt)


def build_bulk_insert(c: Cursor) -> tuple[str, object]:
    bulk = c.next()  # BULK
    target = _insert_target(c)
    load = history.bulk_load(c, target.table)  # ... FROM 'file.csv': a load from a file
    if load is not None:
        return P.BULK_LOAD, load
    c.remove(bulk, bulk)
    return P.BULK_INSERT, target


def transaction(kind: str) -> Builder:
    """The builder of BEGIN / COMMIT / END: the kind alone."""

    def build(c: Cursor) -> tuple[str, object]:
        return kind, None

    return build


def build_savepoint(c: Cursor) -> tuple[str, object]:
    c.expect("SAVEPOINT")
    return P.SAVEPOINT, P.Savepoint(c.identifier("savepoint name"))


def build_release(c: Cursor) -> tuple[str, object]:
    c.expect("RELEASE")
    c.accept("SAVEPOINT")
    return P.RELEASE, P.Savepoint(c.identifier("savepoint name"))


def build_rollback(c: Cursor) -> tuple[str, object]:
    c.expect("ROLLBACK")
    c.accept("TRANSACTION")
    if c.accept("TO"):
        return P.ROLLBACK_TO, None  # the transaction goes on
    return P.ROLLBACK, None
