"""RESTORE TABLE of rows whose UNIQUE values moved between them since the version.

Hypothesis draws writes that keep two UNIQUE columns valid (a swap or a cycle of values
among k rows, one row's value given to another after it is deleted, fresh values, inserts,
deletes), with tags in between, on one table of each key layout. Each step runs on two
databases. Then one is restored to a tag with RESTORE TABLE, the other with what a user
would write for the same thing in one transaction (the rows that differ moved aside to
values nobody has, then set; rows missing inserted; rows extra deleted). Both must read the
tag's copy, and their history, companion and ranges must be the same row for row (versions
compared by rank: each database drew its own).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import galaxlite

KINDS = {
    "integer_pk": "CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, n INTEGER UNIQUE, note)",
    "hidden_rowid": "CREATE TABLE u (id INTEGER NOT NULL, email TEXT NOT NULL UNIQUE, n INTEGER UNIQUE, note)",
    "without_rowid": "CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE COLLATE NOCASE, "
                     "n INTEGER UNIQUE, note) WITHOUT ROWID",
}
KEY = {"integer_pk": "id", "hidden_rowid": "rowid", "without_rowid": "id"}
# Rows that refer to u and would change if a restore deleted u's rows for a moment: the
# restore must move their parents' UNIQUE values aside instead, as restore_by_hand does.
CHILDREN = ("CREATE TABLE c (id INTEGER PRIMARY KEY, uid INTEGER REFERENCES u (id) ON DELETE CASCADE, "
            "email TEXT REFERENCES u (email) ON UPDATE CASCADE ON DELETE SET NULL)")

STEP = st.one_of(
    st.tuples(st.just("cycle"), st.lists(st.integers(0, 30), min_size=2, max_size=5, unique=True),
              st.sampled_from(["email", "n", "both"])),
    st.tuples(st.just("take"), st.integers(0, 30), st.integers(0, 30)),
    st.tuples(st.just("fresh"), st.integers(0, 30), st.none()),
    st.tuples(st.just("insert"), st.none(), st.none()),
    st.tuples(st.just("delete"), st.integers(0, 30), st.none()),
    st.tuples(st.just("note"), st.integers(0, 30), st.none()),
    st.tuples(st.just("tag"), st.none(), st.none()),
)


class Twin:
    """One database and the plain copy of ``u`` (key → (id, email, n, note)) it should hold."""

    def __init__(self, path: Path, kind: str, children: bool = False) -> None:
        self.db, self.kind, self.key = galaxlite.Database(path), kind, KEY[kind]
        self.db.execute(KINDS[kind])
        self.db.executemany(f"INSERT INTO u ({self.key}, id, email, n, note) VALUES (?, ?, ?, ?, ?)"
                            if kind == "hidden_rowid" else "INSERT INTO u (id, email, n, note) VALUES (?, ?, ?, ?)",
                            [((i,) if kind == "hidden_rowid" else ()) + (i, f"e{i}", i, None) for i in range(6)])
        if children:
            self.db.execute(CHILDREN)
            self.db.executemany("INSERT INTO c VALUES (?, ?, ?)", [(10 + i, i, f"e{(i + 1) % 6}") for i in range(6)])
        self.fresh = 100

    def rows(self) -> dict[int, tuple]:
        return {r[0]: r[1:] for r in self.db.query(f"SELECT {self.key}, id, email, n, note FROM u")}

    def set_aside(self, keys: list[int], columns: list[str]) -> None:
        """Move ``columns`` of these rows to values no row has (a user's first step)."""
        for k in keys:
            self.fresh += 1
            sets = ", ".join(f"{c} = ?" for c in columns)
            self.db.execute(f"UPDATE u SET {sets} WHERE {self.key} = ?",
                            (*[f"tmp{self.fresh}" if c == "email" else -self.fresh for c in columns], k))

    def step(self, step: tuple) -> None:
        op, x, y = step
        keys = sorted(self.rows())
        pick = (lambda i: keys[i % len(keys)]) if keys else None
        db = self.db
        if op == "cycle" and len(keys) >= 2:
            chosen = list(dict.fromkeys(pick(i) for i in x))
            if len(chosen) < 2:
                return
            columns = ["email", "n"] if y == "both" else [y]
            now = self.rows()
            with db.transaction():
                self.set_aside(chosen, columns)
                for k, src in zip(chosen, chosen[1:] + chosen[:1], strict=True):
                    values = [now[src][1] if c == "email" else now[src][2] for c in columns]
                    db.execute(f"UPDATE u SET {', '.join(f'{c} = ?' for c in columns)} WHERE {self.key} = ?",
                               (*values, k))
        elif op == "take" and len(keys) >= 2 and pick(x) != pick(y):
            now = self.rows()
            with db.transaction():  # the row pick(x) goes; pick(y) gets its email
                db.execute(f"DELETE FROM u WHERE {self.key} = ?", (pick(x),))
                db.execute(f"UPDATE u SET email = ? WHERE {self.key} = ?", (now[pick(x)][1], pick(y)))
        elif op == "fresh" and keys:
            self.set_aside([pick(x)], ["email", "n"])
        elif op == "insert":
            self.fresh += 1
            db.execute("INSERT INTO u (id, email, n) VALUES (?, ?, ?)", (self.fresh, f"new{self.fresh}", self.fresh))
        elif op == "delete" and keys:
            db.execute(f"DELETE FROM u WHERE {self.key} = ?", (pick(x),))
        elif op == "note" and keys:
            db.execute(f"UPDATE u SET note = coalesce(note, 0) + 1 WHERE {self.key} = ?", (pick(x),))

    def restore_by_hand(self, copy: dict[int, tuple]) -> None:
        """What a user writes to get ``copy`` back: one transaction, rows moved aside first."""
        now = self.rows()
        with self.db.transaction():
            for k in sorted(now.keys() - copy.keys()):
                self.db.execute(f"DELETE FROM u WHERE {self.key} = ?", (k,))
            changed = sorted(k for k in now.keys() & copy.keys() if now[k] != copy[k])
            self.set_aside(changed, ["email", "n"])
            for k in changed:
                self.db.execute(f"UPDATE u SET id = ?, email = ?, n = ?, note = ? WHERE {self.key} = ?", (*copy[k], k))
            for k in sorted(copy.keys() - now.keys()):
                self.db.execute(f"INSERT INTO u ({self.key}, id, email, n, note) VALUES (?, ?, ?, ?, ?)"
                                if self.kind == "hidden_rowid" else
                                "INSERT INTO u (id, email, n, note) VALUES (?, ?, ?, ?)",
                                ((k,) if self.kind == "hidden_rowid" else ()) + copy[k])

    def storage(self, table: str = "u") -> dict[str, list[tuple]]:
        """History, companion and ranges of ``table``, versions replaced by their rank."""
        ((tid,),) = self.db.query("SELECT table_id FROM galaxlite_tables WHERE name = ? AND valid_to IS NULL", (table,))
        history, companion, ranges = f"_gl_h{tid}", f"_gl_c{tid}", f"_gl_r{tid}"
        tables = {name: self.db.query(f"SELECT * FROM {name}") if self.db.query(
            "SELECT 1 FROM sqlite_schema WHERE name = ?", (name,)) else [] for name in (history, companion, ranges)}
        ver_cols = {history: (-2, -1), companion: (-1,), ranges: (-1,)}
        versions = sorted({r[i] for name, rows in tables.items() for r in rows for i in ver_cols[name]})
        rank = {v: i for i, v in enumerate(versions)}
        out = {}
        for kind, name in (("history", history), ("companion", companion), ("ranges", ranges)):
            cols = ver_cols[name]
            out[kind] = sorted(
                (tuple(rank[v] if i - len(r) in cols else v for i, v in enumerate(r)) for r in tables[name]),
                key=repr)
        return out


@pytest.mark.parametrize(("kind", "children"), [(kind, False) for kind in KINDS]
                         + [("integer_pk", True), ("without_rowid", True)])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(STEP, max_size=14), data=st.data())
