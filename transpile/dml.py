"""The shape of an UPDATE / DELETE, for the engine's set-based write path.

galaxlite can version an UPDATE or DELETE without per-row triggers when it can find the
rows the statement touches with a query of its own before the statement runs: the same
table, the same WHERE. ``change_shape`` says whether a statement is such a one and gives
the pieces (``ChangeRows``); anything it is not sure about (a FROM, ORDER BY / LIMIT, a
WITH, a conflict clause, a WHERE whose value could differ between two evaluations) gets
``None``, and the engine takes the trigger path, which handles every statement.

>>> from galaxlite.transpile.lexer import split_statements
>>> def shape(sql):
...     return change_shape(split_statements(sql)[0])
>>> shape("UPDATE t AS x SET a = ?, b = b + 1 WHERE x.id > ? RETURNING a")
ChangeRows(verb='UPDATE', table=TableName(schema=None, name='t'), target='t AS x', ref='x', where='x . id > ?2', set_columns=('a', 'b'), named=False, last_param=2)
>>> shape("DELETE FROM t WHERE random() < 0.5") is None  # evaluated twice, it would differ
True
"""

from __future__ import annotations

from galaxlite.transpile import plan as P
from galaxlite.transpile.cursor import is_op, split_top_level, top_level
from galaxlite.transpile.lexer import OP, PARAM, QIDENT, STRING, WORD, Statement, Token

# Functions whose value depends only on their arguments (SQLite's built-ins): a WHERE made
# of these, columns, literals and subqueries selects the same rows each time it runs.
# random(), changes(), the date functions ('now'), user functions, ... are not here.
DETERMINISTIC = frozenset(
    """abs char coalesce concat concat_ws format glob hex ifnull iif instr length like
    likelihood likely lower ltrim max min nullif octet_length printf quote replace round rtrim
    sign soundex substr substring trim typeof unhex unicode unlikely upper zeroblob
    count sum total avg group_concat string_agg
    json json_array json_array_length json_extract json_insert json_object json_patch json_quote
    json_remove json_replace json_set json_type json_valid json_each json_tree jsonb
    acos acosh asin asinh atan atan2 atanh ceil ceiling cos cosh degrees exp floor ln log
    log10 log2 mod pi pow power radians sin sinh sqrt tan tanh trunc
    in exists cast not and or is between when then else case""".split()
)
# Words that read the clock or the connection's state without parentheses.
_VOLATILE_WORDS = frozenset(("CURRENT_TIME", "CURRENT_DATE", "CURRENT_TIMESTAMP"))


def parameter_numbers(tokens: tuple[Token, ...]) -> dict[int, int]:
    """Token index → the number SQLite gives that parameter (``?`` takes the largest so far
    plus one; ``?N`` is N; a new name takes the next number).

    >>> from galaxlite.transpile.lexer import split_statements
    >>> toks = split_statements("SELECT ?, ?5, :a, ?, :a")[0].tokens
    >>> sorted(parameter_numbers(toks).values())
    [1, 5, 6, 6, 7]
    """
    numbers: dict[int, int] = {}
    names: dict[str, int] = {}
    top = 0
    for k, tok in enumerate(tokens):
        if tok.kind != PARAM:
            continue
        if tok.text == "?":
            top += 1
            numbers[k] = top
        elif tok.text[0] == "?":
            numbers[k] = int(tok.text[1:])
            top = max(top, numbers[k])
        else:
            if tok.text not in names:
                top += 1
                names[tok.text] = top
            numbers[k] = names[tok.text]
    return numbers


def _deterministic(toks: tuple[Token, ...], lo: int, hi: int) -> bool:
    for j in range(lo, hi):
        tok = toks[j]
        if tok.kind == WORD and tok.upper in _VOLATILE_WORDS:
            return False
        if tok.kind in (WORD, QIDENT) and tok.value.lower().startswith(("_gl_", "galaxlite_")):
            return False  # reads galaxlite's own tables, which the path writes before
        if tok.kind == WORD and j + 1 < hi and is_op(toks[j + 1], "("):
            if tok.text.lower() not in DETERMINISTIC and not (j > 0 and is_op(toks[j - 1], ".")):
                return False
    return True


