"""Schema changes of versioned tables keep the past readable, with the past's columns.

ADD / RENAME / DROP COLUMN, RENAME TABLE and DROP TABLE followed by a new table of the
same name: every older tag must read exactly the rows it saw, under the columns the table
had then (``Result.columns``). Reading a table at a version where it did not exist is a
TableNotAtVersionError; after DROP TABLE, current reads fail but old tags still work.
"""

from __future__ import annotations

import itertools
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import galaxlite


@dataclass(frozen=True)
class Seen:
    """What a plain copy of a table held at some moment: its name, columns and rows."""

    name: str
    columns: tuple[str, ...]
    rows: Counter


def copy_of(db: galaxlite.Database, table: str) -> Seen:
    result = db.execute(f'SELECT * FROM "{table}"')
    rows = Counter(result.fetchall())
    return Seen(table, tuple(result.columns), rows)


def read_at(db: galaxlite.Database, table: str, version: str | int) -> Seen:
    result = db.execute(f'SELECT * FROM "{table}" AT VERSION ?', (version,))
    rows = Counter(result.fetchall())
    return Seen(table, tuple(result.columns), rows)


def tag(db: galaxlite.Database, name: str, table: str) -> tuple[str, Seen]:
    """Tag now, and keep a plain copy of ``table`` to compare with later."""
    db.create_tag(name)
    return name, copy_of(db, table)


def assert_tags_read_their_copies(db: galaxlite.Database, seen: list[tuple[str, Seen]]) -> None:
    for name, copy in seen:
        got = read_at(db, copy.name, name)
        assert got.columns == copy.columns, f"columns of {copy.name} AT VERSION {name!r}"
        assert got.rows == copy.rows, f"rows of {copy.name} AT VERSION {name!r}"
        by_timestamp = read_at(db, copy.name, db.tag_version(name))
        assert by_timestamp == got


@pytest.fixture
def items(db: galaxlite.Database) -> galaxlite.Database:
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
    db.execute(
        "INSERT INTO items (name, price) VALUES ('apple', 1.5), ('pear', 2.0), ('fig', 3.25)"
    )
    return db


# ------------------------------------------------------------------------------ columns


def test_add_column(items: galaxlite.Database) -> None:
    seen = [tag(items, "v1", "items")]
    items.execute("ALTER TABLE items ADD COLUMN stock INTEGER DEFAULT 10")
    seen.append(tag(items, "v2", "items"))
    items.execute("UPDATE items SET stock = 0, price = price * 2 WHERE name = 'pear'")
    items.execute("INSERT INTO items (name, price, stock) VALUES ('kiwi', 0.5, 3)")
    seen.append(tag(items, "v3", "items"))
    items.execute("DELETE FROM items WHERE name = 'apple'")
    assert_tags_read_their_copies(items, seen)
    assert read_at(items, "items", "v1").columns == ("id", "name", "price")
    assert read_at(items, "items", "v2").columns == ("id", "name", "price", "stock")
    assert sorted(items.query("SELECT name, stock FROM items AT VERSION 'v2'")) == [
        ("apple", 10),
        ("fig", 10),
        ("pear", 10),
    ]


def test_column_added_later_is_unknown_in_the_past(items: galaxlite.Database) -> None:
    items.create_tag("v1")
    items.execute("ALTER TABLE items ADD COLUMN stock INTEGER")
    with pytest.raises(galaxlite.ProgrammingError, match="stock"):
        items.execute("SELECT stock FROM items AT VERSION 'v1'")


