"""``VECTOR(n)`` columns: the CHECK that keeps them well formed, and the message it fails with.

``add_vector_checks`` gives every ``VECTOR(n)`` column of a CREATE TABLE / ALTER TABLE ADD
COLUMN a plain-SQL CHECK (a BLOB of exactly 4·n bytes), so that every client, plain ones
included, keeps the column well formed. The CHECK's name is the message a client sees when a
write breaks it; ``vector_check_failure`` reads that message back (galaxlite.errors turns it
into a VectorDimensionError), so the text and its reader live here, side by side.

>>> vector_check_failure("CHECK constraint failed: VECTOR(2) column emb needs a 8-byte float32 BLOB")
VectorCheckFailure(column='emb', dim=2)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from galaxlite.transpile import plan as P
from galaxlite.transpile.cursor import Cursor, is_op, quote_identifier
from galaxlite.transpile.lexer import NUMBER, OP, QIDENT, STRING, WORD


def vector_check(column: str, dim: int) -> str:
    """The named CHECK that keeps a ``VECTOR(dim)`` column a 4·dim-byte BLOB (or NULL).

    A failure reads ``CHECK constraint failed: VECTOR(3) column emb needs a 12-byte float32
    BLOB`` in any client; galaxlite turns it into a VectorDimensionError. (The name keeps the
    column's name at creation: RENAME COLUMN updates the check, not its name.)

    >>> print(vector_check("emb", 3))
    CONSTRAINT "VECTOR(3) column emb needs a 12-byte float32 BLOB" CHECK ("emb" IS NULL OR (typeof("emb") = 'blob' AND length("emb") = 12))
    """
    qc = quote_identifier(column)
    name = quote_identifier(f"VECTOR({dim}) column {column} needs a {4 * dim}-byte float32 BLOB")
    return (
        f"CONSTRAINT {name} CHECK ({qc} IS NULL OR "
        f"(typeof({qc}) = 'blob' AND length({qc}) = {4 * dim}))"
    )


# SQLite's message when a CHECK of ``vector_check`` fails: "CHECK constraint failed: " and the
# constraint's name, as written above.
_FAILURE = re.compile(r"CHECK constraint failed: VECTOR\((\d+)\) column (.*) needs a \d+-byte float32 BLOB")


@dataclass(frozen=True, slots=True)
class VectorCheckFailure:
    """A write broke the CHECK of the ``VECTOR(dim)`` column ``column`` (its name at creation)."""

    column: str
    dim: int


def vector_check_failure(message: str) -> VectorCheckFailure | None:
    """The column and dimension if ``message`` (SQLite's, without an apsw class prefix) says a
    ``VECTOR(n)`` CHECK failed; None for any other message."""
    match = _FAILURE.fullmatch(message)
    return VectorCheckFailure(match.group(2), int(match.group(1))) if match else None


def _vector_type_at(c: Cursor, k: int) -> int | None:
    """If tokens ``k..`` are ``VECTOR ( n )``, return n (checked), else None."""
    toks = c.tokens
    if not (k + 1 < len(toks) and toks[k].is_word("VECTOR") and is_op(toks[k + 1], "(")):
        return None
    num = toks[k + 2] if k + 2 < len(toks) else None
    if (
        num is None
        or num.kind != NUMBER
        or not num.text.isdigit()
        or not 1 <= int(num.text) <= P.MAX_VECTOR_DIM
        or not is_op(toks[k + 3] if k + 3 < len(toks) else None, ")")
    ):
        raise c.error(
            f"VECTOR(n) needs a whole number of dimensions from 1 to {P.MAX_VECTOR_DIM}", num
        )
    return int(num.text)


def column_starts(toks: tuple, kind: str) -> list[int]:
    """Token index of the name of each column definition of a CREATE TABLE (every item of
    its parenthesised list, table constraints included) or of an ALTER TABLE ... ADD COLUMN."""
    starts: list[int] = []
    if kind == P.CREATE_TABLE:
        depth = 0
        for k, tok in enumerate(toks):
            if tok.kind != OP:
                continue
            if tok.text == "(":
                depth += 1
                if depth == 1:
                    starts.append(k + 1)
            elif tok.text == ")":
                depth -= 1
            elif tok.text == "," and depth == 1:
                starts.append(k + 1)
    elif kind == P.ALTER_TABLE:
        for k in range(len(toks) - 1):
            if toks[k].is_word("ADD"):
                starts.append(k + 2 if toks[k + 1].is_word("COLUMN") else k + 1)
                break
    return starts


def add_vector_checks(c: Cursor, kind: str) -> None:
    """Record an edit adding the CHECK after each ``name VECTOR(n)`` column definition."""
    toks = c.tokens
    if not any(t.is_word("VECTOR") for t in toks):
        return
    for k in column_starts(toks, kind):
        if k + 1 >= len(toks) or toks[k].kind not in (WORD, QIDENT, STRING):
            continue
        dim = _vector_type_at(c, k + 1)
        if dim is not None:
            end = toks[k + 4]
            c.edits.append((end.end, end.end, " " + vector_check(toks[k].value, dim)))