def _target(toks: tuple[Token, ...], k: int) -> tuple[P.TableName, str, int] | None:
    """The table named at token k: (name, how its columns are qualified, index after it
    and its alias)."""
    if k >= len(toks) or toks[k].kind not in (WORD, QIDENT, STRING):
        return None
    if k + 2 < len(toks) and is_op(toks[k + 1], "."):
        name, ref, k = P.TableName(toks[k].value, toks[k + 2].value), toks[k + 2].text, k + 3
    else:
        name, ref, k = P.TableName(None, toks[k].value), toks[k].text, k + 1
    if k + 1 < len(toks) and toks[k].is_word("AS"):
        ref, k = toks[k + 1].text, k + 2
    elif k < len(toks) and (toks[k].kind == QIDENT or (
        toks[k].kind == WORD and toks[k].upper not in ("SET", "WHERE", "RETURNING", "INDEXED", "NOT",
                                                      "ORDER", "LIMIT", "FROM"))):
        ref, k = toks[k].text, k + 1
    if ref[0] == "'":  # a table named by a string literal: its columns by the name
        ref = '"' + ref[1:-1].replace("''", "'").replace('"', '""') + '"'

    if k < len(toks) and (toks[k].is_word("INDEXED") or toks[k].is_word("NOT")):
        return None  # INDEXED BY / NOT INDEXED: the captured query could not say the same
    return name, ref, k


def _sql(toks: tuple[Token, ...], lo: int, hi: int, numbers: dict[int, int]) -> str:
    return " ".join(f"?{numbers[j]}" if j in numbers and toks[j].text[0] == "?" else toks[j].text
                    for j in range(lo, hi))


def change_shape(stmt: Statement) -> P.ChangeRows | None:
    """The set-based shape of an UPDATE / DELETE statement, or None (see the module doc)."""
    toks = stmt.tokens
    n = len(toks)
    if n < 2:
        return None
    if toks[0].is_word("UPDATE"):
        verb, k = "UPDATE", 1
        if toks[1].is_word("OR"):
            return None  # OR REPLACE / IGNORE / FAIL change which rows a trigger would see
    elif toks[0].is_word("DELETE") and toks[1].is_word("FROM"):
        verb, k = "DELETE", 2
    else:
        return None
    found = _target(toks, k)
    if found is None:
        return None
    table, ref, after = found
    target, k = " ".join(t.text for t in toks[k:after]), after
    set_columns: tuple[str, ...] = ()
    if verb == "UPDATE":
        if k >= n or not toks[k].is_word("SET"):
            return None
        stop = top_level(toks, k + 1, n, "FROM", "WHERE", "RETURNING", "ORDER", "LIMIT")
        cols = []
        for lo, hi in split_top_level(toks, k + 1, stop, OP, ","):
            eq = top_level_op(toks, lo, hi, "=")
            if eq is None or eq == lo:
                return None
            cols.extend(t.value for t in toks[lo:eq] if t.kind in (WORD, QIDENT, STRING))
        if stop < n and toks[stop].is_word("FROM"):
            return None
        k = stop
    where_end = top_level(toks, k, n, "RETURNING", "ORDER", "LIMIT")
    if where_end < n and not toks[where_end].is_word("RETURNING"):
        return None  # ORDER BY ... LIMIT: ties could be broken differently by a second query
    if where_end < n and top_level(toks, where_end, n, "ORDER", "LIMIT") < n:
        return None
    where = None
    if k < where_end:
        if not toks[k].is_word("WHERE") or k + 1 >= where_end:
            return None
        if not _deterministic(toks, k + 1, where_end):
            return None
        numbers = parameter_numbers(toks)
        where = _sql(toks, k + 1, where_end, numbers)
        used = [j for j in range(k + 1, where_end) if toks[j].kind == PARAM]
        named = any(toks[j].text[0] != "?" for j in used)
        last = max((numbers[j] for j in used), default=0)
    else:
        named, last = False, 0
    if any(t.kind == STRING and "\x00" in t.text for t in toks):
        return None
    return P.ChangeRows(verb, table, target, ref, where, tuple(cols) if verb == "UPDATE" else set_columns,
                        named, last)


def top_level_op(toks: tuple[Token, ...], lo: int, hi: int, text: str) -> int | None:
    """Index of the first operator ``text`` at depth 0 in tokens[lo:hi], or None."""
    depth = 0
    for j in range(lo, hi):
        tok = toks[j]
        if tok.kind == OP and tok.text in "()":
            depth += 1 if tok.text == "(" else -1
        elif depth == 0 and tok.kind == OP and tok.text == text:
            return j
    return None
