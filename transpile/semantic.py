"""``SEMANTIC_MATCH`` / ``SEMANTIC_SCORE`` calls and ``VECTOR(n)`` columns: the lexical part.

``find_semantic_calls`` finds each call, checks its arguments, works out which FROM items
of the enclosing SELECTs its column may come from, and records an edit that leaves a hole
for the engine (which replaces the call by a lookup in a TEMP table it fills per execution).

``add_vector_checks`` gives every ``VECTOR(n)`` column of a CREATE TABLE / ALTER TABLE ADD
COLUMN a plain-SQL CHECK (a BLOB of exactly 4·n bytes), so that every client, plain ones
included, keeps the column well formed.

>>> from galaxlite.transpile import parse_statement
>>> plan = parse_statement("SELECT id FROM docs AS d WHERE SEMANTIC_MATCH(d.body, 'cats', 0.4)")
>>> call = plan.semantic[0]
>>> call.qualifier, call.column, call.query.value, call.threshold.value
(('d',), 'body', 'cats', 0.4)
>>> [item.exposed for item in call.scopes[0]]
['d']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from galaxlite.transpile import plan as P
from galaxlite.transpile.errors import UnsupportedSyntax
from galaxlite.transpile.lexer import NUMBER, OP, PARAM, QIDENT, STRING, WORD, Token, tokenize
from galaxlite.transpile.rules import Cursor, quote_identifier
from galaxlite.transpile.snapshots import skip_version

SEMANTIC_FUNCTIONS = frozenset({"SEMANTIC_MATCH", "SEMANTIC_SCORE"})
MAX_VECTOR_DIM = 65536
# What a SEMANTIC_* call becomes in ``Plan.sql`` (run only when nothing rendered the plan,
# e.g. by executemany): a function galaxlite registers to raise a clear error.
UNRENDERED = "galaxlite_semantic_unrendered()"

# Words after a FROM item that are not an alias.
_NOT_ALIAS = frozenset(
    """WHERE JOIN INNER LEFT RIGHT FULL OUTER CROSS NATURAL ON USING GROUP ORDER LIMIT UNION
    INTERSECT EXCEPT WINDOW HAVING INDEXED NOT RETURNING SET VALUES DO FROM SELECT OFFSET AT""".split()
)
# Words that end a FROM clause.
_END_FROM = frozenset(
    """WHERE GROUP HAVING ORDER LIMIT WINDOW UNION INTERSECT EXCEPT RETURNING SET VALUES
    SELECT""".split()
)
_SUBQUERY_START = ("SELECT", "WITH", "VALUES")


def _is_op(tok: Token | None, text: str) -> bool:
    return tok is not None and tok.kind == OP and tok.text == text


def _matching_paren(toks: tuple[Token, ...], k: int) -> int:
    """Index of the ``)`` closing the ``(`` at ``k`` (the last token if unbalanced)."""
    depth = 0
    for j in range(k, len(toks)):
        if toks[j].kind == OP:
            if toks[j].text == "(":
                depth += 1
            elif toks[j].text == ")":
                depth -= 1
                if depth == 0:
                    return j
    return len(toks) - 1


# ------------------------------------------------------------------------------- scopes


@dataclass
class _Scope:
    parent: int | None
    items: list[P.SourceItem] = field(default_factory=list)
    in_from: bool = False
    level: int = 0  # the parenthesis-stack depth at which this SELECT's clauses live


def _cte_names(toks: tuple[Token, ...]) -> set[str]:
    """Lower-cased names defined by ``WITH name [(cols)] AS [NOT] [MATERIALIZED] (``."""
    names: set[str] = set()
    for k in range(1, len(toks) - 1):
        tok, prev = toks[k], toks[k - 1]
        if tok.kind not in (WORD, QIDENT) or not (prev.is_word("WITH", "RECURSIVE") or _is_op(prev, ",")):
            continue
        j = k + 1
        if _is_op(toks[j], "("):
            j = _matching_paren(toks, j) + 1
        if j < len(toks) and toks[j].is_word("AS"):
            names.add(tok.value.lower())
    return names


def _parse_item(
    toks: tuple[Token, ...], k: int, refs: dict[int, int], ctes: set[str]
) -> P.SourceItem | None:
    """The FROM item starting at token ``k`` (None if there is none there)."""
    if k >= len(toks):
        return None
    tok = toks[k]
    if _is_op(tok, "("):
        if k + 1 < len(toks) and toks[k + 1].is_word(*_SUBQUERY_START):
            end = _matching_paren(toks, k) + 1
            return P.SourceItem(None, "", _alias_at(toks, end), kind="subquery", position=tok.start)
        return _parse_item(toks, k + 1, refs, ctes)  # a parenthesised join: its first table
    if tok.kind not in (WORD, QIDENT, STRING) or tok.upper in _END_FROM:
        return None
    schema, name, j = None, tok.value, k + 1
    if _is_op(toks[j] if j < len(toks) else None, ".") and j + 1 < len(toks):
        schema, name, j = name, toks[j + 1].value, j + 2
    kind = "cte" if schema is None and name.lower() in ctes else "table"
    if j < len(toks) and _is_op(toks[j], "("):
        kind, j = "function", _matching_paren(toks, j) + 1
    ref = refs.get(tok.start)
    if ref is not None and j < len(toks) and toks[j].is_word("AT"):
        j += 3  # AT VERSION x
    elif ref is not None:  # name@version
        j = skip_version(toks, j)
    return P.SourceItem(schema, name, _alias_at(toks, j), ref=ref, kind=kind, position=tok.start)


def _alias_at(toks: tuple[Token, ...], j: int) -> str | None:
    if j >= len(toks):
        return None
    tok = toks[j]
    if tok.is_word("AS") and j + 1 < len(toks):
        return toks[j + 1].value
    if tok.kind in (QIDENT, STRING) or (tok.kind == WORD and tok.upper not in _NOT_ALIAS):
        return tok.value
    return None


def _scopes(
    toks: tuple[Token, ...], refs: list[P.VersionRef]
) -> tuple[list[int], list[_Scope]]:
    """Each token's SELECT scope, and every scope's FROM items and parent scope.

    A scope is one SELECT core: a ``(`` opening a subquery starts a child scope, and
    UNION / INTERSECT / EXCEPT start a sibling. FROM and JOIN (and the target of UPDATE /
    DELETE) add items to the scope they are in.
    """
    ref_at = {r.position: i for i, r in enumerate(refs)}
    ctes = _cte_names(toks)
    scopes = [_Scope(None)]
    stack: list[int] = [0]  # the scope in effect at each parenthesis depth
    scope_of = [0] * len(toks)
    for k, tok in enumerate(toks):
        cur = stack[-1]
        scope_of[k] = cur
        sc = scopes[cur]
        at_level = len(stack) - 1 == sc.level
        if tok.kind == OP:
            if tok.text == "(":
                if k + 1 < len(toks) and toks[k + 1].is_word(*_SUBQUERY_START):
                    scopes.append(_Scope(cur, level=len(stack)))
                    stack.append(len(scopes) - 1)
                else:
                    stack.append(cur)
            elif tok.text == ")" and len(stack) > 1:
                stack.pop()
            elif tok.text == "," and sc.in_from and at_level:
                _add(sc, _parse_item(toks, k + 1, ref_at, ctes))
            continue
        if tok.kind != WORD:
            continue
        word = tok.upper
        if word in ("UNION", "INTERSECT", "EXCEPT") and at_level:
            scopes.append(_Scope(sc.parent, level=sc.level))
            stack[-1] = len(scopes) - 1
        elif word == "FROM" and not (k > 0 and toks[k - 1].is_word("DISTINCT")):
            sc.in_from = at_level or sc.in_from
            _add(sc, _parse_item(toks, k + 1, ref_at, ctes))
        elif word == "JOIN":
            _add(sc, _parse_item(toks, k + 1, ref_at, ctes))
        elif word == "UPDATE" and k + 1 < len(toks):
            j = k + 3 if toks[k + 1].is_word("OR") else k + 1
            if j < len(toks) and not toks[j].is_word("SET"):
                _add(sc, _parse_item(toks, j, ref_at, ctes))
        elif word in _END_FROM and at_level:
            sc.in_from = False
    return scope_of, scopes


def _add(scope: _Scope, item: P.SourceItem | None) -> None:
    if item is not None:
        scope.items.append(item)


# ------------------------------------------------------------------------------- calls


def _statement_allows_calls(c: Cursor, kind: str) -> bool:
    if kind in (P.READ, P.WRITE, P.BULK_INSERT):
        return True
    if kind != P.CREATE_TABLE:
        return False
    depth = 0  # CREATE TABLE ... AS SELECT: an AS outside the parentheses
    for tok in c.tokens:
        if tok.kind == OP and tok.text in "()":
            depth += 1 if tok.text == "(" else -1
        elif depth == 0 and tok.is_word("AS"):
            return True
    return False


def _param_key(c: Cursor, tok: Token, what: str) -> int | str:
    if tok.text == "?":
        return sum(1 for t in c.tokens if t.kind == PARAM and t.text == "?" and t.start < tok.start)
    if tok.text[0] == "?":
        raise c.error(f"{what} takes ? or :name, not a numbered parameter", tok, UnsupportedSyntax)
    return tok.text[1:]


def _column_ref(c: Cursor, k: int, fn: str) -> tuple[tuple[str, ...], int]:
    """The parts of ``[schema.][table.]column`` starting at token ``k``; index after it."""
    toks, parts = c.tokens, []
    while True:
        tok = toks[k] if k < len(toks) else None
        if tok is None or tok.kind not in (WORD, QIDENT):
            raise c.error(f"the first argument of {fn} must be a column name", tok)
        parts.append(tok.value)
        k += 1
        if not (_is_op(toks[k] if k < len(toks) else None, ".") and len(parts) < 3):
            return tuple(parts), k
        k += 1


def _query_arg(c: Cursor, k: int, fn: str) -> P.SemanticArg:
    tok = c.tokens[k] if k < len(c.tokens) else None
    if tok is not None and tok.kind == STRING:
        return P.SemanticArg(value=tok.value)
    if tok is not None and tok.kind == PARAM:
        return P.SemanticArg(param=_param_key(c, tok, fn))
    raise c.error(f"the query of {fn} must be a string literal or a parameter (? or :name)", tok)


def _threshold_arg(c: Cursor, k: int, fn: str) -> tuple[P.SemanticArg, int]:
    toks = c.tokens
    tok = toks[k] if k < len(toks) else None
    if tok is not None and tok.kind == PARAM:
        return P.SemanticArg(param=_param_key(c, tok, fn)), k + 1
    sign = 1.0
    if tok is not None and tok.kind == OP and tok.text in "+-" and k + 1 < len(toks):
        sign = -1.0 if tok.text == "-" else 1.0
        k += 1
    num = toks[k] if k < len(toks) else None
    if num is not None and num.kind == NUMBER:
        try:
            return P.SemanticArg(value=sign * float(num.text)), k + 1
        except ValueError:
            pass
    raise c.error(
        f"the threshold of {fn} must be a number (a cosine similarity) or a parameter", tok
    )


def _parse_call(c: Cursor, k: int, hole: int) -> tuple[P.SemanticCall, int]:
    """The call whose name is token ``k``; the index of its closing parenthesis."""
    toks = c.tokens
    name = toks[k]
    fn = name.upper
    arity = "3 arguments (column, query, threshold)" if fn == "SEMANTIC_MATCH" else (
        "2 arguments (column, query)"
    )
    first = k + 2
    parts, j = _column_ref(c, first, fn)
    after = toks[j] if j < len(toks) else None
    if not _is_op(after, ","):
        if _is_op(after, ")") or after is None:
            raise c.error(f"{fn} takes {arity}", after)
        raise c.error(f"the first argument of {fn} must be a column name, not an expression", after)
    query = _query_arg(c, j + 1, fn)
    j += 2
    threshold = None
    if fn == "SEMANTIC_MATCH":
        if not _is_op(toks[j] if j < len(toks) else None, ","):
            raise c.error(f"{fn} takes {arity}", toks[j] if j < len(toks) else None)
        threshold, j = _threshold_arg(c, j + 1, fn)
    if not _is_op(toks[j] if j < len(toks) else None, ")"):
        raise c.error(f"{fn} takes {arity}", toks[j] if j < len(toks) else None)
    column_sql = c.stmt.script[toks[first].start : toks[first + 2 * len(parts) - 2].end]
    call = P.SemanticCall(
        function=fn,
        qualifier=parts[:-1],
        column=parts[-1],
        column_sql=column_sql,
        query=query,
        threshold=threshold,
        scopes=(),
        hole=hole,
        position=name.start,
    )
    return call, j


def find_semantic_calls(c: Cursor, kind: str, refs: list[P.VersionRef]) -> list[P.SemanticCall]:
    """Every SEMANTIC_MATCH / SEMANTIC_SCORE call; records an edit leaving a hole for each.

    Holes are numbered after the ``len(refs)`` AT VERSION holes.
    """
    toks = c.tokens
    hits = [
        k
        for k, t in enumerate(toks)
        if t.kind == WORD
        and t.upper in SEMANTIC_FUNCTIONS
        and k + 1 < len(toks)
        and _is_op(toks[k + 1], "(")
        and not (k > 0 and _is_op(toks[k - 1], "."))
    ]
    if not hits:
        return []
    if not _statement_allows_calls(c, kind):
        raise c.error(
            f"{toks[hits[0]].upper} is evaluated when a query runs: it can be used in SELECT, "
            "INSERT, UPDATE, DELETE and CREATE TABLE ... AS SELECT, not stored in a view, "
            "trigger, index, default or CHECK constraint",
            toks[hits[0]],
            UnsupportedSyntax,
        )
    scope_of, scopes = _scopes(toks, refs)
    calls: list[P.SemanticCall] = []
    for k in hits:
        call, close = _parse_call(c, k, len(refs) + len(calls))
        chain: list[tuple[P.SourceItem, ...]] = []
        sid: int | None = scope_of[k]
        while sid is not None:
            chain.append(tuple(scopes[sid].items))
            sid = scopes[sid].parent
        calls.append(_with_scopes(call, tuple(chain)))
        c.edits.append((toks[k].start, toks[close].end, f"\x00{call.hole}\x00"))
    return calls


def _with_scopes(call: P.SemanticCall, scopes: tuple[tuple[P.SourceItem, ...], ...]) -> P.SemanticCall:
    return P.SemanticCall(
        call.function, call.qualifier, call.column, call.column_sql, call.query,
        call.threshold, scopes, call.hole, call.position,
    )


# ------------------------------------------------------------------------------- VECTOR(n)


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


def _vector_type_at(c: Cursor, k: int) -> int | None:
    """If tokens ``k..`` are ``VECTOR ( n )``, return n (checked), else None."""
    toks = c.tokens
    if not (k + 1 < len(toks) and toks[k].is_word("VECTOR") and _is_op(toks[k + 1], "(")):
        return None
    num = toks[k + 2] if k + 2 < len(toks) else None
    if (
        num is None
        or num.kind != NUMBER
        or not num.text.isdigit()
        or not 1 <= int(num.text) <= MAX_VECTOR_DIM
        or not _is_op(toks[k + 3] if k + 3 < len(toks) else None, ")")
    ):
        raise c.error(
            f"VECTOR(n) needs a whole number of dimensions from 1 to {MAX_VECTOR_DIM}", num
        )
    return int(num.text)


def add_vector_checks(c: Cursor, kind: str) -> None:
    """Record an edit adding the CHECK after each ``name VECTOR(n)`` column definition."""
    toks = c.tokens
    if not any(t.is_word("VECTOR") for t in toks):
        return
    starts: list[int] = []  # token index of each column definition's name
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
    for k in starts:
        if k + 1 >= len(toks) or toks[k].kind not in (WORD, QIDENT, STRING):
            continue
        dim = _vector_type_at(c, k + 1)
        if dim is not None:
            end = toks[k + 4]
            c.edits.append((end.end, end.end, " " + vector_check(toks[k].value, dim)))



# ------------------------------------------------------------------ parameters → columns


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
    if k + 2 < len(toks) and _is_op(toks[k + 1], "."):
        schema, table, k = table, toks[k + 2].value, k + 2
    numbers = _parameter_numbers(toks)

    def by_param(all_columns: list[str]) -> dict[int, str]:
        if first == "UPDATE":
            groups = _update_assignments(toks, k + 1)
            pairs = [(g[0].value, g[2]) for g in groups if len(g) == 3 and _is_op(g[1], "=")]
        else:
            pairs = _insert_pairs(toks, k + 1, all_columns)
        return {numbers[id(tok)]: col for col, tok in pairs if tok.kind == PARAM}

    return schema, table, by_param


def _is_op(tok: Token | None, text: str) -> bool:
    return tok is not None and tok.kind == OP and tok.text == text


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
    if k < len(toks) and _is_op(toks[k], "("):
        groups, k = _split_top(toks, k + 1)
        listed = [g[0].value for g in groups if len(g) == 1]
        k += 1
    if k >= len(toks) or not toks[k].is_word("VALUES"):
        return []
    pairs: list[tuple[str, Token]] = []
    k += 1
    while k < len(toks) and _is_op(toks[k], "("):
        groups, k = _split_top(toks, k + 1)
        pairs.extend((col, g[0]) for col, g in zip(listed, groups, strict=False) if len(g) == 1)
        k += 1
        if k < len(toks) and _is_op(toks[k], ","):
            k += 1
    return pairs
