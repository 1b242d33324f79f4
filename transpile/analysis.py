"""Statement rules: leading keywords → a small function that builds the plan; then the rewrites.

Adding a statement (the snapshot statements, for instance) means adding a row to
``RULES``, not another branch in an if-chain. Every builder gets a ``Cursor`` over the
statement's tokens and returns the plan kind and its detail record. ``analyze`` then runs the
passes that rewrite the statement: ``AT VERSION`` refs (``versions``), ``name@version`` refs
(``snapshot_refs``), ``SEMANTIC_*`` calls (``semantic``), ``VECTOR(n)`` checks
(``vectors``) and ``EMBEDDING`` clauses (``embeddings``). Each records edits on the cursor; applying them gives ``Plan.sql`` and, when a
pass left holes for the engine to fill, ``Plan.template``. This is the only module that knows
every builder and every pass.

>>> from galaxlite.transpile.lexer import split_statements
>>> (stmt,) = split_statements("BULK INSERT INTO t SELECT * FROM u AT VERSION 'v1'")
>>> plan = analyze(stmt)
>>> plan.kind, plan.detail.table.name, plan.template.pieces
('bulk_insert', 't', ('INSERT INTO t SELECT * FROM ', 0, ' AS "u"'))
"""

from __future__ import annotations

import re

from galaxlite.transpile import embeddings, history, semantic, snapshots, statements
from galaxlite.transpile import plan as P
from galaxlite.transpile.cursor import Builder, Cursor, Hole
from galaxlite.transpile.errors import SqlSyntaxError
from galaxlite.transpile.lexer import PARAM, Statement
from galaxlite.transpile.snapshot_refs import find_snapshot_refs
from galaxlite.transpile.vectors import add_vector_checks
from galaxlite.transpile.versions import find_version_refs

# Longest keyword prefix wins. Each row: leading words → builder.
RULES: list[tuple[tuple[str, ...], Builder]] = [
    (("CREATE", "VERSION", "TAG"), statements.build_create_tag),
    (("DROP", "VERSION", "TAG"), statements.build_drop_tag),
    (("BULK", "INSERT"), statements.build_bulk_insert),
    (("INSERT",), statements.build_insert),
    (("REPLACE",), statements.build_insert),
    (("UPDATE",), statements.build_change),
    (("DELETE",), statements.build_change),
    (("CREATE", "TABLE"), statements.build_create_table),
    (("CREATE", "TEMP", "TABLE"), statements.build_create_table),
    (("CREATE", "TEMPORARY", "TABLE"), statements.build_create_table),
    (("CREATE", "VIRTUAL", "TABLE"), statements.build_create_virtual_table),
    (("ALTER", "TABLE"), statements.build_alter_table),
    (("DROP", "TABLE"), statements.build_drop_table),
    (("DROP", "VIEW"), statements.build_drop_view),
    (("BEGIN",), statements.transaction(P.BEGIN)),
    (("COMMIT",), statements.transaction(P.COMMIT)),
    (("END",), statements.transaction(P.COMMIT)),
    (("ROLLBACK",), statements.build_rollback),
    (("SAVEPOINT",), statements.build_savepoint),
    (("RELEASE",), statements.build_release),
    # dataset snapshots (openGauss DB4AI); SQLite has no statement starting with these words
    (("CREATE", "SNAPSHOT"), snapshots.build_create),
    *(
        (("CREATE", *temp, "SNAPSHOT"), snapshots.build_create_temp)
        for temp in (("TEMP",), ("TEMPORARY",), ("LOCAL", "TEMP"), ("LOCAL", "TEMPORARY"),
                     ("GLOBAL", "TEMP"), ("GLOBAL", "TEMPORARY"), ("UNLOGGED",))
    ),
    (("SAMPLE", "SNAPSHOT"), snapshots.build_sample),
    (("PUBLISH", "SNAPSHOT"), snapshots.build_publish),
    (("ARCHIVE", "SNAPSHOT"), snapshots.build_archive),
    (("PURGE", "SNAPSHOT"), snapshots.build_purge),
    (("SET",), snapshots.build_set),
    (("RESET",), snapshots.build_reset),
    (("SHOW",), snapshots.build_show),
    (("SHOW", "EMBEDDING", "HEALTH"), embeddings.build_show_health),
    (("ALTER", "DATABASE"), snapshots.build_alter_database),
    # history as data (SQLite has no statement starting with these words)
    (("RESTORE", "TABLE"), history.build_restore),
    (("PURGE", "HISTORY"), history.build_purge_history),
]
_RULES_BY_WORD: dict[str, list[tuple[tuple[str, ...], Builder]]] = {}
for _words, _builder in sorted(RULES, key=lambda r: -len(r[0])):
    _RULES_BY_WORD.setdefault(_words[0], []).append((_words, _builder))


def find_rule(c: Cursor) -> Builder:
    """The builder for the statement at the cursor (the longest matching row of ``RULES``)."""
    first = c.peek()
    for words, builder in _RULES_BY_WORD.get(first.upper, ()):
        if c.at(*words):
            return builder
    return statements.build_default


