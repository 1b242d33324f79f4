"""Which parameters of an INSERT or UPDATE are bound straight to a column, and to which.

The engine uses this to bind a Python value the way its column wants it (a list or numpy
array given for a ``VECTOR(n)`` column becomes its float32 BLOB). It is lexical, like the rest
of the front end: ``INSERT ... [(cols)] VALUES (...)`` pairs each single-token VALUES element
with its column (the listed columns, else the table's columns in order), and ``UPDATE ... SET
col = ?`` pairs each assignment of a lone parameter. Parameters are numbered as SQLite numbers
them when it binds (``?``, ``?N``, ``:name``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from galaxlite.transpile.cursor import is_op
from galaxlite.transpile.lexer import OP, PARAM, WORD, Token, tokenize


def parameter_columns(
    sql: str,
) -> tuple[str | None, str, Callable[[list[str]], dict[int, str]]] | None:
    """For ``INSERT ... [(cols)] VALUES (...)`` / ``UPDATE ... SET col = ?``: (schema, table,
    f) where ``f(table_columns)`` maps each parameter bound straight to a column to that
    column's name. None for any other statement.

    >>> schema, table, f = parameter_columns("INSERT INTO t (a, b) VALUES (?, 1)")
    >>> (schema, table, f(["a", "b"]))
    (None, 't', {1: 'a'})
    """
    toks = tokenize(sql)
    if not toks:
        return None
    first = toks[0].upper
    if first in ("INSERT", "REPLACE"):
        k = next((j + 1 for j, t in enumerate(toks) if t.is_word("INTO")), len(toks))
    elif first == "UPDATE":
        k = 3 if len(toks) > 1 and toks[1].is_word("OR") else 1
    else:
        return None
    if k >= len(toks):
        return None
    schema, table = None, toks[k].value
    if k + 2 < len(toks) and is_op(toks[k + 1], "."):
        schema, table, k = table, toks[k + 2].value, k + 2
    numbers = _parameter_numbers(toks)

    def by_param(all_columns: list[str]) -> dict[int, str]:
        if first == "UPDATE":
            groups = _update_assignments(toks, k + 1)
            pairs = [(g[0].value, g[2]) for g in groups if len(g) == 3 and is_op(g[1], "=")]
        else:
            pairs = _insert_pairs(toks, k + 1, all_columns)
        return {numbers[id(tok)]: col for col, tok in pairs if tok.kind == PARAM}

    return schema, table, by_param


def _parameter_numbers(toks: Sequence[Token]) -> dict[int, int]:
    """{id(token): SQLite parameter number} for every parameter token (1-based, as bound)."""
    out: dict[int, int] = {}
    names: dict[str, int] = {}
    highest = 0
    for tok in toks:
        if tok.kind != PARAM:
            continue
        text = tok.text
        if text == "?":
            highest += 1
            out[id(tok)] = highest
        elif text[0] == "?":
            highest = max(highest, int(text[1:]))
            out[id(tok)] = int(text[1:])
        else:
            if text not in names:
                highest += 1
                names[text] = highest
            out[id(tok)] = names[text]
    return out


def _split_top(toks: Sequence[Token], start: int, stop_words: frozenset[str] = frozenset()) -> tuple[list[list], int]:
    """Split tokens from ``start`` at top-level commas, up to the ``)`` closing the level
    (or a top-level stop word, or the end); returns the groups and where it stopped."""
    groups: list[list] = [[]]
    depth = 0
    k = start
    while k < len(toks):
        tok = toks[k]
        if tok.kind == OP and tok.text == "(":
            depth += 1
        elif tok.kind == OP and tok.text == ")":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and tok.kind == OP and tok.text == ",":
            groups.append([])
            k += 1
            continue
        elif depth == 0 and tok.kind == WORD and tok.upper in stop_words:
            break
        groups[-1].append(tok)
        k += 1
    return groups, k


_UPDATE_END = frozenset({"WHERE", "FROM", "RETURNING", "ORDER", "LIMIT"})


def _update_assignments(toks: Sequence[Token], k: int) -> list[list]:
    """The ``col = expr`` groups of an UPDATE's SET clause (tokens from after the table)."""
    while k < len(toks) and not toks[k].is_word("SET"):
        k += 1
    groups, _ = _split_top(toks, k + 1, _UPDATE_END)
    return groups


def _insert_pairs(toks: Sequence[Token], k: int, all_columns: list[str]) -> list[tuple[str, Token]]:
    """(column, token) for each VALUES element that is a single token."""
    if k < len(toks) and toks[k].is_word("AS"):
        k += 2
    listed = all_columns
    if k < len(toks) and is_op(toks[k], "("):
        groups, k = _split_top(toks, k + 1)
        listed = [g[0].value for g in groups if len(g) == 1]
        k += 1
    if k >= len(toks) or not toks[k].is_word("VALUES"):
        return []
    pairs: list[tuple[str, Token]] = []
    k += 1
    while k < len(toks) and is_op(toks[k], "("):
        groups, k = _split_top(toks, k + 1)
        pairs.extend((col, g[0]) for col, g in zip(listed, groups, strict=False) if len(g) == 1)
        k += 1
        if k < len(toks) and is_op(toks[k], ","):
            k += 1
    return pairs
