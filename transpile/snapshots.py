"""Dataset snapshot statements (openGauss DB4AI syntax): the lexical part.

Builders for ``CREATE / SAMPLE / PUBLISH / ARCHIVE / PURGE SNAPSHOT``, ``SET / RESET / SHOW``
of the snapshot parameters and ``ALTER DATABASE SET / RESET``, plus the pass that turns
``[schema.]name@version`` relations into ``SnapshotRef`` holes in ``Plan.template`` (like
``AT VERSION`` refs) and ``db4ai.snapshot`` into the plain catalog table ``db4ai_snapshot``.
The engine (galaxlite/snapshots.py) does everything that needs the database.

>>> from galaxlite.transpile import parse_statement
>>> plan = parse_statement("CREATE SNAPSHOT m0@2021 COMMENT IS 'raw' AS SELECT * FROM t WHERE id > 3")
>>> plan.kind, plan.detail.name.version, plan.detail.projection, plan.detail.from_clause
('create_snapshot', SnapshotVersion(parts=('2021',), literal=None), 'SELECT *', 'FROM t WHERE id > 3')
>>> plan.sql
'SELECT * FROM t WHERE id > 3'
>>> cmd = parse_statement("CREATE SNAPSHOT m0 FROM @1.0.0 USING (DELETE WHERE RANDOM() <= 0.2;)"
...                       ).detail.commands[0]
>>> cmd.pieces, cmd.where
(('DELETE', 'WHERE RANDOM() <= 0.2'), 'RANDOM() <= 0.2')
>>> plan = parse_statement("SELECT * FROM m0@1.0.0 WHERE x = @p")
>>> plan.template.pieces, plan.refs[0].snapshot.version.parts
(('SELECT * FROM ', 0, ' AS "m0" WHERE x = @p'), ('1', '0', '0'))
"""

from __future__ import annotations

import re

from galaxlite.transpile import plan as P
from galaxlite.transpile.errors import SnapshotIsReadOnly, SqlSyntaxError, UnsupportedSyntax
from galaxlite.transpile.lexer import (
    NUMBER,
    OP,
    PARAM,
    QIDENT,
    SEMI,
    STRING,
    WORD,
    Statement,
    Token,
)
from galaxlite.transpile.rules import (
    _NOT_ALIAS,
    Cursor,
    _in_from_clause,
    _writes_to,
    analyze,
    quote_identifier,
)

PARAMETERS = frozenset(
    {
        "db4ai_snapshot_mode",
        "db4ai_snapshot_version_delimiter",
        "db4ai_snapshot_version_separator",
        "db4ai_sample_seed",
    }
)
# Words that end a relation or a clause: never an unquoted version (openGauss refuses
# reserved keywords there too), so "m0@ AS SELECT" is an error, not the version "as".
_RESERVED = _NOT_ALIAS | {"AS", "AND", "OR", "ON", "TO", "WITH", "COMMENT", "DISTRIBUTE", "STRATIFY"}
CATALOG_TABLE = "db4ai_snapshot"  # what ``db4ai.snapshot`` reads
NAME_HINT = "reference a snapshot using the format: snapshot_name@version"
BAD_VERSION = "expected a snapshot version after '@': 1.0.0, 2021, a name, \"text\" or 'text'"

# What may follow ``@``: numeric parts, an identifier, "quoted" or 'string' (whitespace
# allowed after the ``@``). Digits must not run on into a letter or another dot.
_IDENT = r"[A-Za-z_\x80-\U0010ffff][A-Za-z_0-9$\x80-\U0010ffff]*"
_VERSION_RE = re.compile(
    rf"""@\s*(?:
        (?P<num>[0-9]+(?:\.[0-9]+)*)(?![A-Za-z_0-9$.\x80-\U0010ffff])
      | (?P<word>{_IDENT})
      | "(?P<qident>(?:[^"]|"")*)"
      | '(?P<string>(?:[^']|'')*)'
    )""",
    re.VERBOSE,
)


def _is_op(tok: Token | None, text: str) -> bool:
    return tok is not None and tok.kind == OP and tok.text == text


def is_at(tok: Token | None) -> bool:
    """Does ``tok`` start a ``@version`` (a lone ``@``, or the lexer's ``@name`` / ``@1``)?"""
    return tok is not None and (
        (tok.kind == OP and tok.text == "@") or (tok.kind == PARAM and tok.text[0] == "@")
    )


def _name_value(tok: Token) -> str:
    """An identifier as openGauss sees it: unquoted ones lower-cased."""
    return tok.text.lower() if tok.kind == WORD else tok.value


