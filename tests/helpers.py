"""Helpers shared by several test modules (test modules never import each other).

* ``gl``, ``ok``, ``one_line_error`` — the ``galaxlite`` command line as a real subprocess
  (``python -m galaxlite.cli ARGS``), and what its success and its one-line errors look like.
* ``SEED_SCRIPT`` — the dataset-snapshot seed example (seeds/003): five versions of snapshot
  ``m0`` built over table ``test_data``.

``tests/`` is on ``sys.path`` (pytest's rootdir-relative import mode, as for ``sqllogic``), so a
test module imports these with ``from helpers import ...``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def gl(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m galaxlite.cli ARGS`` and capture what it prints."""
    env = {k: v for k, v in os.environ.items() if k != "GALAXLITE_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "galaxlite.cli", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def ok(*args: str, **kwargs) -> str:
    """stdout of a command that must succeed with nothing on stderr."""
    proc = gl(*args, **kwargs)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return proc.stdout


def one_line_error(proc: subprocess.CompletedProcess, code: int = 1) -> str:
    """The message of a failed command: exit ``code``, one line on stderr, no traceback."""
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("galaxlite: error: ")
    return lines[0].removeprefix("galaxlite: error: ")


# The seed example of dataset snapshots (seeds/003), as written there.
SEED_SCRIPT = """
CREATE SNAPSHOT m0 AS SELECT a1, a3, a6, a8, a2, pk, a1 b9, a7, a5 FROM test_data;
CREATE SNAPSHOT m0 FROM @1.0.0 USING ( UPDATE SNAPSHOT SET a1 = 5 WHERE pk % 10 = 0; ALTER SNAPSHOT
ADD " u+ " INTEGER, ADD "x <> y"INT DEFAULT 2, ADD t CHAR(10) DEFAULT '', DROP a2, DROP COLUMN IF
EXISTS b9, DROP COLUMN IF EXISTS b10; UPDATE SNAPSHOT SET "x <> y" = 8 WHERE pk < 100; ALTER SNAPSHOT
DROP " u+ ", DROP IF EXISTS " x+ "; DELETE FROM SNAPSHOT WHERE pk = 3 );
CREATE SNAPSHOT m0 FROM @2.0.0 USING ( UPDATE SNAPSHOT AS i SET a5 = o.a2 FROM test_data o WHERE
i.pk = o.pk AND o.a3 % 8 = 0 );
CREATE SNAPSHOT m0 FROM @2.0.1 USING ( DELETE FROM SNAPSHOT USING test_data o WHERE SNAPSHOT.pk =
o.pk AND o.A7 % 2 = 0 );
CREATE SNAPSHOT m0 FROM @2.1.0 USING ( INSERT INTO SNAPSHOT SELECT a1, a3, a6, a8, a2, pk+1000 pk,
a7, a5, a4 FROM test_data WHERE pk % 10 = 4 );
"""