def test_restore_after_swaps_and_cycles_leaves_what_a_user_would(kind: str, children: bool, steps: list[tuple],
                                                                 data) -> None:
    with tempfile.TemporaryDirectory() as folder:
        ours, theirs = Twin(Path(folder) / "a.db", kind, children), Twin(Path(folder) / "b.db", kind, children)
        copies = {}
        for i, step in enumerate([("tag", None, None), *steps]):
            if step[0] == "tag":
                for twin in (ours, theirs):
                    twin.db.create_tag(f"v{i}")
                copies[f"v{i}"] = ours.rows()
            else:
                for twin in (ours, theirs):
                    twin.step(step)
        assert ours.storage() == theirs.storage()
        target = data.draw(st.sampled_from(sorted(copies)))
        before, theirs_before = ours.db.version, theirs.db.version
        now = ours.rows()
        changed = sum(now.get(k) != copies[target].get(k) for k in now.keys() | copies[target].keys())
        assert ours.db.execute(f"RESTORE TABLE u TO VERSION '{target}'").rowcount == changed
        theirs.restore_by_hand(copies[target])
        assert ours.rows() == theirs.rows() == copies[target]
        assert len(set(ours.db.query("SELECT _version FROM u CHANGES BETWEEN VERSION ? AND VERSION ?",
                                     (before, ours.db.version)))) <= 1  # one version
        assert ours.storage() == theirs.storage()
        if children:  # they followed their parents' values as an UPDATE would carry them
            assert ours.db.query("SELECT * FROM c ORDER BY id") == theirs.db.query("SELECT * FROM c ORDER BY id")
            # (the user's way moves aside rows that need not move, which writes their children
            # again with the same values: the same changes, not the same history)
            changes = "SELECT id, uid, email, _change FROM c CHANGES BETWEEN VERSION ? AND VERSION ? ORDER BY 1, 4"
            assert ours.db.query(changes, (before, ours.db.version)) == theirs.db.query(
                changes, (theirs_before, theirs.db.version))
        for name, copy in copies.items():  # the past still reads
            assert sorted(ours.db.query(f"SELECT id, email, n, note FROM u AT VERSION '{name}'"),
                          key=repr) == sorted(copy.values(), key=repr)
        assert ours.db.check() == [] and theirs.db.check() == []
        for twin in (ours, theirs):
            twin.db.close()