# ------------------------------------------------------------------------------ versions


def version_at(stmt: Statement, k: int) -> tuple[P.SnapshotVersion, int] | None:
    """The version whose ``@`` is token ``k``, and the index of the token after it; None
    when the text there is not a version.

    ``@2021`` / ``@007`` → parts ``("2021",)`` / ``("7",)`` (one number loses its leading
    zeros, as openGauss prints an integer); ``@1.0`` / ``@1.0.0`` → the parts as written;
    ``@Squash`` → literal ``"squash"``; ``@"rev 1.1"`` / ``@'rev 1.1'`` → ``"rev 1.1"``.
    """
    toks = stmt.tokens
    m = _VERSION_RE.match(stmt.script, toks[k].start)
    if m is None:
        return None
    end, j = m.end(), k
    while j < len(toks) and toks[j].start < end:
        j += 1
    if toks[j - 1].end != end:  # the version stops inside a token: "@1e5", "@a::b"
        return None
    if m.group("word") is not None and m.group("word").upper() in _RESERVED:
        return None  # "m0@ AS SELECT": no version there (quote it: m0@"from")
    if m.group("num") is not None:
        parts = m.group("num").split(".")
        version = P.SnapshotVersion(parts=(str(int(parts[0])),) if len(parts) == 1 else tuple(parts))
    elif m.group("word") is not None:
        version = P.SnapshotVersion(literal=m.group("word").lower())
    elif m.group("qident") is not None:
        version = P.SnapshotVersion(literal=m.group("qident").replace('""', '"'))
    else:
        version = P.SnapshotVersion(literal=m.group("string").replace("''", "'"))
    return version, j


def skip_version(toks: tuple[Token, ...], k: int) -> int:
    """Index of the first token after the ``@version`` starting at token ``k`` (for passes
    that only need to step over it; the version itself was checked by ``find_snapshot_refs``)."""
    if k + 1 < len(toks) and toks[k].kind == OP:
        k += 1  # a lone "@": the version is the next token(s)
    if k >= len(toks) or toks[k].kind in (QIDENT, STRING):
        return k + 1
    k += 1
    while k < len(toks) and toks[k].kind in (NUMBER, WORD) and toks[k].start == toks[k - 1].end:
        k += 1  # ".0" parts of "1.0.0" (or the rest of a non-ASCII name)
    return k


def _version(c: Cursor) -> P.SnapshotVersion:
    """The ``@version`` at the cursor (an error when there is none or it is malformed)."""
    tok = c.peek()
    found = version_at(c.stmt, c.i) if is_at(tok) else None
    if found is None:
        raise c.error(BAD_VERSION if is_at(tok) else "expected @version")
    version, c.i = found
    if version.literal == "":
        raise c.error("a snapshot version must not be empty", tok)
    return version


def _snapshot_name(c: Cursor, *, version: str = "optional", what: str = "snapshot name") -> P.SnapshotName:
    """``[schema.]name[@version]`` at the cursor; ``version`` is "optional", "required" or
    "none" (then no ``@`` may follow)."""
    first = c.peek()
    if first is None or first.kind not in (WORD, QIDENT):
        raise c.error(f"expected {what}")
    c.i += 1
    schema, name = None, _name_value(first)
    if _is_op(c.peek(), "."):
        c.i += 1
        tok = c.peek()
        if tok is None or tok.kind not in (WORD, QIDENT):
            raise c.error(f"expected {what} after the schema name")
        c.i += 1
        schema, name = name, _name_value(tok)
    ver = None
    if is_at(c.peek()) and version != "none":
        ver = _version(c)
    elif version == "required":
        raise c.error(f"expected @version after the snapshot name: {NAME_HINT}")
    return P.SnapshotName(schema, name, ver, first.start)


def _comment(c: Cursor) -> str | None:
    """``COMMENT IS 'text'`` (or ``COMMENT IS NULL``) if it is next."""
    if not c.accept("COMMENT"):
        return None
    c.expect("IS")
    if c.accept("NULL"):
        return None
    return c.string("comment")


# ------------------------------------------------------------------------ token helpers


def _text(c: Cursor, first: int, last: int) -> str:
    """The SQL text of tokens first..last (inclusive) as written."""
    return c.stmt.script[c.tokens[first].start : c.tokens[last].end]


