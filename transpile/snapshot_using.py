"""The ``USING ( ... )`` batch of ``CREATE SNAPSHOT name FROM @parent USING (cmd; ...)``.

openGauss DB4AI derives a snapshot from its parent by a batch of commands that each name no
table (they change the new snapshot): ``INSERT [INTO SNAPSHOT] SELECT ... | VALUES ...``,
``UPDATE [SNAPSHOT] [AS a] SET ... [FROM ...] [WHERE ...]``, ``DELETE [FROM SNAPSHOT] [AS a]
[USING ...] [WHERE ...]`` and ``ALTER [SNAPSHOT] ADD ... | DROP ...``. ``using_batch`` cuts the
batch at its top-level ``;`` and splits each command into its clauses (the openGauss pieces
kept in the catalog's lineage); the clauses stay text, which the engine parses itself when it
runs them (refs, SEMANTIC_*). Error wording follows openGauss.

>>> from galaxlite.transpile import parse_statement
>>> cmd = parse_statement("CREATE SNAPSHOT m0 FROM @1.0.0 USING (DELETE WHERE RANDOM() <= 0.2;)"
...                       ).detail.commands[0]
>>> cmd.pieces, cmd.where
(('DELETE', 'WHERE RANDOM() <= 0.2'), 'RANDOM() <= 0.2')
"""

from __future__ import annotations

from galaxlite.transpile import plan as P
from galaxlite.transpile.cursor import Cursor, is_op, matching_paren, split_top_level, top_level
from galaxlite.transpile.errors import TranspileError, UnsupportedSyntax
from galaxlite.transpile.lexer import OP, QIDENT, SEMI, WORD
from galaxlite.transpile.snapshot_refs import name_value


