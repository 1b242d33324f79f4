"""Declared embedding columns: ``EMBEDDING [MODEL 'name'] [DIM n]`` in a column definition.

``CREATE TABLE docs (id INTEGER PRIMARY KEY, text TEXT EMBEDDING MODEL 'minilm', label INTEGER)``
(and ``ALTER TABLE docs ADD COLUMN note TEXT EMBEDDING``) declares that the column's values
are embedded. The clause is removed from the SQL that SQLite sees, so the stored table stays
one that any SQLite client reads and writes; the engine records it in the file's catalog
(``galaxlite_embedding_columns``). ``ALTER TABLE t ALTER [COLUMN] c SET EMBEDDING [MODEL 'name']
[DIM n]`` declares it on an existing column, ``... DROP EMBEDDING`` removes the declaration;
``SHOW EMBEDDING HEALTH`` lists the declared columns. MODEL and DIM come in either order, each
at most once; the model and the dimension are checked against the embedders by the engine
(errors point at them here).

>>> from galaxlite.transpile.analysis import analyze
>>> from galaxlite.transpile.lexer import split_statements
>>> (stmt,) = split_statements("CREATE TABLE d (id INTEGER PRIMARY KEY, t TEXT EMBEDDING MODEL 'hash')")
>>> plan = analyze(stmt)
>>> plan.sql, [(e.column, e.model, e.dim) for e in plan.detail.embeddings]
('CREATE TABLE d (id INTEGER PRIMARY KEY, t TEXT )', [('t', 'hash', None)])
"""

from __future__ import annotations

from dataclasses import replace

from galaxlite.transpile import plan as P
from galaxlite.transpile.cursor import Cursor, is_op
from galaxlite.transpile.errors import UnsupportedSyntax
from galaxlite.transpile.lexer import NUMBER, OP, QIDENT, STRING, WORD, Token
from galaxlite.transpile.vectors import column_starts

# Words that end a column's type name and start its constraints (SQLite's grammar)
_CONSTRAINT_WORDS = (
    "CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK", "DEFAULT", "COLLATE",
    "REFERENCES", "GENERATED", "AS", "EMBEDDING",
)
_TABLE_CONSTRAINTS = ("CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN")


def parse_clause(c: Cursor, column: str, embedding: Token) -> P.EmbeddingClause:
    """The clause after its EMBEDDING keyword (``embedding``; the cursor is just past it)."""
    model = dim = None
    model_pos = dim_pos = 0
    while True:
        tok = c.peek()
        if c.accept("MODEL"):
            if model is not None:
                raise c.error("MODEL given twice in one EMBEDDING clause", tok)
            name = c.peek()
            if name is None or name.kind != STRING:
                raise c.error("MODEL needs the embedder's name as a string literal, e.g. MODEL 'minilm'", name)
            c.i += 1
            model, model_pos = name.value.strip().lower(), name.start
            if not model:
                raise c.error("the MODEL name must not be empty", name)
        elif c.accept("DIM"):
            if dim is not None:
                raise c.error("DIM given twice in one EMBEDDING clause", tok)
            num = c.peek()
            if num is None or num.kind != NUMBER or not num.text.isdigit() or not 1 <= int(num.text) <= P.MAX_VECTOR_DIM:
                raise c.error(f"DIM needs a whole number of dimensions from 1 to {P.MAX_VECTOR_DIM}", num)
            c.i += 1
            dim, dim_pos = int(num.text), num.start
        else:
            return P.EmbeddingClause(column, model, dim, embedding.start, model_pos, dim_pos)


def _definition_end(toks: tuple, start: int, kind: str) -> int:
    """The index just past the column definition that starts at ``start``."""
    if kind == P.ALTER_TABLE:
        return len(toks)
    depth = 0
    for k in range(start, len(toks)):
        tok = toks[k]
        if tok.kind == OP and tok.text == "(":
            depth += 1
        elif tok.kind == OP and tok.text == ")":
            if depth == 0:
                return k
            depth -= 1
        elif depth == 0 and is_op(tok, ","):
            return k
    return len(toks)


