"""Which path a write takes: the versioning triggers, or the set-based path with them off.

The versioning triggers handle every statement of every client, one row at a time. For
galaxlite's own UPDATE / DELETE / one-row INSERT on a versioned table, the set-based path
(``galaxlite.storage.set_writes``) does the same work once per statement with this
connection's triggers switched off — when nothing else would have fired: no user trigger
on the table, no foreign-key action that would change another table, no conflict clause
that would make SQLite skip or replace rows behind the statement's back.

The trigger switch is sticky: it stays off after a set-based statement, and every other
write scope switches it back on before it runs (``Session.writing``), so a run of
set-based statements pays for the switch once (each switch makes SQLite prepare its
statements again).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import apsw

from galaxlite.engine.connection import plain_cursor
from galaxlite.params import Params
from galaxlite.storage import TableVersion, current_version
from galaxlite.transpile import plan as P

_ROWID_NAMES = frozenset(("rowid", "_rowid_", "oid"))


@dataclass
class SchemaFacts:
    """What the path choice needs to know of the schema, read once per schema version."""

    cookie: int
    tables: dict[str, TableVersion | None] = field(default_factory=dict)
    keys: dict[str, frozenset[str]] = field(default_factory=dict)
    triggered: frozenset[str] = frozenset()  # tables with a user trigger (lower-case)
    fk_parents: frozenset[str] = frozenset()  # tables a foreign key with an action refers to
    conflicts: frozenset[str] = frozenset()  # tables declaring an ON CONFLICT clause


def _read_facts(conn: apsw.Connection, cookie: int) -> SchemaFacts:
    triggered, parents, conflicts = set(), set(), set()
    for schema in ("main", "temp"):
        master = "sqlite_temp_master" if schema == "temp" else "sqlite_master"
        for (tbl,) in conn.execute(
            f"SELECT tbl_name FROM {master} WHERE type = 'trigger' "
            "AND name NOT LIKE '\\_gl\\_%' ESCAPE '\\'"
        ):
            triggered.add(tbl.lower())
    for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'"):
        if sql and "CONFLICT" in sql.upper():
            conflicts.add(name.lower())
        for row in conn.execute("SELECT \"table\", on_update, on_delete FROM pragma_foreign_key_list(?)", (name,)):
            if row[1].upper() not in ("NO ACTION", "RESTRICT") or row[2].upper() not in ("NO ACTION", "RESTRICT"):
                parents.add(row[0].lower())
    return SchemaFacts(cookie, triggered=frozenset(triggered), fk_parents=frozenset(parents),
                       conflicts=frozenset(conflicts))


def named_conflicts(conn: apsw.Connection) -> frozenset[str]:
    """Conflict resolutions (REPLACE, FAIL) named by table constraints or user triggers."""
    found = set()
    for word in ("REPLACE", "FAIL"):
        (used,) = next(conn.execute(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE sql LIKE ? "
            "AND name NOT LIKE '\\_gl\\_%' ESCAPE '\\')",
            (f"%{word}%",),
        ))
        if used:
            found.add(word)
    return frozenset(found)


class WritePaths:
    """The path choice and the trigger switch of one session's connection."""

    __slots__ = ("conn", "cursor", "triggers_on", "_facts")

    def __init__(self, conn: apsw.Connection):
        self.conn = conn
        # the one apsw cursor every one-row INSERT of the hot path runs on (``runners``):
        # a cursor made per statement costs more than the rest of that path's Python
        self.cursor = plain_cursor(conn)  # (apsw's own execute: see engine.connection)
        self.triggers_on = True
        self._facts: SchemaFacts | None = None

    def forget(self) -> None:
        """Forget the schema facts (after this connection's DDL, temp objects included)."""
        self._facts = None

    def triggers(self, on: bool) -> None:
        """Switch this connection's triggers on or off (no-op when already so)."""
        if self.triggers_on != on:
            self.conn.config(apsw.SQLITE_DBCONFIG_ENABLE_TRIGGER, 1 if on else 0)
            self.triggers_on = on

    def facts(self) -> SchemaFacts:
        conn = self.conn
        (cookie,) = next(conn.execute("PRAGMA schema_version"))
        facts = self._facts
        if facts is None or facts.cookie != cookie:
            facts = self._facts = _read_facts(conn, cookie)
        return facts

    def table(self, facts: SchemaFacts, table: P.TableName) -> TableVersion | None:
        """The versioned table a statement writes to (None: not a versioned table)."""
        if table.is_temp or (table.schema is not None and table.schema.lower() != "main"):
            return None
        key = table.name.lower()
        if key not in facts.tables:
            tv = current_version(self.conn, table.name)
            facts.tables[key] = tv
            if tv is not None:
                pk = {r[1].lower() for r in self.conn.execute("SELECT * FROM pragma_table_info(?)", (tv.name,)) if r[5]}
                facts.keys[key] = frozenset(pk | (_ROWID_NAMES if tv.rowid_table else set()))
        return facts.tables[key]

    def set_based(self, plan: P.Plan, params: Params, schema_conflicts: frozenset[str]) -> TableVersion | None:
        """The versioned table ``plan`` can write on the set-based path, or None (triggers)."""
        shape = plan.detail
        if plan.refs or plan.semantic or plan.conflict_clauses or schema_conflicts:
            return None
        if isinstance(shape, P.ChangeRows):
            if shape.named and not isinstance(params, dict):
                return None
            table = shape.table
        elif isinstance(shape, P.InsertInto):
            if not shape.one_row or shape.upsert:
                return None
            table = shape.table
        else:
            return None
        facts = self.facts()
        tv = self.table(facts, table)
        if tv is None:
            return None
        key = tv.name.lower()
        if key in facts.triggered or key in facts.conflicts:
            return None
        if isinstance(shape, P.InsertInto):
            return tv if tv.rowid_table else None
        if key in facts.fk_parents and self.conn.pragma("foreign_keys"):
            return None
        if any(c.lower() in facts.keys[key] for c in shape.set_columns):
            return None  # a new key moves the row version: the triggers do that
        return tv
