"""The PostgreSQL → SQLite transforms of ``dialects``: one small function per construct.

sqlglot translates PostgreSQL to SQLite; these functions fix what its translation would run
with another meaning. Each takes a node and returns its SQLite expression with PostgreSQL's
meaning, or raises ``Refused`` (which ``dialects`` turns into a galaxlite error naming it).

>>> import sqlglot
>>> TRANSFORMS[sqlglot.exp.Like](sqlglot.parse_one("name LIKE 'a_%'", read="postgres")).sql("sqlite")
"name GLOB 'a?*'"
"""

from __future__ import annotations

from collections.abc import Callable

import sqlglot
from sqlglot import exp


class Refused(Exception):
    """A construct whose PostgreSQL meaning the translation cannot keep."""



def _sqlite(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="sqlite")


def _random(node: exp.Expression) -> exp.Expression:
    """random(): a float in [0, 1), from the 53 low bits of SQLite's 64-bit integer."""
    return _sqlite("((RANDOM() & 9007199254740991) / 9007199254740992.0)")


_INTEGERS = {exp.DataType.Type.INT, exp.DataType.Type.BIGINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.TINYINT}


def _cast(node: exp.Cast) -> exp.Expression:
    """``x::int`` rounds a fraction (3.7 → 4; SQLite's CAST truncates); ``::boolean`` has no
    SQLite counterpart (CAST('t' AS INTEGER) is 0)."""
    to = node.to.this
    if to == exp.DataType.Type.BOOLEAN:
        raise Refused(f"a cast to boolean has no SQLite meaning: write a CASE ({node.sql()})")
    if to not in _INTEGERS or (isinstance(node.this, exp.Literal) and not node.this.is_string and "." not in node.this.name):
        return node
    operand = node.this.sql(dialect="sqlite")
    case = "CASE WHEN typeof({v}) = 'real' THEN CAST(ROUND({v}) AS INTEGER) ELSE CAST({v} AS INTEGER) END"
    if isinstance(node.this, (exp.Column, exp.Literal)):
        return _sqlite(case.format(v=operand))
    return _sqlite(f"(SELECT {case.format(v='v')} FROM (SELECT {operand} AS v))")


_GLOB_SPECIAL = {"*": "[*]", "?": "[?]", "[": "[[]"}


