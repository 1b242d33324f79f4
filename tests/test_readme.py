"""The README's SQL tour runs as written, and its commented results are what galaxlite returns.

Every ```sql block of README.md's tour runs, in order, in one database. A statement whose line ends
with ``-- <number>`` must return that single value; one whose comment names a galaxlite
exception class (``-- ReadOnlyVersionError: ...``) must raise it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import galaxlite
from galaxlite import transpile

README = Path(__file__).resolve().parents[1] / "README.md"
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def tour_statements() -> list[tuple[str, str]]:
    """(statement, the comment on the rest of its last line) for every statement of the tour
    (the SQL blocks before the examples that tests/test_cli.py runs)."""
    out = []
    text = README.read_text(encoding="utf-8")
    tour = text[: text.index("<!-- dbapi-cli examples -->")]
    for block in SQL_BLOCK.findall(tour):
        for stmt in transpile.split_statements(block):
            line_end = block.find("\n", stmt.end)
            tail = block[stmt.end : line_end if line_end >= 0 else len(block)]
            comment = tail.split("--", 1)[1].strip() if "--" in tail else ""
            out.append((stmt.text, comment))
    return out


def test_readme_has_a_sql_tour():
    statements = tour_statements()
    assert len(statements) >= 15
    assert any("AT VERSION" in sql for sql, _ in statements)


def test_readme_sql_tour_runs_as_documented(tmp_path):
    checked = 0
    with galaxlite.Database(tmp_path / "tour") as db:
        for sql, comment in tour_statements():
            first_word = comment.split(":")[0].split()[0] if comment else ""
            error = getattr(galaxlite, first_word, None)
            if isinstance(error, type) and issubclass(error, galaxlite.Error):
                with pytest.raises(error):
                    db.execute(sql)
                checked += 1
                continue
            result = db.execute(sql).fetchall()
            if re.fullmatch(r"-?\d+", first_word):
                assert result == [(int(first_word),)], sql
                checked += 1
    assert checked >= 3
