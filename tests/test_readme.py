"""The README's SQL tour runs as written, and its commented results are what galaxlite returns.

Every ```sql block of README.md's tour runs, in order, in one database. A statement whose line ends
with ``-- <number>`` must return that single value; one whose comment names a galaxlite
exception class (``-- ReadOnlyVersionError: ...``) must raise it (the same rules as for the sql
blocks of docs/, tests/test_docs.py). The README's python and console examples, after the
``<!-- dbapi-cli examples -->`` marker, are run by tests/test_cli.py.
"""

from __future__ import annotations

import re
from pathlib import Path

from test_docs import check_sql, sql_statements  # tests/ is on sys.path, as for sqllogic

import galaxlite

README = Path(__file__).resolve().parents[1] / "README.md"
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def tour_statements() -> list[tuple[str, str]]:
    """(statement, the comment on the rest of its last line) for every statement of the tour
    (the SQL blocks before the examples that tests/test_cli.py runs)."""
    text = README.read_text(encoding="utf-8")
    tour = text[: text.index("<!-- dbapi-cli examples -->")]
    return [statement for block in SQL_BLOCK.findall(tour) for statement in sql_statements(block)]


def test_readme_has_a_sql_tour():
    statements = tour_statements()
    assert len(statements) >= 15
    assert any("AT VERSION" in sql for sql, _ in statements)


def test_readme_sql_tour_runs_as_documented(tmp_path):
    with galaxlite.Database(tmp_path / "tour") as db:
        checked = check_sql(db, tour_statements())
    assert checked >= 3
