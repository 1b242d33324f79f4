"""The documents in docs/ are true: their examples run, the CLI is documented, links resolve.

Conventions for docs/*.md (the README's tour has its own test, tests/test_readme.py):

* Every ```` ```python ````, ```` ```sql ```` and ```` ```console ```` block runs, unless the
  line before its fence is ``<!-- not run -->`` (a syntax sketch, or code that needs something a
  test machine lacks). Other fences (```` ```text ````) never run.
* Each document runs its blocks in order, in a fresh temporary folder: a python block as a
  script in that folder; a console block command by command, as tests/test_cli.py runs the
  README's (``$ `` starts a command, the lines after it are its output, ``...`` is any text);
  the sql blocks statement by statement in one ``galaxlite.Database`` in that folder.
* In a sql block, a statement whose line ends with ``-- <number>`` must return that single
  value, and one whose comment names a galaxlite exception class (``-- ReadOnlyVersionError:
  ...``) must raise it.

Also: every ``galaxlite`` subcommand has a row in docs/cli.md; every relative link of
README.md and docs/*.md names a file (and heading) that exists; and no file cites the design
documents that are not in the repository.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import click
import pytest
from test_cli import console_steps, output_pattern  # tests/ is on sys.path, as for sqllogic

import galaxlite
from galaxlite import transpile

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted((REPO / "docs").glob("*.md"))
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
NOT_RUN = "<!-- not run -->"
RUNNABLE = ("python", "sql", "console")


# ------------------------------------------------------------------ sql statements with results


def sql_statements(block: str) -> list[tuple[str, str]]:
    """(statement, the comment on the rest of its last line) for every statement of a block."""
    out = []
    for stmt in transpile.split_statements(block):
        line_end = block.find("\n", stmt.end)
        tail = block[stmt.end : line_end if line_end >= 0 else len(block)]
        comment = tail.split("--", 1)[1].strip() if "--" in tail else ""
        out.append((stmt.text, comment))
    return out


def check_sql(db: galaxlite.Database, statements: list[tuple[str, str]]) -> int:
    """Run the statements in order; returns how many had a documented result to check."""
    checked = 0
    for sql, comment in statements:
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
    return checked


# ------------------------------------------------------------------ running a document


def runnable_blocks(text: str) -> list[tuple[str, str]]:
    """(language, code) of the blocks that run, in document order."""
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1].strip()
        if match[1] in RUNNABLE and before != NOT_RUN:
            blocks.append((match[1], match[2]))
    return blocks


def subprocess_env() -> dict[str, str]:
    """The environment of documented commands: this venv's ``galaxlite`` first on PATH."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("GALAXLITE_DEBUG", None)
    return env


