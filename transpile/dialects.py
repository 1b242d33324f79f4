"""SQL dialects: statements written for PostgreSQL (or openGauss) translated to SQLite by sqlglot.

galaxlite reads SQLite's SQL as written. Under the ``postgres`` dialect (``Database(path,
dialect="postgres")``, ``galaxlite --dialect postgres``, ``SET galaxlite.dialect = 'postgres'``)
each statement is first translated here, then parsed by galaxlite as usual. Only the SQL parts
are translated: galaxlite's own syntax is not PostgreSQL, so ``t AT VERSION 'v1'`` and
``name@1.0.0`` stand in the query as placeholders while sqlglot reads it, the SNAPSHOT, TAG and
parameter statements pass as written, and of ``CREATE SNAPSHOT`` only the query after ``AS``
and the commands of ``USING ( ... )`` are translated.

sqlglot's own PostgreSQL → SQLite translation keeps most meanings; ``TRANSFORMS`` is the table
of small functions for the ones it does not (each takes the node and returns its SQLite
meaning, or raises ``Refused``): ``random()`` is a float in [0, 1) in PostgreSQL and a 64-bit
integer in SQLite, ``LIKE`` is case-sensitive there, ``::int`` rounds, ``CURRENT_DATE - 30``
is a date, ``generate_series`` is a table function SQLite lacks. What cannot be translated
faithfully is refused with an error naming it, never run as something else.

>>> translate("SELECT x::int FROM t WHERE random() <= 0.2", "postgres")
"SELECT CASE WHEN TYPEOF(x) = 'real' THEN CAST(ROUND(x) AS INTEGER) ELSE CAST(x AS INTEGER) END FROM t WHERE ((RANDOM() & 9007199254740991) / 9007199254740992.0) <= 0.2"
>>> translate("SELECT * FROM m0@1.0.0 WHERE name ILIKE 'a%'", "postgres")
"SELECT * FROM m0@1.0.0 WHERE name LIKE 'a%' ESCAPE '\\\\'"
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.tokens import Token, TokenType

from galaxlite.transpile.errors import SqlSyntaxError, UnsupportedSyntax
from galaxlite.transpile.lexer import split_statements
from galaxlite.transpile.postgres import TRANSFORMS, Refused

DIALECTS = ("sqlite", "postgres")
_HOLE = "__gl_hole_"
_HOLE_RE = re.compile(_HOLE + r"(\d+)\b")
# statements of galaxlite's own (no SQL inside to translate): leading words
_AS_WRITTEN = {"SAMPLE", "PUBLISH", "ARCHIVE", "PURGE", "SET", "RESET", "SHOW", "CHANGES", "RESTORE",
               "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"}
_AS_WRITTEN_PAIRS = {("ALTER", "DATABASE"), ("CREATE", "VERSION"), ("DROP", "VERSION")}
_RELATION_BEFORE = {TokenType.FROM, TokenType.JOIN, TokenType.COMMA, TokenType.L_PAREN, TokenType.UPDATE,
                    TokenType.INTO, TokenType.TABLE}
_NAME = {TokenType.VAR, TokenType.IDENTIFIER}


def translate(script: str, dialect: str) -> str:
    """``script`` (one or more statements) in SQLite's SQL; as written for ``sqlite``."""
    if dialect == "sqlite":
        return script
    if dialect not in DIALECTS:
        raise UnsupportedSyntax(f"unknown SQL dialect {dialect!r}: expected one of {', '.join(DIALECTS)}")
    toks = _tokens(script, 0)
    return ";\n".join(_statement(script, part) for part in _split(toks, 0, len(toks)) if part)


def split(script: str, dialect: str) -> list[str]:
    """The statements of ``script`` as written, each its own text (cut as ``dialect`` reads
    them: PostgreSQL's ``$$ ... $$`` and ``::`` are not SQLite's)."""
    if dialect == "sqlite":
        return [s.text for s in split_statements(script)]
    toks = _tokens(script, 0)
    return [_text(script, part) for part in _split(toks, 0, len(toks))]


def _tokens(text: str, base: int) -> list[Token]:
    try:
        return Postgres().tokenize(text)
    except sqlglot.errors.SqlglotError as exc:
        raise SqlSyntaxError(f"PostgreSQL syntax error: {_first_line(exc)}", text, base) from None


def _first_line(exc: Exception) -> str:
    return str(exc).split("\n")[0]