def _top_level(toks: tuple[Token, ...], lo: int, hi: int, *words: str) -> int:
    """Index of the first of ``words`` at parenthesis depth 0 in tokens[lo:hi] (``hi`` if
    none). ``IS [NOT] DISTINCT FROM`` is not a FROM."""
    depth = 0
    for j in range(lo, hi):
        tok = toks[j]
        if tok.kind == OP and tok.text in "()":
            depth += 1 if tok.text == "(" else -1
        elif depth == 0 and tok.kind == WORD and tok.upper in words:
            if not (tok.upper == "FROM" and j > 0 and toks[j - 1].is_word("DISTINCT")):
                return j
    return hi


def _split_top_level(toks: tuple[Token, ...], lo: int, hi: int, kind: str, text: str) -> list[tuple[int, int]]:
    """tokens[lo:hi] cut at depth-0 separators (``;`` or ``,``): (first, end) index pairs."""
    parts, depth, start = [], 0, lo
    for j in range(lo, hi):
        tok = toks[j]
        if tok.kind == OP and tok.text in "()":
            depth += 1 if tok.text == "(" else -1
        elif depth == 0 and tok.kind == kind and tok.text == text:
            parts.append((start, j))
            start = j + 1
    parts.append((start, hi))
    return parts


def _matching_paren(toks: tuple[Token, ...], k: int) -> int | None:
    depth = 0
    for j in range(k, len(toks)):
        if toks[j].kind == OP and toks[j].text in "()":
            depth += 1 if toks[j].text == "(" else -1
            if depth == 0:
                return j
    return None


# ----------------------------------------------------------------------- CREATE SNAPSHOT


def build_create_temp(c: Cursor) -> tuple[str, object]:
    raise c.error("Temporary snapshots are not supported.", c.peek(1))


def build_create(c: Cursor) -> tuple[str, object]:
    """``CREATE SNAPSHOT name[@v] [COMMENT IS 'c'] AS <query>`` or
    ``CREATE SNAPSHOT name[@v] FROM @parent [COMMENT IS 'c'] USING (cmd; ...)``."""
    c.expect("CREATE", "SNAPSHOT")
    name = _snapshot_name(c)
    distribute = _distribute_by(c)
    if c.at("TO", "GROUP") or c.at("TO", "NODE"):
        raise c.error("Clustered snapshots are not supported.")
    comment = _comment(c)  # openGauss wants it after FROM @parent; both places are accepted
    if c.at("FROM"):
        if distribute is not None:
            raise c.error(
                "illegal DISTRIBUTE BY clause in CREATE SNAPSHOT ... FROM "
                "(hint: DISTRIBUTE BY is inherited from parent snapshot.)",
                distribute,
            )
        c.i += 1
        parent = _version(c) if is_at(c.peek()) else None
        if parent is None:
            raise c.error(f"expected @version of the parent snapshot after FROM: {NAME_HINT}")
        if comment is None:
            comment = _comment(c)
        elif c.at("COMMENT"):
            raise c.error("COMMENT IS given twice")
        commands = _using(c)
        return P.CREATE_SNAPSHOT, P.CreateSnapshot(name, comment, parent=parent, commands=commands)
    if not c.accept("AS"):
        raise c.error("expected AS <query> or FROM @version USING (...) in CREATE SNAPSHOT")
    return P.CREATE_SNAPSHOT, _create_as(c, name, comment)


def _distribute_by(c: Cursor) -> Token | None:
    """Skip a ``DISTRIBUTE BY ...`` clause (ignored before AS, as in single-node openGauss)."""
    tok = c.peek()
    if not c.accept("DISTRIBUTE", "BY"):
        return None
    if c.peek() is None:
        raise c.error("expected REPLICATION or HASH(column, ...) after DISTRIBUTE BY")
    end = _top_level(c.tokens, c.i, len(c.tokens), "COMMENT", "AS", "FROM", "TO")
    if end == c.i:
        raise c.error("expected REPLICATION or HASH(column, ...) after DISTRIBUTE BY")
    c.i = end
    return tok


def _create_as(c: Cursor, name: P.SnapshotName, comment: str | None) -> P.CreateSnapshot:
    toks, k = c.tokens, c.i
    if k >= len(toks) or not toks[k].is_word("SELECT", "WITH", "VALUES"):
        raise c.error("expected a query (SELECT, WITH or VALUES) after AS in CREATE SNAPSHOT")
    last = len(toks) - 1
    split = _top_level(toks, k, len(toks), "FROM")
    projection = _text(c, k, split - 1) if split > k else ""
    from_clause = _text(c, split, last) if split < len(toks) else ""
    return P.CreateSnapshot(
        name,
        comment,
        query=_text(c, k, last),
        query_position=toks[k].start,
        projection=projection,
        from_clause=from_clause,
    )


