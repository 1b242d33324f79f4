"""The history-as-data steps of ``galaxlite demo``: what changed, undo, retention, loading a
file, and galaxlite from Python as from ``sqlite3``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import galaxlite
from galaxlite import errors
from galaxlite.cli.narration import Demo


def what_changed(demo: Demo) -> None:
    demo.step("See what changed with CHANGES BETWEEN", "The net changes between two versions, read from history.")
    demo.sql(
        "SELECT _change, count(*) AS docs\n"
        "FROM docs CHANGES BETWEEN VERSION 'raw' AND VERSION 'clean'\n"
        "GROUP BY _change ORDER BY _change",
        note="galaxlite diff DB raw clean --rows prints the rows themselves",
    )


def restore_and_dialect(demo: Demo) -> int:
    """RESTORE the plain client's table, then PostgreSQL's dialect; returns the version the
    table went back to."""
    demo.step("Undo with RESTORE, speak PostgreSQL",
              "RESTORE makes a table equal its past as one new version; dialect postgres translates.")
    (enabled,) = demo.db.query("SELECT min(valid_from) FROM galaxlite_tables WHERE name = 'reviews'")[0]
    demo.sql("RESTORE TABLE reviews TO VERSION ?", [enabled], note="the plain client's UPDATE undone (and kept in history)")
    demo.sql("SELECT doc_id, verdict FROM reviews ORDER BY doc_id")
    demo.sql("SET galaxlite.dialect = 'postgres'")
    demo.sql("SELECT label, count(*)::text AS n FROM docs WHERE body ILIKE '%MOON%' GROUP BY label ORDER BY label",
             note="PostgreSQL's ILIKE and :: casts, translated to SQLite by sqlglot")
    demo.sql("RESET galaxlite.dialect")
    return enabled


def keep_it_small(demo: Demo, enabled: int) -> None:
    demo.step("Keep the file small with PURGE HISTORY",
              "Retention drops the row versions no tag, snapshot or later version can see; every tag reads the same.")
    demo.sql("CREATE VERSION TAG 'reviewed'")
    demo.sql("PURGE HISTORY BEFORE VERSION 'reviewed'",
             note="the plain client's UPDATE and its undo, seen by no tag, go (galaxlite gc DB --before reviewed)")
    demo.sql("SELECT (SELECT count(*) FROM docs AT VERSION 'raw') AS raw,\n"
             "       (SELECT count(*) FROM docs AT VERSION 'clean') AS clean", note="every tag still reads")
    try:
        demo.sql("SELECT verdict FROM reviews AT VERSION ? WHERE doc_id = 1", [enabled],
                 note="the version RESTORE went back to above: no tag names it")
    except errors.HistoryPurgedError as exc:
        demo.echo(f"HistoryPurgedError: {exc.message}", fg="yellow")


def like_sqlite3(demo: Demo) -> None:
    demo.step("Program it like sqlite3",
              "galaxlite.connect is a DB-API module with sqlite3's habits: Row factory, converters, "
              "create_function, iterdump, backup (docs/dbapi.md).")
    where = Path(demo.db.filename).parent
    con = galaxlite.connect(where)
    try:
        con.row_factory = sqlite3.Row  # what galaxlite.Row does: by position, by any-case name
        row = con.execute("SELECT id, label FROM docs AT VERSION 'raw' WHERE id = ?", (40,)).fetchone()
        con.create_function("words", 1, lambda text: len(text.split()), deterministic=True)
        longest = con.execute("SELECT max(words(body)) AS words FROM docs").fetchone()
        for code, result in (
            ("con = galaxlite.connect(DIR)", None),
            ("con.row_factory = sqlite3.Row", None),
            ("row = con.execute(\"SELECT id, label FROM docs AT VERSION 'raw' WHERE id = ?\", (40,)).fetchone()", None),
            ('row["LABEL"], row.keys()', repr((row["LABEL"], row.keys()))),
            ('con.create_function("words", 1, lambda text: len(text.split()), deterministic=True)', None),
            ('con.execute("SELECT max(words(body)) AS words FROM docs").fetchone()["words"]', repr(longest["words"])),
        ):
            demo.echo(f"py> {code}", fg="cyan")
            if result is not None:
                demo.echo(result)
    finally:
        con.close()
