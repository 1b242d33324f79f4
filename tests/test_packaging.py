"""The wheel built from this checkout: what it holds, and that it works installed on its own.

``transpile/``, ``schema/`` and ``fixtures/demo/`` live at the top of the repository but install
inside ``galaxlite`` (``galaxlite.transpile``, ``galaxlite.schema``, ``galaxlite.demo_data``,
through ``package-dir`` in pyproject.toml), so the wheel's only top-level package is
``galaxlite``. Every subpackage must also be listed there: one that is not is silently left out
of the wheel, while the editable install of the test venv still finds it. So the test builds the
wheel, compares it with the source folders, installs it into a fresh venv and runs the console
script ``galaxlite demo`` from a folder outside the checkout.

The build runs on a copy of the checkout, because setuptools writes ``build/`` and
``*.egg-info`` next to the sources. The fresh venv gets galaxlite's dependencies from the
running environment through a ``.pth`` file (written after the wheel is installed, so that pip
sees an empty environment and downloads nothing), never the checkout itself: the test checks
that ``galaxlite`` is imported from the venv.

Slow-ish (building the wheel in an isolated build environment takes 10-30 s); it runs in
``make test`` like every other test, and ``-m "not slow"`` leaves it out of a quick run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
# source folder → where its files go in the wheel ([tool.setuptools.package-dir])
INSTALLED_AS = {
    REPO / "galaxlite": "galaxlite",
    REPO / "transpile": "galaxlite/transpile",
    REPO / "schema": "galaxlite/schema",
    REPO / "fixtures" / "demo": "galaxlite/demo_data",
}
PACKAGE_DATA = {"schema": "*.sql", "fixtures/demo": "*.csv"}
NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", "*.pyc", "build", "dist", "*.egg-info", ".pytest_cache",
    ".ruff_cache", ".hypothesis", "bench-data", "*.db", "*.db-wal", "*.db-shm",
)


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run ``argv``, capturing its output; fail with that output unless it exits 0."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, **kwargs)
    assert proc.returncode == 0, f"{argv} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def expected_files() -> set[str]:
    """The wheel paths of every module and data file of the source folders."""
    expected = set()
    for source, target in INSTALLED_AS.items():
        for path in source.rglob("*.py"):
            if "__pycache__" not in path.parts:
                expected.add(f"{target}/{path.relative_to(source).as_posix()}")
    for folder, pattern in PACKAGE_DATA.items():
        for path in (REPO / folder).glob(pattern):
            expected.add(f"{INSTALLED_AS[REPO / folder]}/{path.name}")
    return expected


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of this checkout, built from a copy of it."""
    where = tmp_path_factory.mktemp("wheel")
    source = where / "source"
    shutil.copytree(REPO, source, ignore=NOT_SOURCES)
    # an absolute path: a bare folder name would be looked up as a package on the index
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(where / "dist"),
         str(source)])
    (built,) = (where / "dist").glob("galaxlite-*.whl")
    return built


def test_the_wheel_holds_only_the_galaxlite_package(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (info,) = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
        top_level = archive.read(f"{info}/top_level.txt").decode().split()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert {n.split("/")[0] for n in names} == {"galaxlite", info}
    assert top_level == ["galaxlite"]
    assert "galaxlite = galaxlite.cli:main" in entry_points
    assert "[datasette]\ngalaxlite = galaxlite.datasette" in entry_points  # the plugin
    assert not expected_files() - names, "missing from the wheel (a package not in pyproject.toml?)"
    for data in ("galaxlite/schema/catalog.sql", "galaxlite/demo_data/docs.csv",
                 "galaxlite/cli/__main__.py", "galaxlite/transpile/__init__.py",
                 "galaxlite/datasette/templates/galaxlite.html"):
        assert data in names


def test_the_installed_wheel_runs_the_demo(wheel, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--quiet", str(wheel)])
    purelib = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
                   .stdout.strip())
    # the dependencies (apsw, pyarrow, lance, the embedder's model, ...) of this environment
    dependencies = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]
    (purelib / "zz_galaxlite_dependencies.pth").write_text("\n".join(dependencies) + "\n")

    elsewhere = tmp_path / "elsewhere"  # outside the checkout: it must not be importable
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GALAXLITE_DEBUG")}
    modules = ["galaxlite", "galaxlite.cli", "galaxlite.transpile", "galaxlite.schema",
               "galaxlite.demo_data"]
    found = json.loads(run(
        [str(python), "-c", "import importlib, json, sys; print(json.dumps("
         "[importlib.import_module(m).__file__ for m in sys.argv[1:]]))", *modules],
        cwd=elsewhere, env=env,
    ).stdout)
    for module, path in zip(modules, found, strict=True):
        assert Path(path).is_relative_to(purelib), f"{module} comes from {path}, not the venv"

    target = elsewhere / "demo"
    proc = run([str(venv / "bin" / "galaxlite"), "demo", str(target)], cwd=elsewhere, env=env)
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0] == f"galaxlite demo: building a database in {target}"
    assert f"Done. The database is in {target}. Explore it with:" in lines
    assert " 200 |   193" in proc.stdout  # the counts before and after cleaning
    assert "body: float32[32, 384]" in proc.stdout  # the training export, read back
    assert (target / "galaxlite.db").is_file()


def test_make_test_runs_the_doctests_of_every_package() -> None:
    """Docstring examples are tests: pytest collects them from each source package."""
    import tomllib

    root = Path(__file__).resolve().parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--doctest-modules" in config["addopts"].split()
    assert {"galaxlite", "transpile", "schema"} <= set(config["testpaths"])