def create_as_plan(stmt: Statement, kind: str, detail: P.CreateSnapshot) -> P.Plan:
    """The plan of ``CREATE SNAPSHOT ... AS <query>``: ``sql`` / ``template`` / ``refs`` /
    ``semantic`` are those of the query alone (analysed like a SELECT), so the engine renders
    it like any read; ``detail`` says what to make of it."""
    k = next(i for i, t in enumerate(stmt.tokens) if t.start == detail.query_position)
    query = analyze(Statement(stmt.script, stmt.tokens[k:]))
    if query.kind != P.READ:
        raise SqlSyntaxError(
            "CREATE SNAPSHOT ... AS needs a query: a WITH that writes is not one",
            stmt.script,
            detail.query_position,
        )
    return P.Plan(
        kind=kind,
        sql=query.sql,
        position=stmt.start,
        source=stmt.script,
        template=query.template,
        refs=query.refs,
        detail=detail,
        param_markers=query.param_markers,
        semantic=query.semantic,
    )


# ------------------------------------------------------------------------- USING ( ... )


def _using(c: Cursor) -> tuple[P.SnapshotCommand, ...]:
    toks = c.tokens
    if not c.accept("USING"):
        raise c.error("expected USING (command; ...) in CREATE SNAPSHOT ... FROM")
    if not _is_op(c.peek(), "("):
        raise c.error("expected ( after USING")
    open_k = c.i
    close_k = _matching_paren(toks, open_k)
    if close_k is None:
        raise c.error("unbalanced parentheses in USING (...)", toks[open_k])
    if close_k != len(toks) - 1:
        raise c.error("unexpected text after the end of the statement", toks[close_k + 1])
    lo, hi = open_k + 1, close_k
    # doubled parentheses: USING ((cmd; cmd))
    while lo < hi and _is_op(toks[lo], "(") and _matching_paren(toks, lo) == hi - 1:
        lo, hi = lo + 1, hi - 1
    commands = tuple(
        _command(c, first, end)
        for first, end in _split_top_level(toks, lo, hi, SEMI, ";")
        if end > first
    )
    if not commands:
        raise c.error("List of snapshot modifications is empty.", toks[open_k])
    c.i = len(toks)
    return commands


_MISSING_OP = {
    "WHERE": "missing INSERT / UPDATE / DELETE keyword before WHERE clause at: '{}'",
    "FROM": "missing INSERT / UPDATE keyword before FROM clause at: '{}'",
    "USING": "missing DELETE keyword before USING clause at: '{}'",
    "SET": "missing UPDATE keyword before SET clause at: '{}'",
    "AS": "missing UPDATE / DELETE keyword before AS clause at: '{}'",
}


def _command(c: Cursor, first: int, end: int) -> P.SnapshotCommand:
    """One command of a USING batch: tokens[first:end]."""
    toks = c.tokens
    tok = toks[first]
    word = tok.upper
    if word == "INSERT":
        return _insert(c, first, end)
    if word == "UPDATE":
        return _update(c, first, end)
    if word == "DELETE":
        return _delete(c, first, end)
    if word in ("ALTER", "ADD", "DROP"):
        return _alter(c, first, end)
    text = _text(c, first, end - 1)
    message = _MISSING_OP.get(word, "missing ALTER / INSERT / UPDATE / DELETE keyword before SQL clause: '{}'")
    raise c.error(message.format(text), tok)


def _clause(c: Cursor, first: int, end: int) -> tuple[str, str]:
    """(the clause with its keyword, the text after the keyword) of tokens[first:end]."""
    if end <= first + 1:
        raise c.error(f"expected text after {c.tokens[first].upper}", c.tokens[first])
    return _text(c, first, end - 1), _text(c, first + 1, end - 1)


def _alias(c: Cursor, k: int, end: int, op: str) -> tuple[str | None, str | None, int]:
    """``AS alias`` at token k: (alias, its piece "AS a", index after it)."""
    toks = c.tokens
    if k < end and toks[k].is_word("AS"):
        if k + 1 >= end or toks[k + 1].kind not in (WORD, QIDENT):
            raise c.error(f"expected an alias after AS in {op}", toks[k + 1] if k + 1 < end else toks[k])
        alias = toks[k + 1].value
        if k + 2 < end and toks[k + 2].is_word("AS"):
            raise c.error(f"multiple AS clauses in {op} at: '{_text(c, k + 2, end - 1)}'", toks[k + 2])
        return alias, _text(c, k, k + 1), k + 2
    return None, None, k