def _split(toks: list[Token], lo: int, hi: int) -> list[list[Token]]:
    """tokens[lo:hi] cut at the semicolons outside parentheses."""
    parts: list[list[Token]] = [[]]
    depth = 0
    for tok in toks[lo:hi]:
        if tok.token_type == TokenType.SEMICOLON and depth == 0:
            parts.append([])
            continue
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(tok.token_type, 0)
        parts[-1].append(tok)
    return [p for p in parts if p]


def _text(script: str, toks: list[Token]) -> str:
    return script[toks[0].start : toks[-1].end + 1]


def _statement(script: str, toks: list[Token]) -> str:
    words = [t.text.upper() for t in toks[:2]]
    if words[0] in _AS_WRITTEN or tuple(words) in _AS_WRITTEN_PAIRS:
        return _text(script, toks)
    if words == ["START", "TRANSACTION"]:
        return "BEGIN"
    if words == ["ALTER", "TABLE"] and any(t.text.upper() in ("VERSIONING", "EMBEDDING") for t in toks):
        return _text(script, toks)
    if words == ["CREATE", "SNAPSHOT"]:
        return _create_snapshot(script, toks)
    if words == ["BULK", "INSERT"]:
        return "BULK " + translate_sql(script, toks[1:])
    return translate_sql(script, toks)


# ------------------------------------------------------------------------ CREATE SNAPSHOT


def _create_snapshot(script: str, toks: list[Token]) -> str:
    """Of ``CREATE SNAPSHOT``, the query after AS or each command of USING ( ... )."""
    depth = 0
    for k, tok in enumerate(toks):
        if tok.token_type == TokenType.L_PAREN:
            depth += 1
        elif tok.token_type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and tok.token_type == TokenType.USING and k + 1 < len(toks) and (
            toks[k + 1].token_type == TokenType.L_PAREN
        ):
            return _using(script, toks, k + 1)
        elif depth == 0 and tok.token_type == TokenType.ALIAS and k + 1 < len(toks) and toks[k + 1].token_type in (
            TokenType.SELECT, TokenType.WITH, TokenType.VALUES, TokenType.L_PAREN
        ):
            head = script[toks[0].start : toks[k + 1].start]
            return head + translate_sql(script, toks[k + 1 :])
    return _text(script, toks)  # malformed: galaxlite's parser says what is wrong


def _using(script: str, toks: list[Token], open_k: int) -> str:
    lo, hi = open_k + 1, len(toks) - 1
    if toks[hi].token_type != TokenType.R_PAREN:
        return _text(script, toks)  # galaxlite's parser reports it
    while lo < hi and toks[lo].token_type == TokenType.L_PAREN and toks[hi - 1].token_type == TokenType.R_PAREN:
        lo, hi = lo + 1, hi - 1  # USING ((cmd; cmd))
    commands = [_command(script, part) for part in _split(toks, lo, hi)]
    return script[toks[0].start : toks[open_k].start] + "(" + ";\n".join(commands) + ")"


def _command(script: str, toks: list[Token]) -> str:
    """One USING command, as a statement on the table ``snapshot`` that sqlglot translates."""
    word = toks[0].text.upper()
    rest = toks[1:]
    if word == "INSERT":
        if len(rest) >= 2 and rest[0].token_type == TokenType.INTO and rest[1].text.upper() == "SNAPSHOT":
            rest = rest[2:]
        return _as_statement(script, toks, "INSERT INTO snapshot ", rest)
    if word == "UPDATE":
        if rest and rest[0].text.upper() == "SNAPSHOT":
            rest = rest[1:]
        return _as_statement(script, toks, "UPDATE snapshot ", rest)
    if word == "DELETE":
        if len(rest) >= 2 and rest[0].token_type == TokenType.FROM and rest[1].text.upper() == "SNAPSHOT":
            rest = rest[2:]
        return _as_statement(script, toks, "DELETE FROM snapshot ", rest)
    return _text(script, toks)  # ALTER ADD / DROP: column definitions, as written


def _as_statement(script: str, toks: list[Token], head: str, rest: list[Token]) -> str:
    if not rest or (head.startswith("INSERT") is False and rest[0].text.upper() not in ("SET", "AS", "USING", "WHERE")):
        return _text(script, toks)  # not the openGauss form: galaxlite's parser says why
    body = script[rest[0].start : rest[-1].end + 1]
    return translate_sql(head + body, _tokens(head + body, toks[0].start), base=toks[0].start)


# ------------------------------------------------------------------------ the SQL parts