def test_rename_column(items: galaxlite.Database) -> None:
    seen = [tag(items, "v1", "items")]
    items.execute("ALTER TABLE items RENAME COLUMN price TO cost")
    seen.append(tag(items, "v2", "items"))
    items.execute("UPDATE items SET cost = 9 WHERE name = 'fig'")
    seen.append(tag(items, "v3", "items"))
    assert_tags_read_their_copies(items, seen)
    assert items.query("SELECT price FROM items AT VERSION 'v1' WHERE name = 'fig'") == [(3.25,)]
    assert items.query("SELECT cost FROM items AT VERSION 'v3' WHERE name = 'fig'") == [(9.0,)]
    with pytest.raises(galaxlite.ProgrammingError):
        items.execute("SELECT cost FROM items AT VERSION 'v1'")


def test_drop_column(items: galaxlite.Database) -> None:
    items.execute("UPDATE items SET price = 1.75 WHERE name = 'apple'")
    seen = [tag(items, "v1", "items")]
    items.execute("ALTER TABLE items DROP COLUMN price")
    seen.append(tag(items, "v2", "items"))
    items.execute("INSERT INTO items (name) VALUES ('kiwi')")
    items.execute("UPDATE items SET name = 'big fig' WHERE name = 'fig'")
    items.execute("DELETE FROM items WHERE name = 'pear'")
    seen.append(tag(items, "v3", "items"))
    assert_tags_read_their_copies(items, seen)
    assert sorted(items.query("SELECT name, price FROM items AT VERSION 'v1'")) == [
        ("apple", 1.75),
        ("fig", 3.25),
        ("pear", 2.0),
    ]
    assert items.execute("SELECT * FROM items").columns == ["id", "name"]


def test_drop_then_add_a_column_of_the_same_name(items: galaxlite.Database) -> None:
    """A re-added column is a new column: the old values stay with the old tags."""
    seen = [tag(items, "v1", "items")]
    items.execute("ALTER TABLE items DROP COLUMN price")
    seen.append(tag(items, "v2", "items"))
    items.execute("ALTER TABLE items ADD COLUMN price TEXT DEFAULT 'n/a'")
    seen.append(tag(items, "v3", "items"))
    items.execute("UPDATE items SET price = 'cheap' WHERE name = 'apple'")
    seen.append(tag(items, "v4", "items"))
    assert_tags_read_their_copies(items, seen)
    assert sorted(items.query("SELECT price FROM items AT VERSION 'v1'")) == [
        (1.5,),
        (2.0,),
        (3.25,),
    ]
    assert items.query("SELECT DISTINCT price FROM items AT VERSION 'v3'") == [("n/a",)]


def test_rename_a_column_then_add_one_with_the_old_name(items: galaxlite.Database) -> None:
    seen = [tag(items, "v1", "items")]
    items.execute("ALTER TABLE items RENAME COLUMN price TO old_price")
    items.execute("ALTER TABLE items ADD COLUMN price INTEGER DEFAULT 0")
    items.execute("UPDATE items SET price = 5, old_price = -1 WHERE name = 'fig'")
    seen.append(tag(items, "v2", "items"))
    items.execute("ALTER TABLE items DROP COLUMN old_price")
    seen.append(tag(items, "v3", "items"))
    assert_tags_read_their_copies(items, seen)
    assert items.query("SELECT price FROM items AT VERSION 'v1' WHERE name = 'fig'") == [(3.25,)]
    assert items.query("SELECT price, old_price FROM items AT VERSION 'v2' WHERE name = 'fig'") == [
        (5, -1.0)
    ]


