"""``SEMANTIC_MATCH`` / ``SEMANTIC_SCORE`` calls: the lexical part.

``find_semantic_calls`` finds each call, checks its arguments, works out which FROM items
of the enclosing SELECTs its column may come from, and records an edit that leaves a hole
for the engine (which replaces the call by a lookup in a TEMP table it fills per execution).

>>> from galaxlite.transpile import parse_statement
>>> plan = parse_statement("SELECT id FROM docs AS d WHERE SEMANTIC_MATCH(d.body, 'cats', 0.4)")
>>> call = plan.semantic[0]
>>> call.qualifier, call.column, call.query.value, call.threshold.value
(('d',), 'body', 'cats', 0.4)
>>> [item.exposed for item in call.scopes[0]]
['d']
"""

from __future__ import annotations

from dataclasses import dataclass, field

from galaxlite.transpile import plan as P
from galaxlite.transpile.cursor import NOT_ALIAS, Cursor, is_op, matching_paren, top_level
from galaxlite.transpile.errors import UnsupportedSyntax
from galaxlite.transpile.lexer import NUMBER, OP, PARAM, QIDENT, STRING, WORD, Token
from galaxlite.transpile.snapshot_refs import skip_version

SEMANTIC_FUNCTIONS = frozenset({"SEMANTIC_MATCH", "SEMANTIC_SCORE"})
# What a SEMANTIC_* call becomes in ``Plan.sql`` (run only when nothing rendered the plan,
# e.g. by executemany): a function galaxlite registers to raise a clear error.
UNRENDERED = "galaxlite_semantic_unrendered()"

# Words after a FROM item that are not an alias. The scopes are read from the statement as
# written (before its AT VERSION refs are cut out), so an AT there starts AT VERSION.
_NOT_ALIAS = NOT_ALIAS | {"AT"}
# Words that end a FROM clause.
_END_FROM = frozenset(
    """WHERE GROUP HAVING ORDER LIMIT WINDOW UNION INTERSECT EXCEPT RETURNING SET VALUES
    SELECT""".split()
)
_SUBQUERY_START = ("SELECT", "WITH", "VALUES")


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
        if tok.kind not in (WORD, QIDENT) or not (prev.is_word("WITH", "RECURSIVE") or is_op(prev, ",")):
            continue
        j = k + 1
        if is_op(toks[j], "("):
            j = matching_paren(toks, j) + 1
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
    if is_op(tok, "("):
        if k + 1 < len(toks) and toks[k + 1].is_word(*_SUBQUERY_START):
            end = matching_paren(toks, k) + 1
            return P.SourceItem(None, "", _alias_at(toks, end), kind="subquery", position=tok.start)
        return _parse_item(toks, k + 1, refs, ctes)  # a parenthesised join: its first table
    if tok.kind not in (WORD, QIDENT, STRING) or tok.upper in _END_FROM:
        return None
    schema, name, j = None, tok.value, k + 1
    if is_op(toks[j] if j < len(toks) else None, ".") and j + 1 < len(toks):
        schema, name, j = name, toks[j + 1].value, j + 2
    kind = "cte" if schema is None and name.lower() in ctes else "table"
    if j < len(toks) and is_op(toks[j], "("):
        kind, j = "function", matching_paren(toks, j) + 1
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
    # CREATE TABLE ... AS SELECT: an AS outside the parentheses
    return top_level(c.tokens, 0, len(c.tokens), "AS") < len(c.tokens)


def _column_ref(c: Cursor, k: int, fn: str) -> tuple[tuple[str, ...], int]:
    """The parts of ``[schema.][table.]column`` starting at token ``k``; index after it."""
    toks, parts = c.tokens, []
    while True:
        tok = toks[k] if k < len(toks) else None
        if tok is None or tok.kind not in (WORD, QIDENT):
            raise c.error(f"the first argument of {fn} must be a column name", tok)
        parts.append(tok.value)
        k += 1
        if not (is_op(toks[k] if k < len(toks) else None, ".") and len(parts) < 3):
            return tuple(parts), k
        k += 1


def _query_arg(c: Cursor, k: int, fn: str) -> P.SemanticArg:
    tok = c.tokens[k] if k < len(c.tokens) else None
    if tok is not None and tok.kind == STRING:
        return P.SemanticArg(value=tok.value)
    if tok is not None and tok.kind == PARAM:
        return P.SemanticArg(param=c.param_key(tok, fn))
    raise c.error(f"the query of {fn} must be a string literal or a parameter (? or :name)", tok)


def _threshold_arg(c: Cursor, k: int, fn: str) -> tuple[P.SemanticArg, int]:
    toks = c.tokens
    tok = toks[k] if k < len(toks) else None
    if tok is not None and tok.kind == PARAM:
        return P.SemanticArg(param=c.param_key(tok, fn)), k + 1
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
    if not is_op(after, ","):
        if is_op(after, ")") or after is None:
            raise c.error(f"{fn} takes {arity}", after)
        raise c.error(f"the first argument of {fn} must be a column name, not an expression", after)
    query = _query_arg(c, j + 1, fn)
    j += 2
    threshold = None
    if fn == "SEMANTIC_MATCH":
        if not is_op(toks[j] if j < len(toks) else None, ","):
            raise c.error(f"{fn} takes {arity}", toks[j] if j < len(toks) else None)
        threshold, j = _threshold_arg(c, j + 1, fn)
    if not is_op(toks[j] if j < len(toks) else None, ")"):
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
        and is_op(toks[k + 1], "(")
        and not (k > 0 and is_op(toks[k - 1], "."))
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
        c.leave_hole(toks[k].start, toks[close].end, call.hole)
    return calls


def _with_scopes(call: P.SemanticCall, scopes: tuple[tuple[P.SourceItem, ...], ...]) -> P.SemanticCall:
    return P.SemanticCall(
        call.function, call.qualifier, call.column, call.column_sql, call.query,
        call.threshold, scopes, call.hole, call.position,
    )