def _check_single(c: Cursor, lo: int, hi: int, word: str, op: str) -> None:
    """A second depth-0 ``word`` in tokens[lo:hi] is an error (``multiple WHERE clauses``)."""
    again = _top_level(c.tokens, lo, hi, word)
    if again < hi:
        raise c.error(f"multiple {word} clauses in {op} at: '{_text(c, again, hi - 1)}'", c.tokens[again])


def _illegal(c: Cursor, k: int, end: int, op: str) -> SqlSyntaxError:
    tok = c.tokens[k]
    clause = tok.upper if tok.upper in ("WHERE", "FROM", "USING", "SET", "AS") else "SQL"
    return c.error(f"illegal {clause} clause in {op} at: '{_text(c, k, end - 1)}'", tok)


def _insert(c: Cursor, first: int, end: int) -> P.SnapshotCommand:
    toks, k = c.tokens, first + 1
    if k < end and toks[k].is_word("INTO"):
        if not (k + 1 < end and toks[k + 1].is_word("SNAPSHOT")):
            raise c.error(
                "INSERT in USING adds rows to the new snapshot: write INSERT [INTO SNAPSHOT] "
                "SELECT ... | VALUES ...",
                toks[k + 1] if k + 1 < end else toks[k],
            )
        k += 2
    if k >= end:
        raise c.error("missing auxiliary clauses in INSERT", toks[first])
    if not any(t.is_word("SELECT", "VALUES") for t in toks[k:end]):
        raise c.error("missing SELECT or VALUES clause in INSERT operation", toks[k])
    rest = _text(c, k, end - 1)
    return P.SnapshotCommand("INSERT", ("INSERT", rest), toks[first].start, insert=rest)


def _update(c: Cursor, first: int, end: int) -> P.SnapshotCommand:
    toks, k = c.tokens, first + 1
    if k < end and toks[k].is_word("SNAPSHOT"):
        k += 1
    alias, as_piece, k = _alias(c, k, end, "UPDATE")
    if k >= end:
        raise c.error("missing auxiliary clauses in UPDATE", toks[first])
    if not toks[k].is_word("SET"):
        if toks[k].is_word("FROM", "WHERE"):
            raise c.error("missing SET clause in UPDATE operation", toks[k])
        raise _illegal(c, k, end, "UPDATE")
    from_k = _top_level(toks, k + 1, end, "FROM", "WHERE")
    where_k = _top_level(toks, from_k, end, "WHERE")
    pieces = ["UPDATE"] + ([as_piece] if as_piece else [])
    set_piece, set_text = _clause(c, k, from_k)
    pieces.append(set_piece)
    from_text = where_text = None
    if from_k < where_k:
        _check_single(c, from_k + 1, where_k, "FROM", "UPDATE")
        piece, from_text = _clause(c, from_k, where_k)
        pieces.append(piece)
    if where_k < end:
        _check_single(c, where_k + 1, end, "WHERE", "UPDATE")
        piece, where_text = _clause(c, where_k, end)
        pieces.append(piece)
    return P.SnapshotCommand(
        "UPDATE", tuple(pieces), toks[first].start, alias=alias, set=set_text, from_=from_text, where=where_text
    )


def _delete(c: Cursor, first: int, end: int) -> P.SnapshotCommand:
    toks, k = c.tokens, first + 1
    if k < end and toks[k].is_word("FROM"):
        if not (k + 1 < end and toks[k + 1].is_word("SNAPSHOT")):
            raise _illegal(c, k, end, "DELETE")
        k += 2
    alias, as_piece, k = _alias(c, k, end, "DELETE")
    pieces = ["DELETE"] + ([as_piece] if as_piece else [])
    using_text = where_text = None
    if k < end and not toks[k].is_word("USING", "WHERE"):
        raise _illegal(c, k, end, "DELETE")
    if k < end and toks[k].is_word("USING"):
        where_k = _top_level(toks, k + 1, end, "WHERE")
        piece, using_text = _clause(c, k, where_k)
        pieces.append(piece)
        k = where_k
    if k < end:
        _check_single(c, k + 1, end, "WHERE", "DELETE")
        piece, where_text = _clause(c, k, end)
        pieces.append(piece)
    return P.SnapshotCommand(
        "DELETE", tuple(pieces), toks[first].start, alias=alias, using=using_text, where=where_text
    )


