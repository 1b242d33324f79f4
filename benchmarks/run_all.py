"""Run every benchmarks/bench_*.py script, one after another, each in its own process.

Usage:
    python benchmarks/run_all.py [--quick] [--only NAME[,NAME...]]

``make bench`` calls this. Each script prints its own table; this prints a header before
each and the wall time after. ``--quick`` is passed on to the scripts that take it (smaller
sizes, for a smoke run). The exit status is non-zero if any script failed (crashed); goals
that are missed are reported in the tables, not by the exit status. Not a test.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts(only: list[str] | None) -> list[Path]:
    """The bench_*.py scripts, in name order (``only``: those whose name contains one of these)."""
    found = sorted(HERE.glob("bench_*.py"))
    if only:
        found = [p for p in found if any(o in p.stem for o in only)]
    return found


def takes_quick(script: Path) -> bool:
    """Does ``script`` accept --quick? (Those built on common.py do; others may not.)"""
    text = script.read_text(encoding="utf-8")
    return '"--quick"' in text or "C.parser(" in text


def run(script: Path, quick: bool) -> int:
    """Run one script with this Python, its output going straight to ours; its exit code."""
    cmd = [sys.executable, str(script)]
    if quick and takes_quick(script):
        cmd.append("--quick")
    print(f"\n{'=' * 78}\n== {script.name} {' '.join(cmd[2:])}\n{'=' * 78}", flush=True)
    t0 = time.perf_counter()
    code = subprocess.run(cmd, cwd=HERE.parent, check=False).returncode
    status = "ok" if code == 0 else f"FAILED (exit {code})"
    print(f"-- {script.name}: {status}, {time.perf_counter() - t0:.0f} s", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    ap.add_argument("--only", default=None, help="comma-separated parts of script names")
    args = ap.parse_args(argv)
    only = [o.strip() for o in args.only.split(",")] if args.only else None
    failed = [s.name for s in scripts(only) if run(s, args.quick) != 0]
    if failed:
        print(f"\nfailed: {', '.join(failed)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
