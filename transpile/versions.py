"""``[schema.]table AT VERSION x``: the references to a table's past, found and cut out.

``find_version_refs`` turns each reference into a ``VersionRef`` (the table and the
``VersionSpec``: a tag name, a µs timestamp or a parameter) and records an edit that leaves a
hole in ``Plan.template`` where the engine puts a subquery over the table's history. The hole
keeps the table's name as the alias (``AS "t"``) unless the statement gives one, so columns
qualified with the table name still resolve. A reference must stand in a FROM or JOIN clause:
the past is read-only, so the target of an INSERT, UPDATE or DELETE is refused.

>>> from galaxlite.transpile import parse_statement
>>> plan = parse_statement("SELECT * FROM main.t AT VERSION 'v1' WHERE a = 1")
>>> plan.refs[0], plan.template.pieces
(VersionRef(schema='main', table='t', version=VersionSpec(tag='v1', timestamp=None, param=None), position=14), ('SELECT * FROM ', 0, ' AS "t" WHERE a = 1'))
"""

from __future__ import annotations

from galaxlite.transpile import plan as P
from galaxlite.transpile.cursor import Cursor, in_from_clause, is_op, writes_to
from galaxlite.transpile.errors import PastIsReadOnly
from galaxlite.transpile.lexer import NUMBER, OP, PARAM, QIDENT, STRING, WORD


def table_before(c: Cursor, k: int, clause: str, read_only: str) -> tuple[str | None, str, int]:
    """(schema, table, index of its first token) of the table reference ``name`` or
    ``schema.name`` just before the clause ``clause`` that starts at token ``k`` (AT VERSION,
    CHANGES BETWEEN): it must be read in a FROM or JOIN clause, never written
    (``read_only``: the message)."""
    toks = c.tokens
    name_k = k - 1
    if toks[name_k].kind not in (WORD, QIDENT):
        raise c.error(f"{clause} must follow a table name", toks[k])
    schema = None
    if name_k >= 2 and is_op(toks[name_k - 1], "."):
        name_k -= 2
        schema = toks[name_k].value
    table = toks[k - 1].value
    if not in_from_clause(toks, name_k):
        raise c.error(f"{clause} must follow a table name in a FROM or JOIN clause", toks[k])
    if writes_to(toks, name_k):
        raise c.error(read_only, toks[name_k], PastIsReadOnly)
    return schema, table, name_k


def version_spec(c: Cursor, k: int) -> tuple[P.VersionSpec, int]:
    """The version written at token ``k`` and the index of its last token. A signed integer
    (``-5``, ``+0x1F``) is a timestamp too: the engine refuses a negative one."""
    toks = c.tokens
    tok = toks[k]
    if tok.kind == STRING:
        if not tok.value:
            raise c.error("a version tag name must not be empty", tok)
        return P.VersionSpec(tag=tok.value), k
    if tok.kind == PARAM:
        return P.VersionSpec(param=c.param_key(tok, "AT VERSION")), k
    sign = 1
    if tok.kind == OP and tok.text in "+-" and k + 1 < len(toks) and toks[k + 1].kind == NUMBER:
        sign = -1 if tok.text == "-" else 1
        k += 1
    num = toks[k]
    if num.kind == NUMBER:
        value = c.integer(num)
        if value is None:
            raise c.error("AT VERSION needs a tag name or an integer µs timestamp", tok)
        return P.VersionSpec(timestamp=sign * value), k
    raise c.error("AT VERSION needs a tag name ('x'), a µs timestamp or a parameter", tok)


def find_version_refs(c: Cursor) -> list[P.VersionRef]:
    """Find every ``name AT VERSION x``; record an edit that leaves a hole for it."""
    toks = c.tokens
    refs: list[P.VersionRef] = []
    k = 1
    while k + 1 < len(toks):
        if not (toks[k].is_word("AT") and toks[k + 1].is_word("VERSION")):
            k += 1
            continue
        if k + 2 >= len(toks):
            raise c.error("AT VERSION needs a tag name or a timestamp", None)
        spec, end = version_spec(c, k + 2)
        schema, table, name_k = table_before(
            c, k, "AT VERSION", f"table {toks[k - 1].value!r} AT VERSION is read-only: the past cannot be changed"
        )
        ref_index = len(refs)
        refs.append(P.VersionRef(schema, table, spec, toks[name_k].start))
        c.leave_hole(toks[name_k].start, toks[end].end, ref_index, alias=table, after=end + 1)
        k = end + 1
    return refs