def run_python(code: str, where: str, folder: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", code], cwd=folder, env=subprocess_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{where} failed:\n{proc.stderr}"


def run_console(code: str, where: str, folder: Path) -> None:
    for command, expected in console_steps(code):
        proc = subprocess.run(["bash", "-c", command + " 2>&1"], cwd=folder, env=subprocess_env(),
                              capture_output=True, text=True, timeout=300)
        fails = any(line.startswith("galaxlite: error:") for line in expected)
        assert (proc.returncode != 0) == fails, f"{where}: {command}\n{proc.stdout}"
        lines = [line.rstrip() for line in proc.stdout.splitlines()]
        got = "".join(line + "\n" for line in lines)
        assert output_pattern(expected).fullmatch(got), (
            f"{where}: {command}\nexpected:\n" + "\n".join(expected) + f"\ngot:\n{got}"
        )


def test_docs_exist():
    names = {doc.name for doc in DOCS}
    assert {"sql.md", "python-api.md", "dbapi.md", "cli.md", "snapshots.md",
            "training-exports.md", "semantic-search.md", "storage.md", "guarantees.md"} <= names


@pytest.mark.parametrize("doc", DOCS, ids=[doc.name for doc in DOCS])
def test_doc_examples_run(doc: Path, tmp_path: Path):
    blocks = runnable_blocks(doc.read_text(encoding="utf-8"))
    with galaxlite.Database(tmp_path / "sql") as db:
        for number, (lang, code) in enumerate(blocks, 1):
            where = f"docs/{doc.name}, example {number} ({lang})"
            if lang == "sql":
                check_sql(db, sql_statements(code))
            elif lang == "python":
                run_python(code, where, tmp_path)
            else:
                run_console(code, where, tmp_path)


def test_examples_are_found():
    """The convention is in use: the documents hold examples of every kind, most of them run."""
    found = {doc.name: runnable_blocks(doc.read_text(encoding="utf-8")) for doc in DOCS}
    kinds = {lang for blocks in found.values() for lang, _ in blocks}
    assert kinds == set(RUNNABLE)
    assert sum(len(blocks) for blocks in found.values()) >= 20
    assert sum(len(sql_statements(code)) for code in (
        code for blocks in found.values() for lang, code in blocks if lang == "sql")) >= 40


# ------------------------------------------------------------------ the CLI is documented


def cli_group() -> click.Group:
    """galaxlite's click group, found from the console script wherever the CLI lives."""
    script = entry_points(group="console_scripts")["galaxlite"]
    target = script.load()
    if isinstance(target, click.Group):
        return target
    modules = {sys.modules[script.module], sys.modules[getattr(target, "__module__", script.module)]}
    groups = {id(v): v for m in modules for v in vars(m).values() if isinstance(v, click.Group)}
    assert len(groups) == 1, f"expected one click group beside {script.value}, found {len(groups)}"
    return next(iter(groups.values()))


def test_every_cli_command_is_documented():
    text = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    commands = sorted(cli_group().commands)
    assert {"query", "shell", "demo"} <= set(commands)
    missing = [name for name in commands
               if not re.search(rf"^\| `galaxlite \[?{re.escape(name)}\]?[ `]", text, re.MULTILINE)]
    assert not missing, f"commands without a row in docs/cli.md's table: {missing}"


# ------------------------------------------------------------------ links


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"`+[^`\n]*`+")


def prose(text: str) -> str:
    """The text without fenced blocks and inline code (where brackets are code, not links)."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def anchors(path: Path) -> set[str]:
    """The heading anchors of a Markdown file, made the way GitHub makes them."""
    out = set()
    for heading in re.findall(r"^#+ (.*)$", FENCE.sub("", path.read_text(encoding="utf-8")), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


@pytest.mark.parametrize("page", [REPO / "README.md", *DOCS],
                         ids=["README.md", *(f"docs/{d.name}" for d in DOCS)])
def test_relative_links_resolve(page: Path):
    broken = []
    for target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file, _, anchor = target.partition("#")
        where = (page.parent / file).resolve() if file else page
        if not where.exists():
            broken.append(target)
        elif anchor and where.suffix == ".md" and anchor not in anchors(where):
            broken.append(target)
    assert not broken, f"{page.name}: links to nothing: {broken}"


# ------------------------------------------------------------------ no citations of absent files


ABSENT_DOCUMENTS = re.compile(r"\b(?:DESIGN|SPEC)\.md\b")
CITING_PLACES = ("galaxlite", "transpile", "schema", "benchmarks", "tests", "docs", "README.md")


def test_no_file_cites_documents_missing_from_the_repository():
    """The design and specification documents are not in the repository, so nothing may send a
    reader to them: say what they said where it is needed, or cite a file that is here."""
    files = []
    for place in CITING_PLACES:
        root = REPO / place
        files += [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    citing = sorted(
        str(path.relative_to(REPO)) for path in files
        if "__pycache__" not in path.parts
        and ABSENT_DOCUMENTS.search(path.read_text(encoding="utf-8", errors="replace"))
    )
    assert not citing, f"files citing documents that are not in the repository: {citing}"
