"""The token ``Cursor`` and the token helpers every pass of the front end shares.

Every statement builder gets a ``Cursor`` over the statement's tokens and returns a plan
kind and detail record; the passes that rewrite a statement (``AT VERSION`` refs,
``name@version`` refs, ``SEMANTIC_*`` calls, ``VECTOR(n)`` checks) record their edits on the
same cursor, and ``analysis.analyze`` applies them all at once. The front end never
builds a parse tree: these helpers answer the few structural questions it has (where does a
parenthesis close, is a name the target of a write, does an alias follow) from the tokens.

>>> from galaxlite.transpile.lexer import tokenize
>>> toks = tuple(tokenize("SELECT (a + (b)) FROM t x"))
>>> matching_paren(toks, 1), in_from_clause(toks, 9), has_alias(toks, 10)
(7, True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from galaxlite.transpile import plan as P
from galaxlite.transpile.errors import SqlSyntaxError, TranspileError, UnsupportedSyntax
from galaxlite.transpile.lexer import OP, PARAM, QIDENT, STRING, WORD, Statement, Token

# Marks a hole's number in the edited SQL text ("\x00<n>\x00"), which is only shown; the
# template's pieces come from the edits themselves (the user's text may hold NUL too).
HOLE = "\x00"


@dataclass(frozen=True, slots=True)
class Hole:
    """An edit that leaves hole ``number`` of the template, followed by ``suffix``."""

    number: int
    suffix: str = ""

    def __str__(self) -> str:
        return f"{HOLE}{self.number}{HOLE}{self.suffix}"


# Words that may follow a table reference and are therefore not an implicit alias.
NOT_ALIAS = frozenset(
    """WHERE JOIN INNER LEFT RIGHT FULL OUTER CROSS NATURAL ON USING GROUP ORDER LIMIT UNION
    INTERSECT EXCEPT WINDOW HAVING INDEXED NOT RETURNING SET VALUES DO FROM SELECT OFFSET""".split()
)
# Words that start a clause: walking back from a name, the first one says which clause it is in.
_CLAUSE_WORDS = frozenset(
    """FROM JOIN SELECT WHERE ON USING GROUP HAVING ORDER SET VALUES LIMIT RETURNING INTO UPDATE
    WINDOW BY""".split()
)


@dataclass
class Cursor:
    """Reads a statement's tokens left to right; errors point at the offending token.

    ``edits`` are ``(start, end, replacement)`` offsets into the script, applied by
    ``analyze`` once every pass has run.
    """

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

    def error(
        self, message: str, tok: Token | None = None, cls: type[TranspileError] = SqlSyntaxError
    ) -> TranspileError:
        """The error to raise for ``tok`` (default: the next token; the statement's end if none)."""
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
        if is_op(self.peek(), "."):
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

    def leave_hole(self, start: int, end: int, hole: int, alias: str | None = None, after: int = 0) -> None:
        """Replace script[start:end] by hole number ``hole`` of ``Plan.template``, which the
        engine fills at run time. With ``alias``, the filled-in subquery is named so (``AS
        "t"``) unless the statement gives an alias itself at token ``after``."""
        named = "" if alias is None or has_alias(self.tokens, after) else " AS " + quote_identifier(alias)
        self.edits.append((start, end, Hole(hole, named)))

    def text(self, first: int, last: int) -> str:
        """The SQL text of tokens first..last (inclusive) as written."""
        return self.stmt.script[self.tokens[first].start : self.tokens[last].end]

    def integer(self, tok: Token) -> int | None:
        """The integer a NUMBER token denotes as SQLite reads it; None if it is no integer.

        A hex literal is a 64-bit two's complement integer, so ``0xFFFFFFFFFFFFFFFF`` is -1;
        more than 16 hex digits is SQLite's "hex literal too big".

        >>> from galaxlite.transpile.lexer import split_statements
        >>> c = Cursor(split_statements("SELECT 12, 0x1F, 0xFFFFFFFFFFFFFFFF, 1.5")[0])
        >>> [c.integer(t) for t in c.tokens if t.kind == "number"]
        [12, 31, -1, None]
        """
        text = tok.text
        if text.isdigit():
            return int(text)
        if text[:2].lower() != "0x":
            return None
        if len(text[2:].lstrip("0")) > 16:
            raise self.error(f"hex literal too big: {text} (at most 16 hex digits)", tok)
        value = int(text, 16)
        return value - (1 << 64) if value >= 1 << 63 else value

    def param_key(self, tok: Token, what: str) -> int | str:
        """The key a parameter token is bound by: for ``?`` its 0-based index among the
        statement's plain ``?`` markers, for ``:name`` the name. ``what`` names the syntax
        in the error for a numbered ``?3``, which galaxlite does not accept there."""
        if tok.text == "?":
            return sum(1 for t in self.tokens if t.kind == PARAM and t.text == "?" and t.start < tok.start)
        if tok.text[0] == "?":
            raise self.error(f"{what} takes ? or :name, not a numbered parameter", tok, UnsupportedSyntax)
        return tok.text[1:]


# What a statement builder is: it reads the statement through the cursor and returns the plan
# kind and its detail record.
Builder = Callable[[Cursor], tuple[str, object]]


def is_op(tok: Token | None, text: str) -> bool:
    """Is ``tok`` the operator or punctuation ``text``?"""
    return tok is not None and tok.kind == OP and tok.text == text


def matching_paren(toks: tuple[Token, ...], k: int) -> int:
    """Index of the ``)`` closing the ``(`` at ``k``; ``len(toks)`` when the statement ends
    first (so ``+ 1`` steps past the end, and a caller that needs the ``)`` can tell)."""
    depth = 0
    for j in range(k, len(toks)):
        tok = toks[j]
        if tok.kind == OP:
            if tok.text == "(":
                depth += 1
            elif tok.text == ")":
                depth -= 1
                if depth == 0:
                    return j
    return len(toks)


def top_level(toks: tuple[Token, ...], lo: int, hi: int, *words: str) -> int:
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


def split_top_level(toks: tuple[Token, ...], lo: int, hi: int, kind: str, text: str) -> list[tuple[int, int]]:
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


def has_alias(toks: tuple[Token, ...], k: int) -> bool:
    """Does an alias (``AS x``, ``"x"`` or a plain word that is no clause keyword) start at
    token ``k``, right after a table reference?"""
    nxt = toks[k] if k < len(toks) else None
    return nxt is not None and (
        nxt.is_word("AS") or nxt.kind == QIDENT or (nxt.kind == WORD and nxt.upper not in NOT_ALIAS)
    )


def writes_to(tokens: tuple[Token, ...], k: int) -> bool:
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


def in_from_clause(tokens: tuple[Token, ...], k: int) -> bool:
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


def quote_identifier(name: str) -> str:
    """``"name"`` with embedded quotes doubled.

    >>> quote_identifier('a"b')
    '"a""b"'
    """
    return '"' + name.replace('"', '""') + '"'