def _holes(text: str, toks: list[Token]) -> tuple[str, list[str]]:
    """``text`` with galaxlite's relations (``t AT VERSION x``, ``name@version``) replaced by
    placeholder names; the texts they stand for."""
    edits: list[tuple[int, int]] = []
    k = 0
    while k < len(toks):
        tok = toks[k]
        if tok.token_type in _NAME and k + 2 < len(toks) and toks[k + 1].text.upper() == "AT" and (
            toks[k + 2].text.upper() == "VERSION"
        ):
            end = _version_end(toks, k + 3)
            if end is not None:
                edits.append((_relation_first(toks, k), end))
                k = end + 1
                continue
        if tok.token_type == TokenType.PARAMETER and tok.text == "@" and k > 0 and toks[k - 1].token_type in _NAME:
            first = _relation_first(toks, k - 1)
            if first > 0 and toks[first - 1].token_type in _RELATION_BEFORE and k + 1 < len(toks):
                end = k + 1
                if toks[end].token_type == TokenType.NUMBER:
                    while end + 1 < len(toks) and toks[end + 1].start == toks[end].end + 1 and toks[
                        end + 1
                    ].token_type in (TokenType.NUMBER, TokenType.DOT):
                        end += 1
                edits.append((first, end))
                k = end + 1
                continue
        k += 1
    pieces, holes, pos = [], [], toks[0].start if toks else 0
    start = pos
    for first, last in edits:
        pieces.append(text[pos : toks[first].start])
        pieces.append(f"{_HOLE}{len(holes)}")
        holes.append(text[toks[first].start : toks[last].end + 1])
        pos = toks[last].end + 1
    pieces.append(text[pos : toks[-1].end + 1] if toks else "")
    del start
    return "".join(pieces), holes


def _relation_first(toks: list[Token], k: int) -> int:
    """The first token of the ``[schema.]name`` ending at token k."""
    if k >= 2 and toks[k - 1].token_type == TokenType.DOT and toks[k - 2].token_type in _NAME:
        return k - 2
    return k


def _version_end(toks: list[Token], k: int) -> int | None:
    """The last token of the x of ``AT VERSION x`` starting at token k."""
    if k >= len(toks):
        return None
    tok = toks[k]
    if tok.token_type in (TokenType.STRING, TokenType.NUMBER, TokenType.PLACEHOLDER):
        return k
    if tok.token_type in (TokenType.PARAMETER, TokenType.COLON) and k + 1 < len(toks):
        return k + 1  # :v / @v / $v
    return None


def translate_sql(script: str, toks: list[Token], base: int | None = None) -> str:
    """The SQL statement of ``toks`` (tokens of ``script``) in SQLite's SQL."""
    position = toks[0].start if base is None else base
    text, holes = _holes(script, toks)
    try:
        trees = sqlglot.parse(text, read="postgres")
    except sqlglot.errors.SqlglotError as exc:
        raise SqlSyntaxError(f"PostgreSQL syntax error: {_first_line(exc)}", script, position) from None
    if len(trees) != 1 or trees[0] is None:
        raise SqlSyntaxError("expected one PostgreSQL statement", script, position)
    tree = trees[0]
    if isinstance(tree, exp.Command):
        raise UnsupportedSyntax(
            f"galaxlite cannot translate this statement from PostgreSQL ({tree.name} ... is not "
            "parsed by sqlglot): run it under the sqlite dialect", script, position
        )
    try:
        tree = _rewrite(tree)
        sql = tree.sql(dialect="sqlite", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except Refused as exc:
        raise UnsupportedSyntax(f"{exc} (under the postgres dialect)", script, position) from None
    except sqlglot.errors.SqlglotError as exc:
        raise UnsupportedSyntax(
            f"sqlglot cannot translate this statement from PostgreSQL to SQLite: {_first_line(exc)}",
            script, position,
        ) from None
    return _HOLE_RE.sub(lambda m: holes[int(m.group(1))], sql)


def _rewrite(tree: exp.Expression) -> exp.Expression:
    """Apply ``TRANSFORMS`` to every node, children before their parents."""
    for node in reversed(list(tree.walk())):
        fn = TRANSFORMS.get(type(node))
        if fn is None:
            continue
        new = fn(node)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    for node in tree.walk():
        if isinstance(node, exp.Interval):
            raise Refused(f"INTERVAL arithmetic other than date / timestamp ± INTERVAL 'n unit': {node.sql()}")
        if isinstance(node, (exp.GenerateSeries, exp.ExplodingGenerateSeries)):
            raise Refused("generate_series(...) is translated only as a table in FROM")
    return tree