def _alter(c: Cursor, first: int, end: int) -> P.SnapshotCommand:
    toks, k = c.tokens, first
    if toks[k].is_word("ALTER"):
        k += 1
        if k < end and toks[k].is_word("SNAPSHOT"):
            k += 1
        elif k < end and toks[k].is_word("TABLE"):  # TrueSQL: ALTER TABLE snapshot ...
            if not (k + 1 < end and toks[k + 1].is_word("SNAPSHOT")):
                raise c.error("ALTER in USING changes the new snapshot: write ALTER [SNAPSHOT] ADD ... | DROP ...",
                              toks[k + 1] if k + 1 < end else toks[k])
            k += 2
    if k >= end:
        raise c.error("missing auxiliary clauses in ALTER", toks[first])
    for word in ("WHERE", "FROM", "USING"):
        j = _top_level(toks, k, end, word)
        if j < end:
            raise c.error(f"illegal {word} clause in ALTER at: '{_text(c, j, end - 1)}'", toks[j])
    text = _text(c, k, end - 1)
    actions = tuple(
        _alter_action(c, lo, hi, text) for lo, hi in _split_top_level(toks, k, end, OP, ",")
    )
    return P.SnapshotCommand("ALTER", ("ALTER", text), toks[first].start, alter=actions)


def _alter_action(c: Cursor, lo: int, hi: int, whole: str) -> P.AlterAction:
    toks = c.tokens
    if lo >= hi:
        raise c.error(f"expected ADD or DROP keyword in: '{whole}'", toks[min(lo, len(toks) - 1)])
    tok = toks[lo]
    if not tok.is_word("ADD", "DROP"):
        raise c.error(
            f"expected ADD or DROP keyword before '{tok.text}' in: '{whole}' "
            "(hint: currently only ADD and DROP supported)",
            tok,
        )
    action = tok.upper
    text = _text(c, lo, hi - 1)
    k = lo + 1
    if k + 1 < hi and toks[k].is_word("COLUMN"):
        k += 1
    if_exists = False
    if action == "DROP" and k < hi and toks[k].is_word("IF"):
        if not (k + 1 < hi and toks[k + 1].is_word("EXISTS")):
            raise c.error(
                f"expected EXISTS keyword in DROP operation after '{toks[k].text}' in: '{whole}'",
                toks[k + 1] if k + 1 < hi else toks[k],
            )
        if_exists, k = True, k + 2
    if k >= hi or toks[k].kind not in (WORD, QIDENT):
        raise c.error(
            f"unable to extract column name in {action} operation: '{text}'", toks[k] if k < hi else tok
        )
    column = _name_value(toks[k])
    k += 1
    definition = ""
    if action == "DROP" and k < hi:
        raise c.error(f'syntax error at or near "{toks[k].text}"', toks[k])
    if action == "ADD" and k < hi:
        if toks[k].kind not in (WORD, QIDENT):
            raise c.error(f'syntax error at or near "{toks[k].text}"', toks[k])
        _check_no_constraint(c, k, hi)
        definition = _text(c, k, hi - 1)
    return P.AlterAction(action.lower(), column, definition, if_exists, text)


# Column constraints an ADD may not carry: a snapshot is data, not rules. REFERENCES would
# tie the snapshot's storage to a user table (whose deletes it would then block), CHECK and
# GENERATED name the column, which CSS storage calls f<n>; PRIMARY KEY / UNIQUE SQLite
# refuses in ALTER TABLE ADD anyway.
_CONSTRAINTS = ("REFERENCES", "CHECK", "GENERATED", "AS", "PRIMARY", "UNIQUE")


def _check_no_constraint(c: Cursor, lo: int, hi: int) -> None:
    """Refuse the column constraints of ``_CONSTRAINTS`` in an ALTER ... ADD definition
    (type, DEFAULT, NOT NULL and COLLATE are what a snapshot column keeps)."""
    j = _top_level(c.tokens, lo, hi, *_CONSTRAINTS)
    if j < hi:
        word = c.tokens[j].upper
        raise c.error(
            f"column constraint {'GENERATED' if word == 'AS' else word} is not supported in a "
            "snapshot's ALTER ... ADD: a snapshot column keeps only its type, DEFAULT, NOT NULL "
            "and COLLATE",
            c.tokens[j],
            UnsupportedSyntax,
        )


# ------------------------------------------------------------------ SAMPLE / PUBLISH / ...


