"""History as data: ``t CHANGES BETWEEN VERSION a AND VERSION b`` (a pass over queries, like
``AT VERSION``), ``RESTORE TABLE``, ``PURGE HISTORY`` and ``BULK INSERT ... FROM 'file'``.

>>> from galaxlite.transpile import parse_statement
>>> plan = parse_statement("SELECT _change FROM t CHANGES BETWEEN VERSION 'v1' AND VERSION ? x")
>>> plan.refs[0].start, plan.refs[0].end.param, plan.template.pieces
(VersionSpec(tag='v1', timestamp=None, param=None), 0, ('SELECT _change FROM ', 0, ' x'))
>>> parse_statement("RESTORE TABLE a, b TO VERSION 'v1'").detail.tables[1].name
'b'
>>> parse_statement("BULK INSERT INTO t (a) FROM 'x.csv' WITH (HEADER false, DELIMITER ';')").detail
BulkLoad(table=TableName(schema=None, name='t'), columns=('a',), path='x.csv', options=(('header', False), ('delimiter', ';')))
"""

from __future__ import annotations

from dataclasses import dataclass

from galaxlite.transpile import plan as P
from galaxlite.transpile.cursor import Cursor, is_op
from galaxlite.transpile.lexer import NUMBER, QIDENT, STRING, WORD
from galaxlite.transpile.versions import table_before, version_spec


@dataclass(frozen=True, slots=True)
class ChangesRef:
    """``[schema.]table CHANGES BETWEEN VERSION a AND VERSION b`` at ``position``."""

    schema: str | None
    table: str
    start: P.VersionSpec
    end: P.VersionSpec
    position: int

    @property
    def versions(self) -> tuple[P.VersionSpec, ...]:
        return (self.start, self.end)

    def sides(self) -> tuple[P.VersionRef, P.VersionRef]:
        """Each end as an AT VERSION reference of the table (to resolve it the same way)."""
        return (P.VersionRef(self.schema, self.table, self.start, self.position),
                P.VersionRef(self.schema, self.table, self.end, self.position))


@dataclass(frozen=True, slots=True)
class RestoreTables:
    """``RESTORE TABLE t1[, t2 ...] TO VERSION x``; ``position``: the version's offset."""

    tables: tuple[P.TableName, ...]
    version: P.VersionSpec
    position: int


@dataclass(frozen=True, slots=True)
class PurgeHistory:
    """``PURGE HISTORY [OF t] BEFORE VERSION x`` (``table`` None: every table)."""

    table: P.TableName | None
    version: P.VersionSpec
    position: int


@dataclass(frozen=True, slots=True)
class BulkLoad:
    """``BULK INSERT INTO t [(cols)] FROM 'path' [WITH (name value, ...)]``; option names
    lower-cased, values as written (str, int or bool)."""

    table: P.TableName
    columns: tuple[str, ...] | None
    path: str
    options: tuple[tuple[str, str | int | bool], ...] = ()


def _spec_after(c: Cursor, k: int, what: str) -> tuple[P.VersionSpec, int]:
    """The version after the word VERSION at token ``k`` (``what`` names the clause)."""
    toks = c.tokens
    if k >= len(toks) or not toks[k].is_word("VERSION"):
        raise c.error(f"{what} needs VERSION x (a tag name, a µs timestamp or a parameter)",
                      toks[k] if k < len(toks) else None)
    if k + 1 >= len(toks):
        raise c.error(f"{what} needs a tag name or a timestamp after VERSION", None)
    return version_spec(c, k + 1)


