"""The Datasette plugin of galaxlite (``pip install 'galaxlite[datasette]'``; ``galaxlite
browse DB`` starts Datasette on 127.0.0.1 with it).

On a galaxlite file, Datasette then lists the user's tables and the snapshot views
(``name@version``) but not galaxlite's bookkeeping tables (``_gl_*``, ``galaxlite_*``: hidden,
as Datasette hides FTS tables; "hidden tables" still shows them), and each galaxlite database
gets a page, ``/-/galaxlite/<database>`` (linked from the database's actions menu): its tags
with readable times, and under each tag every table as it was, a link to Datasette's SQL
page running the plain SQLite query galaxlite renders for ``SELECT * FROM t AT VERSION
'tag'`` (``Database.plain_sql``); its training exports; its dataset snapshots with their
lineage, each linked to its view. Other databases are left as they are.

The page reads the catalog through a read-only ``galaxlite.Database`` per file, kept open
(``galaxlite.datasette.catalog`` builds the page from it); Datasette's own connections do
every query, as for any SQLite file.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlencode

from datasette import hookimpl
from datasette.utils.asgi import NotFound, Response

from galaxlite import Database
from galaxlite.datasette.catalog import BOOKKEEPING_PREFIXES, galaxlite_page

PAGE = "/-/galaxlite/{}"
_galaxlite_databases: set[str] = set()  # names of the Datasette databases that are galaxlite's
_open: dict[str, Database] = {}
_lock = threading.Lock()


async def _is_galaxlite(datasette: Any, name: str) -> bool:
    db = datasette.databases.get(name)
    if db is None or not db.path:
        return False
    found = await db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'galaxlite_clock'")
    return bool(found.rows)


@hookimpl
def startup(datasette: Any):
    async def inner() -> None:
        for name in list(datasette.databases):
            if await _is_galaxlite(datasette, name):
                _galaxlite_databases.add(name)

    return inner


@hookimpl
def get_metadata(datasette: Any, key: Any, database: str | None, table: str | None) -> dict:
    """Hide the bookkeeping tables: Datasette hides every table whose name starts with the
    name of a hidden one, so the two prefixes are enough."""
    names = [database] if database in _galaxlite_databases else sorted(_galaxlite_databases)
    return {"databases": {
        name: {"tables": {prefix: {"hidden": True} for prefix in BOOKKEEPING_PREFIXES}}
        for name in names
    }}


@hookimpl
def database_actions(datasette: Any, actor: Any, database: str, request: Any) -> list[dict]:
    if database not in _galaxlite_databases:
        return []
    return [{"href": datasette.urls.path(PAGE.format(database)),
             "label": "galaxlite: tags, tables as they were, exports, snapshots"}]


@hookimpl
def register_routes() -> list:
    return [(r"^/-/galaxlite/(?P<database>[^/]+)$", galaxlite_view)]


class _Links:
    def __init__(self, datasette: Any, database: str):
        self.datasette, self.database = datasette, database

    def query(self, sql: str) -> str:
        return self.datasette.urls.database(self.database) + "?" + urlencode({"sql": sql})

    def view(self, name: str) -> str:
        return self.datasette.urls.table(self.database, name)


def _database(path: str) -> Database:
    with _lock:
        db = _open.get(path)
        if db is None:
            db = _open[path] = Database(path, read_only=True)
        return db


async def galaxlite_view(datasette: Any, request: Any) -> Response:
    name = request.url_vars["database"]
    if name not in _galaxlite_databases:
        raise NotFound(f"{name!r} is not a galaxlite database")
    db = _database(datasette.databases[name].path)
    with _lock:
        page = galaxlite_page(db, _Links(datasette, name))
    html = await datasette.render_template(
        "galaxlite.html", {"database": name, "page": page,
                           "database_url": datasette.urls.database(name)}, request=request)
    return Response.html(html)