def _apply_edits(stmt: Statement, edits: list[tuple[int, int, str | Hole]]) -> tuple[str, P.Template | None]:
    """The statement's text with the edits made; the template when they left holes."""
    text, base = stmt.text, stmt.start
    if not edits:
        return text, None
    pieces: list[str | int] = []
    pos = 0
    for start, end, repl in sorted(edits, key=lambda e: (e[0], e[1])):
        pieces.append(text[pos : start - base])
        if isinstance(repl, Hole):
            pieces.extend((repl.number, repl.suffix))
        else:
            pieces.append(repl)
        pos = end - base
    pieces.append(text[pos:])
    joined = "".join(str(p) if isinstance(p, str) else str(Hole(p)) for p in pieces)
    if not any(isinstance(p, int) for p in pieces):
        return joined.strip(), None
    # strip the statement's outer whitespace, as the text is stripped
    pieces[0] = pieces[0].lstrip()
    pieces[-1] = pieces[-1].rstrip()
    merged: list[str | int] = []
    for p in pieces:  # adjacent texts as one piece: text and holes alternate
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] += p
        elif isinstance(p, int) and (not merged or isinstance(merged[-1], int)):
            merged.extend(("", p))
        else:
            merged.append(p)
    return joined.strip(), P.Template(tuple(merged))


_DB4AI = re.compile(r"db4ai|public\s*\.", re.IGNORECASE)


def _may_name_snapshots(stmt: Statement) -> bool:
    """Can ``stmt`` hold a ``name@version``, ``data#1_2_3``, ``db4ai.snapshot`` or
    ``public.name``? A few ``str.find`` calls for almost every statement, so plain statements
    skip the snapshot token pass."""
    script, start, end = stmt.script, stmt.start, stmt.end
    if script.find("@", start, end) >= 0 or script.find("#", start, end) >= 0:
        return True
    if script.find("4", start, end) < 0 and script.find(".", start, end) < 0:
        return False
    return _DB4AI.search(script, start, end) is not None


def analyze(stmt: Statement) -> P.Plan:
    """The plan for one statement."""
    c = Cursor(stmt)
    builder = find_rule(c)
    kind, detail = builder(c)
    c.i = 0
    if kind in (P.CREATE_TABLE, P.ALTER_TABLE):
        detail = embeddings.with_clauses(c, kind, detail)
    refs: list[P.VersionRef | P.SnapshotRef] = []
    if kind in (P.READ, P.WRITE, P.BULK_INSERT, P.OTHER, P.CREATE_TABLE):
        refs = find_version_refs(c)
        refs += history.find_changes_refs(c, len(refs))
        if _may_name_snapshots(stmt):
            refs += find_snapshot_refs(c, len(refs))
    elif kind == P.CREATE_SNAPSHOT and detail.query is not None:
        return create_as_plan(stmt, kind, detail)

    # CREATE SNAPSHOT ... FROM: the engine parses each USING command itself (refs, SEMANTIC_*)
    calls = semantic.find_semantic_calls(c, kind, refs) if kind != P.CREATE_SNAPSHOT else []
    add_vector_checks(c, kind)
    sql, template = _apply_edits(stmt, c.edits)
    if calls and not refs:  # what runs if nothing renders the plan (executemany)
        sql = template.render([semantic.UNRENDERED] * len(calls))
    toks = stmt.tokens
    markers = sum(1 for t in toks if t.kind == PARAM and t.text == "?")
    conflict_clauses = frozenset(
        t.upper
        for k, t in enumerate(toks)
        if t.is_word("REPLACE", "FAIL") and not (k + 1 < len(toks) and toks[k + 1].text == "(")
    )
    return P.Plan(
        kind=kind,
        sql=sql,
        position=stmt.start,
        source=stmt.script,
        template=template,
        refs=tuple(refs),
        detail=detail,
        param_markers=markers,
        conflict_clauses=conflict_clauses,
        returning=any(t.is_word("RETURNING") for t in toks),
        semantic=tuple(calls),
    )


def create_as_plan(stmt: Statement, kind: str, detail: P.CreateSnapshot) -> P.Plan:
    """The plan of ``CREATE SNAPSHOT ... AS <query>``: ``sql`` / ``template`` / ``refs`` /
    ``semantic`` are those of the query alone (analysed like a SELECT), so the engine renders
    it like any read; ``detail`` says what to make of it."""
    k = next(i for i, t in enumerate(stmt.tokens) if t.start == detail.query_position)
    query = analyze(Statement(stmt.script, stmt.tokens[k:]))
    if query.kind != P.READ:
        raise SqlSyntaxError(
            "CREATE SNAPSHOT ... AS needs a query: a WITH that writes is not one",
            stmt.script,
            detail.query_position,
        )
    return P.Plan(
        kind=kind,
        sql=query.sql,
        position=stmt.start,
        source=stmt.script,
        template=query.template,
        refs=query.refs,
        detail=detail,
        param_markers=query.param_markers,
        semantic=query.semantic,
    )
