"""A repeated AT VERSION read outside a transaction runs its remembered rendering at once.

The rendering of a read of the past depends on the file (no row closed since the version:
no history part; bulk ranges appended since: inlined), so a remembered one is only right
while the file is unchanged. These tests change the file between the reads, and in the
gap between recalling a rendering and starting its query, through this connection, another
galaxlite connection and a raw client, and compare with what the past held.
"""

from __future__ import annotations

import apsw
import pytest

import galaxlite
from galaxlite.runners import statements

LOOKUP = "SELECT id, n FROM t AT VERSION 'v1' WHERE id = ?"
TOTAL = "SELECT count(*), sum(n) FROM t AT VERSION ?"


@pytest.fixture
def tagged(db: galaxlite.Database) -> galaxlite.Database:
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)")
    db.execute("BULK INSERT INTO t (id, n) WITH RECURSIVE s(i) AS "
               "(SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 50) SELECT i, i FROM s")
    db.create_tag("v1")
    return db


def _writes(db: galaxlite.Database, raw: apsw.Connection) -> list:
    """Changes that each alter what an AT VERSION 'v1' rendering must contain."""
    return [
        lambda: db.execute("UPDATE t SET n = -n WHERE id = 1"),  # first row closed since v1
        lambda: raw.execute("UPDATE t SET n = n * 10 WHERE id = 2"),  # by a client with triggers
        lambda: db.execute("BULK INSERT INTO t (id, n) VALUES (60, 60), (61, 61)"),  # a range
        lambda: db.execute("DELETE FROM t WHERE id = 3"),
        lambda: raw.execute("INSERT INTO t (id, n) VALUES (70, 70)"),
        lambda: db.execute("CREATE VERSION TAG 'v2'"),
    ]


def _expect(db: galaxlite.Database) -> None:
    for key in (1, 2, 3, 4, 60, 70):
        want = [(key, key)] if key <= 50 else []
        assert db.query(LOOKUP, (key,)) == want
    assert db.query(TOTAL, ("v1",)) == [(50, 50 * 51 // 2)]


@pytest.mark.parametrize("writer", ["self", "other"])
def test_a_repeated_read_sees_the_past_after_every_change(tagged, open_db, db_path, writer) -> None:
    reader, db = tagged, open_db() if writer == "other" else tagged
    raw = apsw.Connection(str(db_path))
    try:
        _expect(reader)
        for write in _writes(db, raw):
            write()
            _expect(reader)
            _expect(reader)  # (now from what it remembers)
    finally:
        raw.close()


def test_a_commit_between_recall_and_query_is_noticed(tagged, open_db, db_path, monkeypatch) -> None:
    """The remembered rendering is confirmed in the query's own read snapshot: a commit of
    another connection just before the query starts makes it render again."""
    _expect(tagged)
    other = open_db()
    raw = apsw.Connection(str(db_path))
    pending = _writes(other, raw)
    recalled = statements.recalled_render

    def recall_then_commit(session, plan, params):
        known = recalled(session, plan, params)
        if pending and known is not None:
            pending.pop(0)()
        return known

    monkeypatch.setattr(statements, "recalled_render", recall_then_commit)
    try:
        for _ in range(len(pending)):
            _expect(tagged)
        assert not pending  # (each was made between a recall and its query)
    finally:
        raw.close()


def test_a_tag_moved_by_another_connection_is_read_anew(tagged, open_db) -> None:
    other = open_db()
    assert tagged.query(TOTAL, ("v1",)) == [(50, 1275)]
    other.execute("DELETE FROM t WHERE id > 40")
    other.execute("DROP VERSION TAG 'v1'")
    other.execute("CREATE VERSION TAG 'v1'")
    assert tagged.query(TOTAL, ("v1",)) == [(40, 820)]
    with pytest.raises(galaxlite.UnknownTagError):
        other.execute("DROP VERSION TAG 'v1'")
        tagged.query(TOTAL, ("v1",))


def test_a_tag_of_a_rolled_back_nested_transaction_is_forgotten(tagged) -> None:
    """``Database.transaction()`` nested in a transaction rolls back to a savepoint: what was
    remembered inside it (the tag's version) goes with it."""
    class Undo(Exception):
        pass

    tagged.begin()
    with pytest.raises(Undo), tagged.transaction():
        tagged.create_tag("inner")
        assert tagged.query("SELECT count(*) FROM t AT VERSION 'inner'") == [(50,)]
        raise Undo
    tagged.commit()
    with pytest.raises(galaxlite.UnknownTagError):
        tagged.query("SELECT count(*) FROM t AT VERSION 'inner'")