def build_sample(c: Cursor) -> tuple[str, object]:
    """``SAMPLE SNAPSHOT name@v [STRATIFY BY col, ...] AS label AT RATIO r [COMMENT IS 'c'], ...``"""
    c.expect("SAMPLE", "SNAPSHOT")
    name = _snapshot_name(c, version="required")
    stratify: list[str] = []
    if c.accept("STRATIFY"):
        c.expect("BY")
        while True:
            tok = c.peek()
            if tok is None or tok.kind not in (WORD, QIDENT) or tok.is_word("AS"):
                raise c.error("expected a column name after STRATIFY BY")
            stratify.append(_name_value(tok))
            c.i += 1
            if not _is_op(c.peek(), ","):
                break
            c.i += 1
    samples: list[P.SampleSpec] = []
    while True:
        if not c.accept("AS"):
            raise c.error("expected AS label AT RATIO r in SAMPLE SNAPSHOT")
        label_tok = c.peek()
        if label_tok is None or label_tok.kind not in (WORD, QIDENT):
            raise c.error("expected a sample label (the name infix, e.g. _train) after AS")
        c.i += 1
        c.expect("AT", "RATIO")
        rtok = c.peek()
        if rtok is None or rtok.kind != NUMBER:
            raise c.error("expected a ratio (a number such as .8) after AT RATIO")
        c.i += 1
        ratio = float(rtok.text)
        if not 0 < ratio <= 1:
            raise c.error("sample ratio must be between 0 and 1", rtok)
        samples.append(P.SampleSpec(_name_value(label_tok), ratio, rtok.text, _comment(c)))
        if not _is_op(c.peek(), ","):
            break
        c.i += 1
    c.end()
    return P.SAMPLE_SNAPSHOT, P.SampleSnapshot(name, tuple(stratify), tuple(samples))


def _manage(action: str):
    def build(c: Cursor) -> tuple[str, object]:
        c.expect(action.upper(), "SNAPSHOT")
        name = _snapshot_name(c, version="required")
        c.end()
        return P.MANAGE_SNAPSHOT, P.ManageSnapshot(action, name)

    build.__doc__ = f"``{action.upper()} SNAPSHOT [schema.]name@version``"
    return build


build_publish = _manage("publish")
build_archive = _manage("archive")
build_purge = _manage("purge")


# --------------------------------------------------------------------------- parameters


def _parameter_name(c: Cursor, statement: str) -> Token:
    tok = c.peek()
    if tok is None or tok.kind not in (WORD, QIDENT):
        raise c.error(f"expected a parameter name after {statement}")
    if tok.is_word("ALL"):
        raise c.error(f"{statement} ALL is not supported: name the parameter", tok, UnsupportedSyntax)
    if _name_value(tok) not in PARAMETERS:
        raise c.error(f'unrecognized configuration parameter "{tok.value}"', tok)
    c.i += 1
    return tok


def _assignment(c: Cursor, statement: str, persist: bool) -> P.Parameter:
    """``p = value`` / ``p TO value`` / ``p = DEFAULT`` (value None: back to the default)."""
    name = _name_value(_parameter_name(c, statement))
    if not (_is_op(c.peek(), "=") or c.at("TO")):
        raise c.error(f"expected = or TO after {name}")
    c.i += 1
    tok = c.peek()
    if tok is None:
        raise c.error(f"expected a value for {name}")
    if tok.is_word("DEFAULT"):
        c.i += 1
        c.end()
        return P.Parameter(name, None, persist, tok.start)
    sign = ""
    if tok.kind == OP and tok.text in "+-" and c.peek(1) is not None and c.peek(1).kind == NUMBER:
        sign = "-" if tok.text == "-" else ""
        c.i += 1
    val = c.next()
    if val.kind == NUMBER:
        value = sign + val.text
    elif sign or val.kind not in (WORD, QIDENT, STRING):
        raise c.error(f"expected a value (a name, 'string' or number) for {name}", val)
    else:
        value = _name_value(val) if val.kind == WORD else val.value
    c.end()
    return P.Parameter(name, value, persist, tok.start)


def build_set(c: Cursor) -> tuple[str, object]:
    """``SET p = v`` / ``SET p TO v`` (``SET SESSION p ...`` too)."""
    c.expect("SET")
    c.accept("SESSION")
    return P.SET_PARAMETER, _assignment(c, "SET", persist=False)


def build_reset(c: Cursor) -> tuple[str, object]:
    c.expect("RESET")
    tok = _parameter_name(c, "RESET")
    c.end()
    return P.SET_PARAMETER, P.Parameter(_name_value(tok), None, False, tok.start)


def build_show(c: Cursor) -> tuple[str, object]:
    c.expect("SHOW")
    tok = _parameter_name(c, "SHOW")
    c.end()
    return P.SHOW_PARAMETER, P.Parameter(_name_value(tok), None, False, tok.start)