# ------------------------------------------------------------------ one case each


def swap_emails(db: galaxlite.Database, table: str = "u") -> None:
    with db.transaction():
        db.execute(f"UPDATE {table} SET email = 'tmp' WHERE id = 1")
        db.execute(f"UPDATE {table} SET email = 'x' WHERE id = 2")
        db.execute(f"UPDATE {table} SET email = 'y' WHERE id = 1")


@pytest.mark.parametrize("children", [False, True])
def test_a_long_chain_and_a_declared_replace(db: galaxlite.Database, children: bool) -> None:
    """A shift of 40 UNIQUE values (a chain longer than the first UPDATE passes) comes back;
    with children that cascade, by every pass it takes (none deleted); a UNIQUE declared ON
    CONFLICT REPLACE does not make the restore delete rows."""
    db.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, pos INTEGER UNIQUE ON CONFLICT REPLACE, email TEXT)")
    db.executemany("INSERT INTO u VALUES (?, ?, ?)", [(i, i, f"e{i}") for i in range(40)])
    if children:
        db.execute("CREATE TABLE c (id INTEGER PRIMARY KEY, u INTEGER REFERENCES u (id) ON DELETE CASCADE)")
        db.executemany("INSERT INTO c VALUES (?, ?)", [(i, i) for i in range(40)])
    db.create_tag("a")
    then = db.query("SELECT * FROM u ORDER BY id")
    for i in range(40):  # each row to the position before, from the bottom up
        db.execute("UPDATE u SET pos = pos - 1 WHERE id = ?", (i,))
    assert db.execute("RESTORE TABLE u TO VERSION 'a'").rowcount == 40
    assert db.query("SELECT * FROM u ORDER BY id") == then
    assert db.query("SELECT count(*) FROM u CHANGES BETWEEN VERSION 'a' AND VERSION ?", (db.version,)) == [(0,)]
    if children:
        assert db.query("SELECT count(*) FROM c") == [(40,)]


def test_swapped_parents_keep_their_children(db: galaxlite.Database) -> None:
    """Rows referred to by a foreign key (NO ACTION) are deleted and inserted again inside
    the restore; the check waits for the commit, and the children are untouched."""
    db.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE)")
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES u (id))")
    db.execute("INSERT INTO u VALUES (1, 'x'), (2, 'y'), (3, 'z')")
    db.execute("INSERT INTO orders VALUES (10, 1), (11, 2)")
    db.create_tag("a")
    swap_emails(db)
    with db.transaction():
        db.execute("RESTORE TABLE u TO VERSION 'a'")
        assert db.query("PRAGMA defer_foreign_keys") == [(0,)]  # as it was
    assert db.query("SELECT * FROM u ORDER BY id") == [(1, "x"), (2, "y"), (3, "z")]
    assert db.query("SELECT * FROM orders ORDER BY id") == [(10, 1), (11, 2)]