def _declared_type(toks: tuple, name: int) -> str:
    """The declared type of the column definition whose name is token ``name`` ('' if none);
    the engine checks that it is text (``galaxlite.semantic.targets.column_kind``)."""
    words = []
    depth = 0
    for tok in toks[name + 1 :]:
        if depth == 0 and (tok.is_word(*_CONSTRAINT_WORDS) or is_op(tok, ",") or is_op(tok, ")")):
            break
        if tok.kind == OP and tok.text in "()":
            depth += 1 if tok.text == "(" else -1
        words.append(tok.text)
    return " ".join(words).replace(" (", "(").replace("( ", "(").replace(" )", ")")


def strip_clauses(c: Cursor, kind: str) -> tuple[P.EmbeddingClause, ...]:
    """Find each column definition's EMBEDDING clause, record an edit removing it, and
    return the clauses (CREATE TABLE and ALTER TABLE ... ADD COLUMN)."""
    toks = c.tokens
    if not any(t.is_word("EMBEDDING") for t in toks):
        return ()
    if kind == P.CREATE_TABLE and not any(is_op(t, "(") for t in toks[:_first_as(toks)]):
        return ()  # CREATE TABLE ... AS SELECT: no column definitions
    saved, found = c.i, []
    try:
        for start in column_starts(toks, kind):
            if start >= len(toks) or toks[start].kind not in (WORD, QIDENT, STRING):
                continue
            if toks[start].is_word(*_TABLE_CONSTRAINTS):
                continue
            end, depth, k, seen = _definition_end(toks, start, kind), 0, start + 1, False
            while k < end:
                tok = toks[k]
                if tok.kind == OP and tok.text in "()":
                    depth += 1 if tok.text == "(" else -1
                elif depth == 0 and tok.is_word("EMBEDDING"):
                    if seen:
                        raise c.error("EMBEDDING given twice for one column", tok)
                    seen = True
                    c.i = k + 1
                    clause = parse_clause(c, toks[start].value, tok)
                    found.append(replace(clause, declared=_declared_type(toks, start)))
                    c.remove(tok, toks[c.i - 1])
                    k = c.i
                    continue
                k += 1
    finally:
        c.i = saved
    return tuple(found)


def _first_as(toks: tuple) -> int:
    """Index of the first top-level AS (CREATE TABLE t AS SELECT ...), or the end."""
    depth = 0
    for k, tok in enumerate(toks):
        if tok.kind == OP and tok.text in "()":
            depth += 1 if tok.text == "(" else -1
        elif depth == 0 and tok.is_word("AS"):
            return k
    return len(toks)


def with_clauses(c: Cursor, kind: str, detail: object) -> object:
    """``detail`` (CreateTable / AlterTable) with the statement's EMBEDDING clauses (edits
    removing them recorded on ``c``)."""
    if kind == P.ALTER_TABLE and getattr(detail, "action", None) != "add_column":
        return detail
    clauses = strip_clauses(c, kind)
    if not clauses:
        return detail
    if isinstance(detail, P.CreateTable) and detail.temp:
        raise UnsupportedSyntax(
            "EMBEDDING on a TEMP table: declarations live in the file's catalog, which TEMP "
            "tables are not part of", c.stmt.script, clauses[0].position,
        )
    return replace(detail, embeddings=clauses)


def build_alter_column(c: Cursor, table: P.TableName) -> tuple[str, object]:
    """``ALTER TABLE t ALTER [COLUMN] c SET EMBEDDING ... | DROP EMBEDDING`` (the cursor is past
    ALTER TABLE t ALTER)."""
    c.accept("COLUMN")
    col = c.peek()
    column = c.identifier("column name")
    clause = None
    tok = c.peek()
    if c.accept("SET", "EMBEDDING"):
        clause = parse_clause(c, column, c.tokens[c.i - 1])
    elif not c.accept("DROP", "EMBEDDING"):
        raise UnsupportedSyntax(
            "ALTER COLUMN supports SET EMBEDDING [MODEL 'name'] [DIM n] and DROP EMBEDDING "
            "(SQLite cannot change a column's type or constraints)",
            c.stmt.script, tok.start if tok else c.stmt.end,
        )
    c.end()
    return P.SET_EMBEDDING, P.EmbeddingChange(table, column, clause, col.start)


def build_show_health(c: Cursor) -> tuple[str, object]:
    c.expect("SHOW", "EMBEDDING", "HEALTH")
    c.end()
    return P.SHOW_EMBEDDING_HEALTH, None
