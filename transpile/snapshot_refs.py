"""``[schema.]name@version``: the snapshot version syntax, and the pass over queries.

A dataset snapshot (openGauss DB4AI syntax) is named ``[schema.]name@version``; what may
follow the ``@`` is read here (``version_at``) for the snapshot statements and for the pass
that turns ``name@version`` relations in a query into ``SnapshotRef`` holes in
``Plan.template`` (like ``AT VERSION`` refs) and ``db4ai.snapshot`` into the plain catalog
table ``db4ai_snapshot`` (``find_snapshot_refs``). A ``@`` anywhere else (``WHERE x = @p``) is
a parameter and is left alone. The engine (galaxlite/storage/snapshot_catalog.py) resolves each hole to the
snapshot's view.

>>> from galaxlite.transpile import parse_statement
>>> plan = parse_statement("SELECT * FROM m0@1.0.0 WHERE x = @p")
>>> plan.template.pieces, plan.refs[0].snapshot.version.parts
(('SELECT * FROM ', 0, ' AS "m0" WHERE x = @p'), ('1', '0', '0'))
"""

from __future__ import annotations

import re

from galaxlite.transpile import plan as P
from galaxlite.transpile.cursor import (
    NOT_ALIAS,
    Cursor,
    has_alias,
    in_from_clause,
    is_op,
    quote_identifier,
    writes_to,
)
from galaxlite.transpile.errors import SnapshotIsReadOnly
from galaxlite.transpile.lexer import NUMBER, OP, PARAM, QIDENT, STRING, WORD, Statement, Token

# Words that end a relation or a clause: never an unquoted version (openGauss refuses
# reserved keywords there too), so "m0@ AS SELECT" is an error, not the version "as".
_RESERVED = NOT_ALIAS | {"AS", "AND", "OR", "ON", "TO", "WITH", "COMMENT", "DISTRIBUTE", "STRATIFY"}
CATALOG_TABLE = "db4ai_snapshot"  # what ``db4ai.snapshot`` reads
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


def is_at(tok: Token | None) -> bool:
    """Does ``tok`` start a ``@version`` (a lone ``@``, or the lexer's ``@name`` / ``@1``)?"""
    return is_op(tok, "@") or (tok is not None and tok.kind == PARAM and tok.text[0] == "@")


def name_value(tok: Token) -> str:
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


# ------------------------------------------------------------------- refs inside queries


def _relation_start(toks: tuple[Token, ...], k: int) -> int | None:
    """If a ``[schema.]name`` ending at token k stands where a relation goes (after FROM,
    JOIN, INTO, UPDATE, or a comma / parenthesis of a FROM clause), its first token."""
    if k < 0 or toks[k].kind not in (WORD, QIDENT) or toks[k].upper in _RESERVED:
        return None  # "FROM (SELECT @p)": a keyword, not a name
    start = k
    if k >= 2 and is_op(toks[k - 1], ".") and toks[k - 2].kind in (WORD, QIDENT):
        start = k - 2
    j = start - 1
    while j >= 0 and is_op(toks[j], "("):
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
    if is_op(prev, ",") and in_from_clause(toks, j):
        return start
    return None


PUBLIC = "public"  # openGauss's default schema, SQLite's main database


def _glued_name(c: Cursor, k: int) -> None:
    """The ``#`` at token k inside a relation name written without blanks (``data#1_2_3``: a
    snapshot's view under the delimiter '#') → the name quoted; a ``#`` elsewhere is an error,
    as in SQLite."""
    toks = c.tokens
    if _relation_start(toks, k - 1) is None or toks[k - 1].end != toks[k].start or (
        toks[k - 1].kind != WORD
    ):
        raise c.error("unrecognized token '#'", toks[k])
    last = k
    while (last + 1 < len(toks) and toks[last + 1].start == toks[last].end
           and (toks[last + 1].kind in (WORD, NUMBER) or is_op(toks[last + 1], "#") or is_op(toks[last + 1], "."))):
        last += 1
    if is_op(toks[last], "#") or is_op(toks[last], "."):
        raise c.error("unrecognized token '#'", toks[k])
    c.edits.append((toks[k - 1].start, toks[last].end, quote_identifier(c.text(k - 1, last))))


def _public_schema(c: Cursor, k: int) -> None:
    """``public.name`` read as a relation → ``main.name`` (openGauss's default schema is
    SQLite's main database); a quoted "public" is left alone (an attached database)."""
    toks = c.tokens
    if (k + 3 < len(toks) and is_at(toks[k + 3])) or writes_to(toks, k):
        return  # public.name@version: a SnapshotRef; a write target: as written
    c.edits.append((toks[k].start, toks[k].end, "main"))


def find_snapshot_refs(c: Cursor, first_hole: int) -> list[P.SnapshotRef]:
    """Every ``[schema.]name@version`` relation → a ``SnapshotRef`` and an edit leaving a hole
    (numbered from ``first_hole``, after the AT VERSION refs) plus ``AS "name"`` when no alias
    is given; ``db4ai.snapshot`` → the catalog table; ``public.name`` → ``main.name``;
    ``data#1_2_3`` → ``"data#1_2_3"``. A ``@`` elsewhere (``WHERE x = @p``) is left alone: it
    is a parameter."""
    toks = c.tokens
    refs: list[P.SnapshotRef] = []
    for k, tok in enumerate(toks):
        if is_op(tok, "#"):
            _glued_name(c, k)
        elif (
            tok.kind == WORD
            and tok.text.lower() == PUBLIC
            and k + 2 < len(toks)
            and is_op(toks[k + 1], ".")
            and toks[k + 2].kind in (WORD, QIDENT)
            and _relation_start(toks, k + 2) == k
        ):
            _public_schema(c, k)
        elif is_at(tok):
            start = _relation_start(toks, k - 1)
            if start is None and tok.kind == OP:  # as before "@" became a token of its own
                raise c.error("unrecognized token '@'", tok)
            if start is None:
                continue  # "@p": a parameter
            found = version_at(c.stmt, k)
            if found is None:
                raise c.error(BAD_VERSION, tok)
            version, after = found
            written = c.text(start, after - 1)
            if writes_to(toks, start):
                raise c.error(
                    f"snapshot {written} is read-only: snapshots are immutable", toks[start], SnapshotIsReadOnly
                )
            schema = name_value(toks[start]) if start < k - 1 else None
            name = P.SnapshotName(schema, name_value(toks[k - 1]), version, toks[start].start)
            hole = first_hole + len(refs)
            refs.append(P.SnapshotRef(name, toks[start].start))
            c.leave_hole(toks[start].start, toks[after - 1].end, hole, alias=name.name, after=after)
        elif (
            tok.kind in (WORD, QIDENT)
            and name_value(tok) == "db4ai"
            and k + 2 < len(toks)
            and is_op(toks[k + 1], ".")
            and toks[k + 2].kind in (WORD, QIDENT)
            and name_value(toks[k + 2]) == "snapshot"
            and not is_at(toks[k + 3] if k + 3 < len(toks) else None)
            and _relation_start(toks, k + 2) == k
        ):
            if writes_to(toks, k):
                raise c.error(
                    "db4ai.snapshot is read-only: it changes through CREATE / SAMPLE / PUBLISH / "
                    "ARCHIVE / PURGE SNAPSHOT",
                    tok,
                    SnapshotIsReadOnly,
                )
            alias = "" if has_alias(toks, k + 3) else ' AS "snapshot"'
            c.edits.append((tok.start, toks[k + 2].end, CATALOG_TABLE + alias))
    return refs