@pytest.mark.parametrize(
    "ddl",
    [
        "CREATE TABLE k (code TEXT PRIMARY KEY, qty INTEGER, note TEXT)",
        "CREATE TABLE k (code TEXT, qty INTEGER, note TEXT, PRIMARY KEY (code)) WITHOUT ROWID",
        "CREATE TABLE k (code TEXT, qty INTEGER, note TEXT)",
    ],
    ids=["text-pk", "without-rowid", "hidden-rowid"],
)
def test_column_changes_on_other_table_shapes(db: galaxlite.Database, ddl: str) -> None:
    """Renaming the key column of a WITHOUT ROWID table, and the other changes, keep the past."""
    db.execute(ddl)
    db.execute("INSERT INTO k VALUES ('a', 1, 'x'), ('b', 2, 'y'), ('c', 3, NULL)")
    seen = [tag(db, "v1", "k")]
    db.execute("ALTER TABLE k RENAME COLUMN code TO sku")
    db.execute("UPDATE k SET qty = qty + 10 WHERE sku = 'a'")
    seen.append(tag(db, "v2", "k"))
    db.execute("ALTER TABLE k ADD COLUMN added INTEGER DEFAULT 1")
    db.execute("UPDATE k SET sku = 'bb', added = 2 WHERE sku = 'b'")
    seen.append(tag(db, "v3", "k"))
    db.execute("ALTER TABLE k DROP COLUMN note")
    db.execute("DELETE FROM k WHERE sku = 'c'")
    db.execute("INSERT INTO k (sku, qty) VALUES ('d', 4)")
    seen.append(tag(db, "v4", "k"))
    db.execute("UPDATE k SET qty = 0")
    assert_tags_read_their_copies(db, seen)


# ------------------------------------------------------------------------------ tables


def test_rename_table(items: galaxlite.Database) -> None:
    seen = [tag(items, "v1", "items")]
    items.execute("ALTER TABLE items RENAME TO goods")
    items.execute("UPDATE goods SET price = 0 WHERE name = 'apple'")
    seen.append(tag(items, "v2", "goods"))
    items.execute("DELETE FROM goods WHERE name = 'pear'")
    assert_tags_read_their_copies(items, seen)
    with pytest.raises(galaxlite.TableNotAtVersionError):
        items.execute("SELECT * FROM goods AT VERSION 'v1'")
    with pytest.raises(galaxlite.TableNotAtVersionError):
        items.execute("SELECT * FROM items AT VERSION 'v2'")
    with pytest.raises(galaxlite.ProgrammingError, match="no such table"):
        items.execute("SELECT * FROM items")


def test_rename_table_back_and_forth(items: galaxlite.Database) -> None:
    seen = [tag(items, "v1", "items")]
    items.execute("ALTER TABLE items RENAME TO goods")
    items.execute("INSERT INTO goods (name) VALUES ('kiwi')")
    seen.append(tag(items, "v2", "goods"))
    items.execute("ALTER TABLE goods RENAME TO items")
    items.execute("DELETE FROM items WHERE name = 'fig'")
    seen.append(tag(items, "v3", "items"))
    assert_tags_read_their_copies(items, seen)


def test_drop_table_then_create_one_of_the_same_name(items: galaxlite.Database) -> None:
    items.execute("UPDATE items SET price = 4 WHERE name = 'fig'")
    seen = [tag(items, "v1", "items")]
    items.execute("DROP TABLE items")
    dropped = items.version
    items.create_tag("gone")
    with pytest.raises(galaxlite.ProgrammingError, match="no such table"):
        items.execute("SELECT * FROM items")
    with pytest.raises(galaxlite.TableNotAtVersionError):
        items.execute("SELECT * FROM items AT VERSION 'gone'")
    with pytest.raises(galaxlite.TableNotAtVersionError):
        items.execute(f"SELECT * FROM items AT VERSION {dropped}")
    assert_tags_read_their_copies(items, seen)  # old tags still work after the drop

    items.execute("CREATE TABLE items (sku TEXT PRIMARY KEY, qty INTEGER)")
    items.execute("INSERT INTO items VALUES ('x', 1), ('y', 2)")
    seen.append(tag(items, "v2", "items"))
    items.execute("UPDATE items SET qty = 3")
    assert_tags_read_their_copies(items, seen)
    assert read_at(items, "items", "v1").columns == ("id", "name", "price")
    assert read_at(items, "items", "v2").columns == ("sku", "qty")
    with pytest.raises(galaxlite.TableNotAtVersionError):
        items.execute("SELECT * FROM items AT VERSION 'gone'")