def using_batch(c: Cursor) -> tuple[P.SnapshotCommand, ...]:
    """The commands of ``USING ( ... )`` at the cursor, which must end the statement
    (``USING ((cmd; cmd))`` too); leaves the cursor at the end."""
    toks = c.tokens
    if not c.accept("USING"):
        raise c.error("expected USING (command; ...) in CREATE SNAPSHOT ... FROM")
    if not is_op(c.peek(), "("):
        raise c.error("expected ( after USING")
    open_k = c.i
    close_k = matching_paren(toks, open_k)
    if close_k == len(toks):
        raise c.error("unbalanced parentheses in USING (...)", toks[open_k])
    if close_k != len(toks) - 1:
        raise c.error("unexpected text after the end of the statement", toks[close_k + 1])
    lo, hi = open_k + 1, close_k
    # doubled parentheses: USING ((cmd; cmd))
    while lo < hi and is_op(toks[lo], "(") and matching_paren(toks, lo) == hi - 1:
        lo, hi = lo + 1, hi - 1
    spans = [(first, end) for first, end in split_top_level(toks, lo, hi, SEMI, ";") if end > first]
    commands = tuple(
        _command(c, first, end, spans[i + 1][0] if i + 1 < len(spans) else None)
        for i, (first, end) in enumerate(spans)
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


def _command(c: Cursor, first: int, end: int, following: int | None) -> P.SnapshotCommand:
    """One command of a USING batch: tokens[first:end]; ``following``: the index of the next
    command's first token (None for the last), which names the place of an empty command."""
    toks = c.tokens
    tok = toks[first]
    word = tok.upper
    try:
        if word == "INSERT":
            return _insert(c, first, end)
        if word == "UPDATE":
            return _update(c, first, end)
        if word == "DELETE":
            return _delete(c, first, end)
        if word in ("ALTER", "ADD", "DROP"):
            return _alter(c, first, end)
    except _Empty as empty:
        before = "" if following is None else f" before: '{toks[following].text}'"
        raise c.error(f"missing auxiliary clauses in {empty.op}{before}", tok) from None
    text = c.text(first, end - 1)
    message = _MISSING_OP.get(word, "missing ALTER / INSERT / UPDATE / DELETE keyword before SQL clause: '{}'")
    raise c.error(message.format(text), tok)


class _Empty(Exception):
    """A command with no clauses (``INSERT``, ``UPDATE AS i``, ``ALTER SNAPSHOT``)."""

    def __init__(self, op: str):
        super().__init__(op)
        self.op = op


def _clause(c: Cursor, first: int, end: int) -> tuple[str, str]:
    """(the clause with its keyword, the text after the keyword) of tokens[first:end]."""
    if end <= first + 1:
        raise c.error(f"expected text after {c.tokens[first].upper}", c.tokens[first])
    return c.text(first, end - 1), c.text(first + 1, end - 1)


def _alias(c: Cursor, k: int, end: int, op: str) -> tuple[str | None, str | None, int]:
    """``AS alias`` at token k: (alias, its piece "AS a", index after it)."""
    toks = c.tokens
    if k < end and toks[k].is_word("AS"):
        if k + 1 >= end or toks[k + 1].kind not in (WORD, QIDENT):
            raise c.error(f"expected an alias after AS in {op}", toks[k + 1] if k + 1 < end else toks[k])
        alias = toks[k + 1].value
        if k + 2 < end and toks[k + 2].is_word("AS"):
            raise c.error(f"multiple AS clauses in {op} at: '{c.text(k + 2, end - 1)}'", toks[k + 2])
        return alias, c.text(k, k + 1), k + 2
    return None, None, k


def _check_single(c: Cursor, lo: int, hi: int, word: str, op: str) -> None:
    """A second depth-0 ``word`` in tokens[lo:hi] is an error (``multiple WHERE clauses``)."""
    again = top_level(c.tokens, lo, hi, word)
    if again < hi:
        raise c.error(f"multiple {word} clauses in {op} at: '{c.text(again, hi - 1)}'", c.tokens[again])


def _illegal(c: Cursor, k: int, end: int, op: str) -> TranspileError:
    tok = c.tokens[k]
    clause = tok.upper if tok.upper in ("WHERE", "FROM", "USING", "SET", "AS") else "SQL"
    return c.error(f"illegal {clause} clause in {op} at: '{c.text(k, end - 1)}'", tok)


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
        raise _Empty("INSERT")
    if not any(t.is_word("SELECT", "VALUES") for t in toks[k:end]):
        raise c.error("missing SELECT or VALUES clause in INSERT operation", toks[k])
    rest = c.text(k, end - 1)
    return P.SnapshotCommand("INSERT", ("INSERT", rest), toks[first].start, insert=rest)


def _update(c: Cursor, first: int, end: int) -> P.SnapshotCommand:
    toks, k = c.tokens, first + 1
    if k < end and toks[k].is_word("SNAPSHOT"):
        k += 1
    alias, as_piece, k = _alias(c, k, end, "UPDATE")
    if k >= end:
        raise _Empty("UPDATE")
    if not toks[k].is_word("SET"):
        if toks[k].is_word("FROM", "WHERE"):
            raise c.error("missing SET clause in UPDATE operation", toks[k])
        raise _illegal(c, k, end, "UPDATE")
    from_k = top_level(toks, k + 1, end, "FROM", "WHERE")
    where_k = top_level(toks, from_k, end, "WHERE")
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
        where_k = top_level(toks, k + 1, end, "WHERE")
        again = top_level(toks, k + 1, where_k, "USING")
        while again < where_k and again + 1 < where_k and is_op(toks[again + 1], "("):
            again = top_level(toks, again + 1, where_k, "USING")  # JOIN ... USING (col)
        if again < where_k:
            raise c.error(f"multiple USING clauses in DELETE at: '{c.text(again, end - 1)}'", toks[again])
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
        raise _Empty("ALTER")
    for word in ("WHERE", "FROM", "USING"):
        j = top_level(toks, k, end, word)
        if j < end:
            raise c.error(f"illegal {word} clause in ALTER at: '{c.text(j, end - 1)}'", toks[j])
    if toks[k].is_word("SET", "AS", "VALUES", "SELECT") or is_op(toks[k], "("):
        raise _illegal(c, k, end, "ALTER")
    text = c.text(k, end - 1)
    actions = tuple(
        _alter_action(c, lo, hi, text) for lo, hi in split_top_level(toks, k, end, OP, ",")
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
    text = c.text(lo, hi - 1)
    k = lo + 1
    if k < hi and toks[k].is_word("COLUMN"):  # a keyword, as in openGauss: quote a column named so
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
            f"unable to extract column name in {action} operation: '{whole}'", toks[k] if k < hi else tok
        )
    column = name_value(toks[k])
    k += 1
    if (toks[k - 1].kind == QIDENT and k + 1 < hi and toks[k].kind == WORD
            and toks[k].start == toks[k - 1].end
            and toks[k + 1].kind == WORD and not toks[k + 1].is_word(*_AFTER_TYPE)):
        # "abc"d int: openGauss reads the type d, then stops at int ("x"INT DEFAULT 2 is fine)
        raise c.error(f'syntax error at or near "{toks[k + 1].text}"', toks[k + 1])
    definition = ""
    if action == "DROP" and k < hi:
        raise c.error(f'syntax error at or near "{toks[k].text}"', toks[k])
    if action == "ADD" and k < hi:
        if toks[k].kind not in (WORD, QIDENT):
            raise c.error(f'syntax error at or near "{toks[k].text}"', toks[k])
        _check_no_constraint(c, k, hi)
        definition = c.text(k, hi - 1)
    return P.AlterAction(action.lower(), column, definition, if_exists, text)


# Column constraints an ADD may not carry: a snapshot is data, not rules. REFERENCES would
# tie the snapshot's storage to a user table (whose deletes it would then block), CHECK and
# GENERATED name the column, which CSS storage calls f<n>; PRIMARY KEY / UNIQUE SQLite
# refuses in ALTER TABLE ADD anyway.
_CONSTRAINTS = ("REFERENCES", "CHECK", "GENERATED", "AS", "PRIMARY", "UNIQUE")


# What may follow a column's type in an ADD (a second bare word after a type glued to a quoted
# name, as in "abc"d int, is a syntax error there).
_AFTER_TYPE = ("DEFAULT", "NOT", "NULL", "COLLATE", "CONSTRAINT", *_CONSTRAINTS)


def _check_no_constraint(c: Cursor, lo: int, hi: int) -> None:
    """Refuse the column constraints of ``_CONSTRAINTS`` in an ALTER ... ADD definition
    (type, DEFAULT, NOT NULL and COLLATE are what a snapshot column keeps)."""
    j = top_level(c.tokens, lo, hi, *_CONSTRAINTS)
    if j < hi:
        word = c.tokens[j].upper
        raise c.error(
            f"column constraint {'GENERATED' if word == 'AS' else word} is not supported in a "
            "snapshot's ALTER ... ADD: a snapshot column keeps only its type, DEFAULT, NOT NULL "
            "and COLLATE",
            c.tokens[j],
            UnsupportedSyntax,
        )

