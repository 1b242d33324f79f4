"""The Datasette plugin and ``galaxlite browse``, over real HTTP on 127.0.0.1.

``galaxlite browse DB --port P`` runs in a subprocess; the tests read its pages and JSON with
``urllib``. A long-suite test (``GALAXLITE_LONG=1``) takes a screenshot of the galaxlite page
with a headless Chromium, when the system has one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from html import unescape
from pathlib import Path

import pytest

import galaxlite

pytest.importorskip("datasette", reason="Datasette is not installed (pip install 'galaxlite[datasette]')")

from galaxlite.datasette.catalog import when  # noqa: E402 - needs datasette's skip above

WAIT = 60.0  # a hang guard for the server to answer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=WAIT) as response:
        assert response.status == 200
        return response.read().decode()


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("browse")
    path = folder / "shop.db"
    db = galaxlite.Database(path)
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    db.execute("INSERT INTO items (name, price) VALUES ('apple', 1.0), ('pear', 2.5), ('fig', 4.0)")
    db.create_tag("v1")
    db.execute("UPDATE items SET price = price * 2")
    db.execute("DELETE FROM items WHERE name = 'fig'")
    db.execute("INSERT INTO notes (body) VALUES ('hello')")
    db.create_training_snapshot("train-1", seed=7)
    db.execute("CREATE SNAPSHOT basket AS SELECT * FROM items AT VERSION 'v1'")
    db.execute("CREATE SNAPSHOT basket FROM @1.0.0 USING (DELETE WHERE price > 2)")
    db.execute("CREATE TABLE later (x)")  # made after every tag
    db.close()
    return path


@pytest.fixture(scope="module")
def server(shop):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "galaxlite.cli", "browse", str(shop), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + WAIT
    while True:
        try:
            get(base + "/-/versions.json")
            break
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"galaxlite browse did not serve: {proc.stdout.read()}")
            time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(timeout=WAIT)


def test_datasette_lists_user_tables_and_snapshot_views_not_bookkeeping(server):
    data = json.loads(get(server + "/shop.json"))
    shown = {t["name"] for t in data["tables"] if not t["hidden"]}
    hidden = {t["name"] for t in data["tables"] if t["hidden"]}
    assert {"items", "notes", "later"} <= shown
    assert not [n for n in shown if n.startswith(("_gl_", "galaxlite_"))]
    assert {"_gl_h1", "galaxlite_tags", "galaxlite_clock"} <= hidden
    assert {v["name"] for v in data["views"]} == {"basket@1.0.0", "basket@1.1.0"}
    page = get(server + "/shop")
    assert "/-/galaxlite/shop" in page  # the database's actions menu links the galaxlite page


def test_the_galaxlite_page_links_each_table_as_it_was(server, shop):
    page = get(server + "/-/galaxlite/shop")
    db = galaxlite.Database(shop, read_only=True)
    for tag in db.tags():
        assert tag.name in page and when(tag.version) in page
    links = re.findall(r'<a class="as-of" href="([^"]+)" title="([^"]+)">([^<]+)</a>', page)
    by_title = {unescape(title): unescape(href) for href, title, _ in links}
    # "later" was made after both tags: no link for it
    assert set(by_title) == {f'SELECT * FROM "{t}" AT VERSION \'{tag}\''
                             for tag in ("v1", "train-1") for t in ("items", "notes")}
    for sql, href in by_title.items():
        assert href.startswith("/shop?sql=")
        rows = json.loads(get(server + href.replace("/shop?", "/shop.json?", 1) + "&_shape=arrays"))["rows"]
        assert sorted(map(tuple, rows)) == sorted(db.query(sql)), sql
    assert by_title["SELECT * FROM \"items\" AT VERSION 'v1'"] is not None
    v1_items = json.loads(get(server + by_title["SELECT * FROM \"items\" AT VERSION 'v1'"]
                              .replace("/shop?", "/shop.json?", 1) + "&_shape=arrays"))["rows"]
    assert sorted(map(tuple, v1_items)) == [(1, "apple", 1.0), (2, "pear", 2.5), (3, "fig", 4.0)]
    db.close()


def test_the_galaxlite_page_shows_exports_and_snapshot_lineage(server, shop):
    page = unescape(get(server + "/-/galaxlite/shop"))
    assert "Training exports (2)" in page and "train-1" in page
    db = galaxlite.Database(shop, read_only=True)
    for export in db.exports():
        assert export.content_hash in page and export.path in page
    db.close()
    assert re.search(r'<td class="lineage"><a href="[^"]+">basket@1.0.0</a> → <a href="[^"]+">basket@1.1.0</a>', page)
    assert "DELETE WHERE price > 2" in page
    view = json.loads(get(server + "/shop/basket~401~2E1~2E0.json?_shape=arrays"))["rows"]
    assert sorted(map(tuple, view)) == [(1, "apple", 1.0)]


def test_browse_refuses_what_is_not_a_galaxlite_file(tmp_path):
    import sqlite3

    plain = tmp_path / "plain.db"
    sqlite3.connect(plain).execute("CREATE TABLE t (x)").connection.close()
    done = subprocess.run([sys.executable, "-m", "galaxlite.cli", "browse", str(plain)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "no galaxlite catalog" in done.stderr


@pytest.mark.skipif(not os.environ.get("GALAXLITE_LONG"), reason="long suite only (GALAXLITE_LONG=1)")
def test_screenshot_in_a_headless_browser(server, tmp_path):
    names = ("chromium", "chromium-headless-shell", "chromium-browser", "google-chrome", "headless_shell")
    browser = next((shutil.which(n) for n in names if shutil.which(n)), None)
    if browser is None:
        pytest.skip("no Chromium on this system (apt-get install chromium-headless-shell to run this test)")
    shot = tmp_path / "galaxlite-page.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1280,1000", server + "/-/galaxlite/shop"],
                   capture_output=True, timeout=180, check=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