def find_changes_refs(c: Cursor, base: int) -> list[ChangesRef]:
    """Find every ``name CHANGES BETWEEN VERSION a AND VERSION b``; leave a hole for each,
    numbered from ``base`` (after the AT VERSION holes)."""
    toks = c.tokens
    refs: list[ChangesRef] = []
    k = 1
    while k + 1 < len(toks):
        if not (toks[k].is_word("CHANGES") and toks[k + 1].is_word("BETWEEN")):
            k += 1
            continue
        if toks[k - 1].kind not in (WORD, QIDENT):
            raise c.error("CHANGES BETWEEN must follow a table name", toks[k])
        start, end = _spec_after(c, k + 2, "CHANGES BETWEEN")
        if end + 1 >= len(toks) or not toks[end + 1].is_word("AND"):
            raise c.error("expected AND VERSION y in CHANGES BETWEEN VERSION x AND VERSION y",
                          toks[end + 1] if end + 1 < len(toks) else None)
        stop, last = _spec_after(c, end + 2, "CHANGES BETWEEN ... AND")
        schema, table, name_k = table_before(
            c, k, "CHANGES BETWEEN", f"the changes of table {toks[k - 1].value!r} are read-only"
        )
        refs.append(ChangesRef(schema, table, start, stop, toks[name_k].start))
        c.leave_hole(toks[name_k].start, toks[last].end, base + len(refs) - 1, alias=table, after=last + 1)
        k = last + 1
    return refs


def _version_clause(c: Cursor, what: str) -> P.VersionSpec:
    """``VERSION x`` ending the statement."""
    spec, last = _spec_after(c, c.i, what)
    c.i = last + 1
    c.end()
    return spec


def build_restore(c: Cursor) -> tuple[str, object]:
    c.expect("RESTORE", "TABLE")
    tables = [c.table_name()]
    while is_op(c.peek(), ","):
        c.i += 1
        tables.append(c.table_name())
    c.expect("TO")
    version_tok = c.peek()
    spec = _version_clause(c, "RESTORE TABLE ... TO")
    return P.RESTORE_TABLE, RestoreTables(tuple(tables), spec, version_tok.start)


def build_purge_history(c: Cursor) -> tuple[str, object]:
    c.expect("PURGE", "HISTORY")
    table = c.table_name() if c.accept("OF") else None
    c.expect("BEFORE")
    version_tok = c.peek()
    spec = _version_clause(c, "PURGE HISTORY ... BEFORE")
    return P.PURGE_HISTORY, PurgeHistory(table, spec, version_tok.start)


def bulk_load(c: Cursor, table: P.TableName) -> BulkLoad | None:
    """After ``BULK INSERT INTO t``: the ``[(cols)] FROM 'path' [WITH (...)]`` of a load from a
    file, or None when the statement inserts rows of its own (VALUES, SELECT)."""
    start = c.i
    columns = None
    if is_op(c.peek(), "("):
        c.i += 1
        columns = [c.identifier("column name")]
        while is_op(c.peek(), ","):
            c.i += 1
            columns.append(c.identifier("column name"))
        if not is_op(c.peek(), ")"):
            c.i = start
            return None
        c.i += 1
    if not c.accept("FROM"):
        c.i = start
        return None
    path = c.string("file path")
    if not path:
        raise c.error("the file path must not be empty", c.tokens[c.i - 1])
    options: list[tuple[str, str | int | bool]] = []
    if c.accept("WITH"):
        if not is_op(c.peek(), "("):
            raise c.error("expected ( after WITH: WITH (FORMAT 'csv', HEADER true, ...)")
        c.i += 1
        while True:
            name = c.identifier("option name").lower()
            if any(n == name for n, _ in options):
                raise c.error(f"option {name.upper()} given twice", c.tokens[c.i - 1])
            if is_op(c.peek(), "="):
                c.i += 1
            options.append((name, _option_value(c)))
            if is_op(c.peek(), ","):
                c.i += 1
                continue
            if not is_op(c.peek(), ")"):
                raise c.error("expected , or ) in the WITH options")
            c.i += 1
            break
    c.end()
    return BulkLoad(table, tuple(columns) if columns else None, path, tuple(options))


def _option_value(c: Cursor) -> str | int | bool:
    tok = c.next()
    if tok.kind == STRING:
        return tok.value
    if tok.kind == NUMBER and tok.text.isdigit():
        return int(tok.text)
    if tok.is_word("TRUE", "ON"):
        return True
    if tok.is_word("FALSE", "OFF"):
        return False
    if tok.kind == WORD:
        return tok.text
    raise c.error("an option value is a string, an integer, TRUE or FALSE", tok)