def test_at_version_before_the_table_existed(db: galaxlite.Database) -> None:
    db.execute("CREATE TABLE early (x INTEGER)")
    db.create_tag("before")
    db.execute("CREATE TABLE late (x INTEGER)")
    created = db.version
    db.execute("INSERT INTO late VALUES (1)")
    with pytest.raises(galaxlite.TableNotAtVersionError, match="late"):
        db.execute("SELECT * FROM late AT VERSION 'before'")
    with pytest.raises(galaxlite.TableNotAtVersionError):
        db.execute(f"SELECT * FROM late AT VERSION {created - 1}")
    with pytest.raises(galaxlite.TableNotAtVersionError):
        db.execute("SELECT * FROM late AT VERSION ?", (1,))
    assert db.query(f"SELECT * FROM late AT VERSION {created}") == []
    assert db.query("SELECT * FROM early AT VERSION 'before'") == []


def test_failed_schema_change_leaves_no_trace(items: galaxlite.Database) -> None:
    """A schema change rolled back with its transaction changes neither data nor past."""
    seen = [tag(items, "v1", "items")]
    items.begin()
    items.execute("ALTER TABLE items DROP COLUMN price")
    items.execute("INSERT INTO items (name) VALUES ('kiwi')")
    items.rollback()
    assert items.execute("SELECT * FROM items").columns == ["id", "name", "price"]
    assert_tags_read_their_copies(items, seen)
    with pytest.raises(galaxlite.ProgrammingError):
        items.execute("ALTER TABLE items DROP COLUMN nonexistent")
    items.execute("UPDATE items SET price = 0")
    seen.append(tag(items, "v2", "items"))
    assert_tags_read_their_copies(items, seen)


def test_several_schema_changes_in_one_transaction(items: galaxlite.Database) -> None:
    """Two schema changes of one table in one transaction: one version, the past intact."""
    seen = [tag(items, "v1", "items")]
    items.begin()
    items.execute("ALTER TABLE items DROP COLUMN price")
    items.execute("ALTER TABLE items RENAME TO goods")
    items.execute("ALTER TABLE goods ADD COLUMN qty INTEGER DEFAULT 1")
    items.execute("INSERT INTO goods (name) VALUES ('kiwi')")
    items.commit()
    seen.append(tag(items, "v2", "goods"))
    items.execute("UPDATE goods SET qty = 2")
    assert_tags_read_their_copies(items, seen)
    assert read_at(items, "goods", "v2").columns == ("id", "name", "qty")


# ------------------------------------------------------------------------- random chains


@dataclass(frozen=True)
class Step:
    """One random step: ``what`` names it, ``arg`` is its small random input."""

    what: str
    arg: int


STEP = st.builds(
    Step,
    st.sampled_from(
        [
            "insert",
            "update",
            "delete",
            "add",
            "rename_col",
            "drop_col",
            "rename_table",
            "drop_create",
            "tag",
            "txn_keep",
            "txn_undo",
        ]
    ),
    st.integers(0, 20),
)