def _glob(pattern: str) -> str:
    """A PostgreSQL LIKE pattern (escape character backslash) as a GLOB pattern."""
    out, escaped = [], False
    for ch in pattern:
        if escaped:
            out.append(_GLOB_SPECIAL.get(ch, ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        else:
            out.append({"%": "*", "_": "?"}.get(ch) or _GLOB_SPECIAL.get(ch, ch))
    if escaped:
        raise Refused("LIKE pattern must not end with the escape character")
    return "".join(out)


def _like(node: exp.Like) -> exp.Expression:
    """LIKE is case-sensitive in PostgreSQL: a literal pattern becomes a GLOB."""
    pattern = node.expression
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise Refused(
            "LIKE with a pattern that is not a string literal: PostgreSQL's LIKE is case-sensitive, "
            f"SQLite's is not ({node.sql()}); use a literal pattern, GLOB or ILIKE"
        )
    glob = exp.Glob(this=node.this, expression=exp.Literal.string(_glob(pattern.name)))
    return exp.Not(this=glob) if node.args.get("negate") else glob


def _ilike(node: exp.ILike) -> exp.Expression:
    """ILIKE: SQLite's LIKE, which ignores ASCII case, with PostgreSQL's escape character."""
    like = exp.Escape(this=exp.Like(this=node.this, expression=node.expression), expression=exp.Literal.string("\\"))
    return exp.Not(this=like) if node.args.get("negate") else like


def _escape(node: exp.Escape) -> exp.Expression:
    if isinstance(node.this, exp.Glob):
        raise Refused(f"LIKE ... ESCAPE: write the pattern with PostgreSQL's default escape \\ ({node.sql()})")
    return node


_UNITS = {"DAY": "days", "DAYS": "days", "HOUR": "hours", "HOURS": "hours", "MINUTE": "minutes",
          "MINUTES": "minutes", "SECOND": "seconds", "SECONDS": "seconds", "MONTH": "months",
          "MONTHS": "months", "YEAR": "years", "YEARS": "years"}


def _modifier(interval: exp.Interval, sign: int) -> str:
    """An ``INTERVAL '2 day'`` as the SQLite date modifier '+2 days'."""
    value = interval.this.name if isinstance(interval.this, exp.Literal) else None
    unit = interval.unit.name.upper() if interval.unit is not None else ""
    if value is not None and not unit and len(value.split()) == 2:
        value, unit = value.split()[0], value.split()[1].upper()
    if value is None or unit.upper() not in _UNITS and unit.upper() not in ("WEEK", "WEEKS"):
        raise Refused(f"INTERVAL {interval.sql()} has no SQLite date modifier")
    try:
        number = float(value)
    except ValueError:
        raise Refused(f"INTERVAL {interval.sql()} has no SQLite date modifier") from None
    if unit.upper() in ("WEEK", "WEEKS"):
        number, unit = number * 7, "DAYS"
    number *= sign
    text = str(int(number)) if number == int(number) else str(number)
    return f"{'+' if number >= 0 else ''}{text} {_UNITS[unit.upper()]}"


def _date_arith(node: exp.Binary) -> exp.Expression:
    """date / timestamp ± INTERVAL 'n unit' → datetime(x, '±n unit'); CURRENT_DATE ± n (days)
    → date(CURRENT_DATE, ...). In SQLite both would be arithmetic on numbers."""
    sign = -1 if isinstance(node, exp.Sub) else 1
    left, right = node.this, node.expression
    if isinstance(right, exp.Interval):
        mod = _modifier(right, sign)
        return exp.Anonymous(this="datetime", expressions=[left, exp.Literal.string(mod)])
    if isinstance(left, exp.Interval) and sign == 1:
        return exp.Anonymous(this="datetime", expressions=[right, exp.Literal.string(_modifier(left, 1))])
    if isinstance(left, exp.CurrentDate):
        days = right.sql(dialect="sqlite")
        return _sqlite(f"date(CURRENT_DATE, ({'-' if sign < 0 else ''}({days})) || ' days')")
    return node


def _series(node: exp.Table) -> exp.Expression:
    """``FROM generate_series(a, b[, step]) [AS] g[(n)]`` → a recursive CTE of the numbers."""
    series = node.this
    if not isinstance(series, (exp.ExplodingGenerateSeries, exp.GenerateSeries)):
        return node
    start, end = series.args["start"], series.args["end"]
    step = series.args.get("step") or exp.Literal.number(1)
    if any(isinstance(a, exp.Interval) for a in (start, end, step)):
        raise Refused("generate_series over timestamps (with an INTERVAL step)")
    if isinstance(step, exp.Literal) and float(step.name) == 0:
        raise Refused("generate_series: step size cannot equal zero")
    alias = node.args.get("alias")
    name = alias.name if alias is not None and alias.name else "generate_series"
    columns = alias.columns if alias is not None else []
    column = columns[0].name if columns else name
    a, b, s = (x.sql(dialect="sqlite") for x in (start, end, step))
    sql = (
        f"(WITH RECURSIVE _gl_series(v) AS (SELECT {a} WHERE ({s}) > 0 AND {a} <= {b} OR ({s}) < 0 AND {a} >= {b} "
        f"UNION ALL SELECT v + ({s}) FROM _gl_series WHERE ({s}) > 0 AND v + ({s}) <= {b} "
        f"OR ({s}) < 0 AND v + ({s}) >= {b}) SELECT v AS \"{column}\" FROM _gl_series) AS \"{name}\""
    )
    return _sqlite(f"SELECT * FROM {sql}").args["from_"].this


TRANSFORMS: dict[type[exp.Expression], Callable[[exp.Expression], exp.Expression]] = {
    exp.Rand: _random,
    exp.Cast: _cast,
    exp.Like: _like,
    exp.ILike: _ilike,
    exp.Escape: _escape,
    exp.Add: _date_arith,
    exp.Sub: _date_arith,
    exp.Table: _series,
}
