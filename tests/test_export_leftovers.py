"""What a SIGKILLed export leaves is removed by the next writer, and a live export of another
process is never touched. Real child processes (``python -c``), really SIGKILLed."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

import galaxlite

WORK_PREFIX = ".galaxlite-export-"

# Opens the database at argv[1] and runs the export named by argv[2], stopping (asleep, until
# killed) at the point named by argv[3]: "writing" (rows are being written, staging files
# included), or "recording" (the datasets are renamed into place, the catalog not committed).
CHILD = r"""
import sys, time
import galaxlite
import galaxlite.runners.exports as runner_exports
import galaxlite.runners.tags as runner_tags
db = galaxlite.Database(sys.argv[1], timeout=30.0)
how, where = sys.argv[2], sys.argv[3]

def stop(*args, **kwargs):
    print("stopped", flush=True)
    time.sleep(120)

def progress(done, total):
    if where == "writing" and done > 0:
        stop()

if where == "recording":
    runner_exports.record = runner_tags.record = stop
if how == "tag":
    db.create_training_snapshot("t", seed=5, precision="sq8", progress=progress)
else:
    db.export_training("base", precision="rabitq4", seed=5, progress=progress)
"""


def build(path: Path) -> None:
    with galaxlite.Database(path) as db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v VECTOR(8), label TEXT)")
        db.execute(
            "BULK INSERT INTO t (id, v, label) WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL "
            "SELECT i + 1 FROM c WHERE i < 3000) SELECT i, vector('[' || (i % 7) || ', 1, 2, 3, 4, 5, 6, "
            "' || (i % 11) || ']'), 'l' || (i % 3) FROM c"
        )
        db.create_training_snapshot("base")


def start(path: Path, how: str, where: str) -> subprocess.Popen:
    """A child stopped at ``where`` of its export (it has printed "stopped")."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), how, where],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if line != "stopped\n":
        proc.kill()
        pytest.fail(f"the child did not reach {where!r}: {proc.stderr.read()}")
    return proc


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    proc.stdout.close()
    proc.stderr.close()


def names(root: Path) -> set[str]:
    return {p.name for p in root.iterdir()}


@pytest.mark.parametrize("how", ["tag", "export"])
def test_a_killed_exports_work_folder_goes_at_the_next_open(tmp_path, how):
    path = tmp_path / "t.db"
    build(path)
    root = Path(f"{path}.exports")
    before = names(root)
    proc = start(path, how, "writing")
    work = [n for n in names(root) - before if n.startswith(WORK_PREFIX)]
    assert len(work) == 1 and (root / work[0] / "stage").is_dir()  # staging files too
    kill(proc)
    assert (root / work[0]).exists()  # what the kill left
    with galaxlite.Database(path) as db:
        assert names(root) == before
        assert [t.name for t in db.tags()] == ["base"] and len(db.exports()) == 1
        assert db.check() == [] and all(v.ok for v in db.verify_export())


@pytest.mark.parametrize("how", ["tag", "export"])
def test_a_kill_between_the_rename_and_the_commit_leaves_nothing_after_the_next_open(tmp_path, how):
    path = tmp_path / "t.db"
    build(path)
    root = Path(f"{path}.exports")
    before = names(root)
    proc = start(path, how, "recording")
    made = names(root) - before
    finished = [n for n in made if not n.startswith(".")]
    assert len(made) == 2 and len(finished) == 1 and (root / finished[0] / "t.lance").is_dir()
    kill(proc)
    with galaxlite.Database(path) as db:
        assert names(root) == before  # the finished folder no catalog row names went too
        assert len(db.exports()) == 1 and db.check() == []
        # and the same export runs again, whole
        if how == "tag":
            db.create_training_snapshot("t", seed=5, precision="sq8")
        else:
            db.export_training("base", precision="rabitq4", seed=5)
        assert len(db.exports()) == 2 and all(v.ok for v in db.verify_export())
        assert not [n for n in names(root) if n.startswith(".")]


def test_a_live_export_of_another_process_is_left_alone(tmp_path):
    path = tmp_path / "t.db"
    build(path)
    root = Path(f"{path}.exports")
    before = names(root)
    proc = start(path, "export", "recording")
    live = names(root) - before
    try:
        with galaxlite.Database(path) as db:  # a writer opens the database meanwhile
            assert names(root) - before == live
            assert db.session.clean_exports() == []
            assert names(root) - before == live
    finally:
        kill(proc)
    with galaxlite.Database(path):
        assert names(root) == before
