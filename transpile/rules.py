"""Statement rules: leading keywords → a small function that builds the plan.

Adding a statement (the snapshot statements, for instance) means adding a row to
``RULES``, not another branch in an if-chain. Every builder gets a ``Cursor`` over the
statement's tokens and returns a ``Plan``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from galaxlite.transpile import plan as P
from galaxlite.transpile.errors import PastIsReadOnly, SqlSyntaxError, UnsupportedSyntax
from galaxlite.transpile.lexer import NUMBER, OP, PARAM, QIDENT, STRING, WORD, Statement, Token

PRECISIONS = ("float32", "sq8", "rabitq")
MAX_SEED = 2**64 - 1

# Words that may follow a table reference and are therefore not an implicit alias.
_NOT_ALIAS = frozenset(
    """WHERE JOIN INNER LEFT RIGHT FULL OUTER CROSS NATURAL ON USING GROUP ORDER LIMIT UNION
    INTERSECT EXCEPT WINDOW HAVING INDEXED NOT RETURNING SET VALUES DO FROM SELECT OFFSET""".split()
)


@dataclass
class Cursor:
    """Reads a statement's tokens left to right; errors point at the offending token."""

    stmt: Statement
    i: int = 0
    edits: list[tuple[int, int, str]] = field(default_factory=list)

    @property
    def tokens(self) -> tuple[Token, ...]:
        return self.stmt.tokens

    def peek(self, k: int = 0) -> Token | None:
        j = self.i + k
        return self.tokens[j] if j < len(self.tokens) else None

    def at(self, *words: str) -> bool:
        """True if the next tokens are exactly these keywords."""
        for k, w in enumerate(words):
            t = self.peek(k)
            if t is None or not t.is_word(w):
                return False
        return True

    def accept(self, *words: str) -> bool:
        if self.at(*words):
            self.i += len(words)
            return True
        return False

    def error(self, message: str, tok: Token | None = None, cls=SqlSyntaxError):
        tok = tok or self.peek()
        pos = tok.start if tok else self.stmt.end
        return cls(message, self.stmt.script, pos)

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            raise self.error(f"expected {' '.join(words)}")

    def next(self) -> Token:
        tok = self.peek()
        if tok is None:
            raise self.error("unexpected end of statement")
        self.i += 1
        return tok

    def identifier(self, what: str = "name") -> str:
        tok = self.peek()
        if tok is None or tok.kind not in (WORD, QIDENT, STRING):
            raise self.error(f"expected {what}")
        self.i += 1
        return tok.value

    def table_name(self) -> P.TableName:
        first = self.identifier("table name")
        nxt = self.peek()
        if nxt is not None and nxt.kind == OP and nxt.text == ".":
            self.i += 1
            return P.TableName(first, self.identifier("table name"))
        return P.TableName(None, first)

    def string(self, what: str) -> str:
        tok = self.peek()
        if tok is None or tok.kind != STRING:
            raise self.error(f"expected {what} as a string literal")
        self.i += 1
        return tok.value

    def end(self) -> None:
        if self.peek() is not None:
            raise self.error("unexpected text after the end of the statement")

    def remove(self, first: Token, last: Token) -> None:
        """Delete tokens first..last and the whitespace after them."""
        k = self.tokens.index(last)
        end = self.tokens[k + 1].start if k + 1 < len(self.tokens) else last.end
        self.edits.append((first.start, end, ""))


# ---------------------------------------------------------------- plan builders


def _classify(stmt: Statement) -> str:
    """READ, WRITE or OTHER for a statement with no galaxlite statement keyword."""
    first = stmt.tokens[0].upper
    if first in ("SELECT", "VALUES", "EXPLAIN"):
        return P.READ
    if first in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
        return P.WRITE
    if first == "WITH":
        depth = 0
        for tok in stmt.tokens[1:]:
            if tok.kind == OP:
                depth += tok.text == "("
                depth -= tok.text == ")"
            elif depth == 0 and tok.kind == WORD:
                word = tok.upper
                if word in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
                    return P.WRITE
                if word in ("SELECT", "VALUES"):
                    return P.READ
        return P.READ
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
            if k > 0 and toks[k - 1].kind == OP and toks[k - 1].text == ",":
                first = toks[k - 1]
            elif k + 2 < len(toks) and toks[k + 2].kind == OP and toks[k + 2].text == ",":
                last = toks[k + 2]
            c.remove(first, last)
            versioned = False
            break
    return P.CREATE_TABLE, P.CreateTable(name, temp or name.is_temp, if_not_exists, versioned)