def test_swapped_parents_with_cascading_children_keep_them(db: galaxlite.Database) -> None:
    """Deleting the swapped rows for a moment would cascade to their children: their UNIQUE
    values are moved aside and updated back instead, and the children stay as they were."""
    db.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE)")
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES u (id) ON DELETE CASCADE)")
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES u (id) ON DELETE SET NULL)")
    db.execute("INSERT INTO u VALUES (1, 'x'), (2, 'y')")
    db.execute("INSERT INTO orders VALUES (10, 1)")
    db.execute("INSERT INTO notes VALUES (30, 2)")
    db.create_tag("a")
    swap_emails(db)
    before = db.version
    assert db.execute("RESTORE TABLE u TO VERSION 'a'").rowcount == 2
    assert db.query("SELECT * FROM u ORDER BY id") == [(1, "x"), (2, "y")]
    assert db.query("SELECT * FROM orders") == [(10, 1)] and db.query("SELECT * FROM notes") == [(30, 2)]
    for table in ("orders", "notes"):  # not even for a moment
        assert db.query(f"SELECT count(*) FROM {table} CHANGES BETWEEN VERSION ? AND VERSION ?",
                        (before, db.version)) == [(0,)]
    assert db.query("SELECT count(*) FROM u CHANGES BETWEEN VERSION 'a' AND VERSION ?", (db.version,)) == [(0,)]
    assert db.check() == []


def test_swapped_values_that_children_follow_on_update_carry_them(db: galaxlite.Database) -> None:
    """Children referring to the swapped UNIQUE column ON UPDATE CASCADE follow the values back
    as an UPDATE would carry them (through the value set aside); a key referred to ON UPDATE
    CASCADE never changes."""
    db.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE)")
    db.execute("CREATE TABLE mail (id INTEGER PRIMARY KEY, email TEXT REFERENCES u (email) ON UPDATE CASCADE)")
    db.execute("CREATE TABLE owner (id INTEGER PRIMARY KEY, u INTEGER REFERENCES u (id) ON UPDATE CASCADE)")
    db.execute("INSERT INTO u VALUES (1, 'x'), (2, 'y')")
    db.execute("INSERT INTO owner VALUES (10, 1)")
    db.create_tag("a")
    swap_emails(db)
    db.execute("RESTORE TABLE u TO VERSION 'a'")
    assert db.query("SELECT * FROM u ORDER BY id") == [(1, "x"), (2, "y")]
    swap_emails(db)
    db.execute("INSERT INTO mail VALUES (20, 'y'), (21, 'x')")  # row 1's e-mail now, row 2's
    db.execute("RESTORE TABLE u TO VERSION 'a'")
    assert db.query("SELECT * FROM u ORDER BY id") == [(1, "x"), (2, "y")]
    assert db.query("SELECT * FROM mail ORDER BY id") == [(20, "x"), (21, "y")]  # with their rows
    assert db.query("SELECT * FROM owner") == [(10, 1)]
    assert db.check() == []


def test_a_swap_whose_values_cannot_be_set_aside_is_refused(db: galaxlite.Database) -> None:
    """A CHECK that refuses any other value, or a UNIQUE index on an expression only, leaves no
    way to update the rows back one at a time and no right to delete them: refused by name,
    nothing changed; once the user moves one value aside, the restore goes through."""
    db.execute("CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE CHECK (email IN ('x', 'y', 'z', 'tmp')))")
    db.execute("CREATE TABLE v (id INTEGER PRIMARY KEY, email TEXT NOT NULL)")
    db.execute("CREATE UNIQUE INDEX v_email ON v (lower(email))")
    for table in ("u", "v"):
        db.execute(f"CREATE TABLE {table}_orders (id INTEGER PRIMARY KEY, "
                   f"user_id INTEGER REFERENCES {table} (id) ON DELETE CASCADE)")
        db.execute(f"INSERT INTO {table} VALUES (1, 'x'), (2, 'y')")
        db.execute(f"INSERT INTO {table}_orders VALUES (10, 1)")
    db.create_tag("a")
    for table in ("u", "v"):
        swap_emails(db, table)
    for table, why in (("u", r"moving their UNIQUE columns \(email\) aside .* failed"),
                       ("v", "a UNIQUE index on an expression")):
        version = db.version
        with pytest.raises(galaxlite.NotSupportedError, match=rf"{table}_orders\(user_id\) ON DELETE CASCADE.*{why}"):
            db.execute(f"RESTORE TABLE {table} TO VERSION 'a'")
        assert db.version == version and db.query(f"SELECT * FROM {table} ORDER BY id") == [(1, "y"), (2, "x")]
        db.execute(f"UPDATE {table} SET email = 'z' WHERE id = 1")
        db.execute(f"RESTORE TABLE {table} TO VERSION 'a'")
        assert db.query(f"SELECT * FROM {table} ORDER BY id") == [(1, "x"), (2, "y")]
        assert db.query(f"SELECT * FROM {table}_orders") == [(10, 1)]