def build_alter_database(c: Cursor) -> tuple[str, object]:
    """``ALTER DATABASE SET p = v`` / ``ALTER DATABASE RESET p``: stored in the file."""
    c.expect("ALTER", "DATABASE")
    if c.accept("SET"):
        return P.SET_PARAMETER, _assignment(c, "ALTER DATABASE SET", persist=True)
    if c.accept("RESET"):
        tok = _parameter_name(c, "ALTER DATABASE RESET")
        c.end()
        return P.SET_PARAMETER, P.Parameter(_name_value(tok), None, True, tok.start)
    raise c.error("expected SET or RESET after ALTER DATABASE (galaxlite has one database per file)")


# ------------------------------------------------------------------- refs inside queries


def _relation_start(toks: tuple[Token, ...], k: int) -> int | None:
    """If a ``[schema.]name`` ending at token k stands where a relation goes (after FROM,
    JOIN, INTO, UPDATE, or a comma / parenthesis of a FROM clause), its first token."""
    if k < 0 or toks[k].kind not in (WORD, QIDENT) or toks[k].upper in _RESERVED:
        return None  # "FROM (SELECT @p)": a keyword, not a name
    start = k
    if k >= 2 and _is_op(toks[k - 1], ".") and toks[k - 2].kind in (WORD, QIDENT):
        start = k - 2
    j = start - 1
    while j >= 0 and _is_op(toks[j], "("):
        j -= 1
    if j < 0:
        return None
    prev = toks[j]
    if prev.is_word("FROM", "JOIN", "INTO", "UPDATE") and not (
        prev.upper == "FROM" and j > 0 and toks[j - 1].is_word("DISTINCT")
    ):
        return start
    if j >= 2 and toks[j - 1].is_word("OR") and toks[j - 2].is_word("UPDATE"):
        return start  # UPDATE OR IGNORE name
    if _is_op(prev, ",") and _in_from_clause(toks, j):
        return start
    return None


def _has_alias(toks: tuple[Token, ...], k: int) -> bool:
    nxt = toks[k] if k < len(toks) else None
    return nxt is not None and (
        nxt.is_word("AS") or nxt.kind == QIDENT or (nxt.kind == WORD and nxt.upper not in _NOT_ALIAS)
    )


def find_snapshot_refs(c: Cursor, first_hole: int) -> list[P.SnapshotRef]:
    """Every ``[schema.]name@version`` relation → a ``SnapshotRef`` and an edit leaving a hole
    (numbered from ``first_hole``, after the AT VERSION refs) plus ``AS "name"`` when no alias
    is given; ``db4ai.snapshot`` → the catalog table. A ``@`` elsewhere (``WHERE x = @p``) is
    left alone: it is a parameter."""
    toks = c.tokens
    refs: list[P.SnapshotRef] = []
    for k, tok in enumerate(toks):
        if is_at(tok):
            start = _relation_start(toks, k - 1)
            if start is None and tok.kind == OP:  # as before "@" became a token of its own
                raise c.error("unrecognized token '@'", tok)
            if start is None:
                continue  # "@p": a parameter
            found = version_at(c.stmt, k)
            if found is None:
                raise c.error(BAD_VERSION, tok)
            version, after = found
            written = c.stmt.script[toks[start].start : toks[after - 1].end]
            if _writes_to(toks, start):
                raise c.error(
                    f"snapshot {written} is read-only: snapshots are immutable", toks[start], SnapshotIsReadOnly
                )
            schema = _name_value(toks[start]) if start < k - 1 else None
            name = P.SnapshotName(schema, _name_value(toks[k - 1]), version, toks[start].start)
            hole = first_hole + len(refs)
            refs.append(P.SnapshotRef(name, toks[start].start))
            alias = "" if _has_alias(toks, after) else " AS " + quote_identifier(name.name)
            c.edits.append((toks[start].start, toks[after - 1].end, f"\x00{hole}\x00{alias}"))
        elif (
            tok.kind in (WORD, QIDENT)
            and _name_value(tok) == "db4ai"
            and k + 2 < len(toks)
            and _is_op(toks[k + 1], ".")
            and toks[k + 2].kind in (WORD, QIDENT)
            and _name_value(toks[k + 2]) == "snapshot"
            and not is_at(toks[k + 3] if k + 3 < len(toks) else None)
            and _relation_start(toks, k + 2) == k
        ):
            if _writes_to(toks, k):
                raise c.error(
                    "db4ai.snapshot is read-only: it changes through CREATE / SAMPLE / PUBLISH / "
                    "ARCHIVE / PURGE SNAPSHOT",
                    tok,
                    SnapshotIsReadOnly,
                )
            alias = "" if _has_alias(toks, k + 3) else ' AS "snapshot"'
            c.edits.append((tok.start, toks[k + 2].end, CATALOG_TABLE + alias))
    return refs