def build_create_virtual_table(c: Cursor) -> tuple[str, object]:
    return P.OTHER, None


def build_alter_table(c: Cursor) -> tuple[str, object]:
    c.expect("ALTER", "TABLE")
    name = c.table_name()
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
    raise c.error("expected RENAME, ADD or DROP after ALTER TABLE name")


def _drop(what: str, kind: str, detail: type) -> Callable[[Cursor], tuple[str, object]]:
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
        return None, _param_key(c, tok)
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
            if precision not in PRECISIONS:
                raise c.error(
                    f"unknown training precision {ptok.value!r}: expected one of "
                    + ", ".join(repr(p) for p in PRECISIONS),
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
            if seed > MAX_SEED:
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
        return P.InsertInto(c.table_name())
    c.expect("INSERT")
    if c.accept("OR"):
        c.identifier("conflict resolution")
    c.expect("INTO")
    return P.InsertInto(c.table_name())


def build_insert(c: Cursor) -> tuple[str, object]:
    return P.WRITE, _insert_target(c)


def build_bulk_insert(c: Cursor) -> tuple[str, object]:
    bulk = c.next()  # BULK
    c.remove(bulk, bulk)
    return P.BULK_INSERT, _insert_target(c)


def _txn(kind: str) -> Callable[[Cursor], tuple[str, object]]:
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


def _snapshots(name: str) -> Callable[[Cursor], tuple[str, object]]:
    """A builder of transpile/snapshots.py, imported on first use (that module imports this one)."""

    def build(c: Cursor) -> tuple[str, object]:
        from galaxlite.transpile import snapshots

        return getattr(snapshots, name)(c)

    return build


# Longest keyword prefix wins. Each row: leading words → builder.
RULES: list[tuple[tuple[str, ...], Callable[[Cursor], tuple[str, object]]]] = [
    (("CREATE", "VERSION", "TAG"), build_create_tag),
    (("DROP", "VERSION", "TAG"), build_drop_tag),
    (("BULK", "INSERT"), build_bulk_insert),
    (("INSERT",), build_insert),
    (("REPLACE",), build_insert),
    (("CREATE", "TABLE"), build_create_table),
    (("CREATE", "TEMP", "TABLE"), build_create_table),
    (("CREATE", "TEMPORARY", "TABLE"), build_create_table),
    (("CREATE", "VIRTUAL", "TABLE"), build_create_virtual_table),
    (("ALTER", "TABLE"), build_alter_table),
    (("DROP", "TABLE"), build_drop_table),
    (("DROP", "VIEW"), build_drop_view),
    (("BEGIN",), _txn(P.BEGIN)),
    (("COMMIT",), _txn(P.COMMIT)),
    (("END",), _txn(P.COMMIT)),
    (("ROLLBACK",), build_rollback),
    (("SAVEPOINT",), build_savepoint),
    (("RELEASE",), build_release),
    # dataset snapshots (openGauss DB4AI); SQLite has no statement starting with these words
    (("CREATE", "SNAPSHOT"), _snapshots("build_create")),
    *(
        (("CREATE", *temp, "SNAPSHOT"), _snapshots("build_create_temp"))
        for temp in (("TEMP",), ("TEMPORARY",), ("LOCAL", "TEMP"), ("LOCAL", "TEMPORARY"),
                     ("GLOBAL", "TEMP"), ("GLOBAL", "TEMPORARY"), ("UNLOGGED",))
    ),
    (("SAMPLE", "SNAPSHOT"), _snapshots("build_sample")),
    (("PUBLISH", "SNAPSHOT"), _snapshots("build_publish")),
    (("ARCHIVE", "SNAPSHOT"), _snapshots("build_archive")),
    (("PURGE", "SNAPSHOT"), _snapshots("build_purge")),
    (("SET",), _snapshots("build_set")),
    (("RESET",), _snapshots("build_reset")),
    (("SHOW",), _snapshots("build_show")),
    (("ALTER", "DATABASE"), _snapshots("build_alter_database")),
]
_RULES_BY_WORD: dict[str, list] = {}
for _words, _builder in sorted(RULES, key=lambda r: -len(r[0])):
    _RULES_BY_WORD.setdefault(_words[0], []).append((_words, _builder))


def find_rule(c: Cursor) -> Callable[[Cursor], tuple[str, object]]:
    first = c.peek()
    for words, builder in _RULES_BY_WORD.get(first.upper, ()):
        if c.at(*words):
            return builder
    return build_default


# ---------------------------------------------------------------- AT VERSION


def _param_key(c: Cursor, tok: Token) -> int | str:
    if tok.text == "?":
        return sum(1 for t in c.tokens if t.kind == PARAM and t.text == "?" and t.start < tok.start)
    if tok.text[0] == "?":
        raise c.error("AT VERSION takes ? or :name, not a numbered parameter", tok, UnsupportedSyntax)
    return tok.text[1:]


def _version_spec(c: Cursor, tok: Token) -> P.VersionSpec:
    if tok.kind == STRING:
        if not tok.value:
            raise c.error("a version tag name must not be empty", tok)
        return P.VersionSpec(tag=tok.value)
    if tok.kind == NUMBER:
        if not tok.text.isdigit():
            raise c.error("AT VERSION needs a tag name or an integer µs timestamp", tok)
        return P.VersionSpec(timestamp=int(tok.text))
    if tok.kind == PARAM:
        return P.VersionSpec(param=_param_key(c, tok))
    raise c.error("AT VERSION needs a tag name ('x'), a µs timestamp or a parameter", tok)


def _writes_to(tokens: tuple[Token, ...], k: int) -> bool:
    """Is the table reference starting at token k the target of INSERT/UPDATE/DELETE?"""
    if k == 0:
        return False
    prev = tokens[k - 1]
    if prev.is_word("INTO", "UPDATE"):
        return True
    if prev.is_word("FROM") and k >= 2 and tokens[k - 2].is_word("DELETE"):
        return True
    # UPDATE OR IGNORE t
    return k >= 3 and tokens[k - 3].is_word("UPDATE") and tokens[k - 2].is_word("OR")


_CLAUSE_WORDS = frozenset(
    """FROM JOIN SELECT WHERE ON USING GROUP HAVING ORDER SET VALUES LIMIT RETURNING INTO UPDATE
    WINDOW BY""".split()
)


def _in_from_clause(tokens: tuple[Token, ...], k: int) -> bool:
    """Is token k inside a FROM/JOIN clause (walking back over balanced parentheses)?"""
    depth = 0
    for j in range(k - 1, -1, -1):
        tok = tokens[j]
        if tok.kind == OP and tok.text == ")":
            depth += 1
        elif tok.kind == OP and tok.text == "(":
            if depth == 0:
                return False
            depth -= 1
        elif depth == 0 and tok.kind == WORD and tok.upper in _CLAUSE_WORDS:
            if tok.upper == "FROM" and j > 0 and tokens[j - 1].is_word("DISTINCT"):
                continue  # a IS [NOT] DISTINCT FROM b: an operator
            return tok.upper in ("FROM", "JOIN", "INTO", "UPDATE")
    return False


def find_version_refs(c: Cursor) -> list[P.VersionRef]:
    """Find every ``name AT VERSION x``; record an edit that leaves a hole for it."""
    toks = c.tokens
    refs: list[P.VersionRef] = []
    k = 1
    while k + 1 < len(toks):
        if not (toks[k].is_word("AT") and toks[k + 1].is_word("VERSION")):
            k += 1
            continue
        at = toks[k]
        if k + 2 >= len(toks):
            raise c.error("AT VERSION needs a tag name or a timestamp", None)
        end = k + 2
        spec = _version_spec(c, toks[end])
        # the table reference: name or schema.name just before AT
        name_k = k - 1
        if toks[name_k].kind not in (WORD, QIDENT):
            raise c.error("AT VERSION must follow a table name", at)
        schema = None
        if name_k >= 2 and toks[name_k - 1].kind == OP and toks[name_k - 1].text == ".":
            name_k -= 2
            schema = toks[name_k].value
        table = toks[k - 1].value
        if not _in_from_clause(toks, name_k):
            raise c.error("AT VERSION must follow a table name in a FROM or JOIN clause", at)
        if _writes_to(toks, name_k):
            raise c.error(
                f"table {table!r} AT VERSION is read-only: the past cannot be changed",
                toks[name_k],
                PastIsReadOnly,
            )
        nxt = toks[end + 1] if end + 1 < len(toks) else None
        has_alias = nxt is not None and (
            nxt.is_word("AS")
            or nxt.kind == QIDENT
            or (nxt.kind == WORD and nxt.upper not in _NOT_ALIAS)
        )
        ref_index = len(refs)
        refs.append(P.VersionRef(schema, table, spec, toks[name_k].start))
        alias = "" if has_alias else " AS " + quote_identifier(table)
        c.edits.append((toks[name_k].start, toks[end].end, f"\x00{ref_index}\x00{alias}"))
        k = end + 1
    return refs


def quote_identifier(name: str) -> str:
    """``"name"`` with embedded quotes doubled.

    >>> quote_identifier('a"b')
    '"a""b"'
    """
    return '"' + name.replace('"', '""') + '"'


def _apply_edits(stmt: Statement, edits: list[tuple[int, int, str]]) -> tuple[str, P.Template | None]:
    text, base = stmt.text, stmt.start
    if not edits:
        return text, None
    out, pos = [], 0
    for start, end, repl in sorted(edits):
        out.append(text[pos : start - base])
        out.append(repl)
        pos = end - base
    out.append(text[pos:])
    joined = "".join(out)
    if "\x00" not in joined:
        return joined.strip(), None
    parts = joined.strip().split("\x00")
    pieces: list[str | int] = []
    for idx, part in enumerate(parts):
        pieces.append(int(part) if idx % 2 else part)
    return joined.strip(), P.Template(tuple(pieces))


_DB4AI = re.compile(r"db4ai", re.IGNORECASE)


def _may_name_snapshots(stmt: Statement) -> bool:
    """Can ``stmt`` hold a ``name@version`` or ``db4ai.snapshot``? Two ``str.find`` calls for
    almost every statement, so plain statements skip the snapshot token pass."""
    script, start, end = stmt.script, stmt.start, stmt.end
    if script.find("@", start, end) >= 0:
        return True
    return script.find("4", start, end) >= 0 and _DB4AI.search(script, start, end) is not None


def analyze(stmt: Statement) -> P.Plan:
    """The plan for one statement."""
    c = Cursor(stmt)
    builder = find_rule(c)
    kind, detail = builder(c)
    c.i = 0
    from galaxlite.transpile import semantic as S  # here: transpile.semantic imports this module

    refs: list[P.VersionRef | P.SnapshotRef] = []
    if kind in (P.READ, P.WRITE, P.BULK_INSERT, P.OTHER, P.CREATE_TABLE):
        refs = find_version_refs(c)
        if _may_name_snapshots(stmt):
            from galaxlite.transpile import snapshots  # likewise

            refs += snapshots.find_snapshot_refs(c, len(refs))
    elif kind == P.CREATE_SNAPSHOT and detail.query is not None:
        from galaxlite.transpile import snapshots

        return snapshots.create_as_plan(stmt, kind, detail)

    # CREATE SNAPSHOT ... FROM: the engine parses each USING command itself (refs, SEMANTIC_*)
    semantic = S.find_semantic_calls(c, kind, refs) if kind != P.CREATE_SNAPSHOT else []
    S.add_vector_checks(c, kind)
    sql, template = _apply_edits(stmt, c.edits)
    if semantic and not refs:  # what runs if nothing renders the plan (executemany)
        sql = template.render([S.UNRENDERED] * len(semantic))
    toks = stmt.tokens
    markers = sum(1 for t in toks if t.kind == PARAM and t.text == "?")
    conflict_clauses = frozenset(
        t.upper
        for k, t in enumerate(toks)
        if t.is_word("REPLACE", "FAIL") and not (k + 1 < len(toks) and toks[k + 1].text == "(")
    )
    return P.Plan(
        kind=kind,
        sql=sql,
        position=stmt.start,
        source=stmt.script,
        template=template,
        refs=tuple(refs),
        detail=detail,
        param_markers=markers,
        conflict_clauses=conflict_clauses,
        returning=any(t.is_word("RETURNING") for t in toks),
        semantic=tuple(semantic),
    )