class Chain:
    """Runs random schema and data steps, keeping a plain copy at each version."""

    def __init__(self, db: galaxlite.Database):
        self.db = db
        self.name = "t"
        self.names = itertools.count(1)
        db.execute('CREATE TABLE "t" (id INTEGER PRIMARY KEY, c0 INTEGER, c1 TEXT)')
        self.tags: list[tuple[str, Seen]] = []
        self.points: list[tuple[int, Seen]] = [(db.version, copy_of(db, "t"))]

    def columns(self) -> list[str]:
        return [c for c in self.db.execute(f'SELECT * FROM "{self.name}"').columns if c != "id"]

    def step(self, s: Step) -> None:
        db, t, cols = self.db, f'"{self.name}"', self.columns()
        col = f'"{cols[s.arg % len(cols)]}"' if cols else None
        if s.what == "insert" and not cols:
            db.execute(f"INSERT INTO {t} DEFAULT VALUES")
        elif s.what == "insert":
            names = ", ".join(f'"{c}"' for c in cols)
            marks = ", ".join("?" * len(cols))
            db.executemany(
                f"INSERT INTO {t} ({names}) VALUES ({marks})",
                [[s.arg + i + j for j in range(len(cols))] for i in range(s.arg % 4 + 1)],
            )
        elif s.what == "update" and col:
            db.execute(
                f"UPDATE {t} SET {col} = coalesce({col}, 0) + 1 WHERE id % 3 = ?", (s.arg % 3,)
            )
        elif s.what == "delete":
            db.execute(f"DELETE FROM {t} WHERE id % 5 = ?", (s.arg % 5,))
        elif s.what == "add":
            default = "" if s.arg % 2 else f" DEFAULT {s.arg}"
            db.execute(f'ALTER TABLE {t} ADD COLUMN "c{s.arg % 6}"{default}')
        elif s.what == "rename_col" and col:
            db.execute(f'ALTER TABLE {t} RENAME COLUMN {col} TO "c{next(self.names)}"')
        elif s.what == "drop_col" and col:
            db.execute(f"ALTER TABLE {t} DROP COLUMN {col}")
        elif s.what == "rename_table":
            self.name = "t" if self.name != "t" else f"t{s.arg % 3}"
            db.execute(f'ALTER TABLE {t} RENAME TO "{self.name}"')
        elif s.what == "drop_create":
            db.execute(f"DROP TABLE {t}")
            self.points.append((db.version, Seen(self.name, (), Counter())))
            db.execute(f"CREATE TABLE {t} (id INTEGER PRIMARY KEY, c{s.arg % 6} TEXT)")
        elif s.what == "tag":
            self.tags.append(tag(db, f"tag{len(self.tags)}", self.name))
        elif s.what in ("txn_keep", "txn_undo"):
            self.transaction(s)

    def transaction(self, s: Step) -> None:
        """A schema change and data changes in one transaction: one version, or none."""
        db, t = self.db, f'"{self.name}"'
        before = self.name
        db.begin()
        try:
            db.execute(f'ALTER TABLE {t} ADD COLUMN "x{s.arg}" DEFAULT {s.arg}')
            db.execute(f'UPDATE {t} SET "x{s.arg}" = -1 WHERE id % 2 = 0')
            db.execute(f"DELETE FROM {t} WHERE id % 7 = ?", (s.arg % 7,))
        except galaxlite.Error:
            db.rollback()
            raise
        if s.what == "txn_keep":
            db.commit()
        else:
            db.rollback()
            self.name = before

    def run(self, s: Step) -> None:
        try:
            self.step(s)
        except galaxlite.ProgrammingError as exc:
            # only SQLite's own refusals are expected (a duplicate column name)
            assert "duplicate column" in str(exc), exc
        self.points.append((self.db.version, copy_of(self.db, self.name)))

    def verify(self) -> None:
        assert_tags_read_their_copies(self.db, self.tags)
        for (lo, seen), (nxt, _) in itertools.pairwise(self.points):
            for ts in sorted({lo, nxt - 1}):
                if ts < lo:
                    continue
                if not seen.columns:
                    with pytest.raises(galaxlite.TableNotAtVersionError):
                        read_at(self.db, seen.name, ts)
                    continue
                got = read_at(self.db, seen.name, ts)
                assert got.columns == seen.columns and got.rows == seen.rows, (seen.name, ts)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEP, min_size=3, max_size=25))
def test_random_schema_and_data_changes(steps: list[Step]) -> None:
    """Random schema changes mixed with writes: every tag and timestamp reads its copy."""
    with tempfile.TemporaryDirectory() as folder:
        with galaxlite.Database(Path(folder) / "s.db") as db:
            chain = Chain(db)
            for s in steps:
                chain.run(s)
            chain.verify()
