"""The ``galaxlite`` command line (click), its interactive shell and its demo.

    galaxlite DB "SQL"                      run SQL (the default command: ``query``)
    galaxlite query DB "SQL" --format csv   ... as table, csv, json or jsonl
    galaxlite shell DB                      interactive shell
    galaxlite tags | info | snapshots | lineage | export | verify | browse | demo

Errors print one line, ``galaxlite: error: <message>``, on stderr and exit non-zero
(1; 2 for a usage error); ``--debug`` adds the traceback. This module is that promise: ``main``
(the console script ``galaxlite``, and ``python -m galaxlite.cli``) runs the click group and
turns whatever it raises into the line and an exit code.

The package is a thin skin over the public API of ``galaxlite`` (``Database``'s public methods
and the ``galaxlite.*`` functions). Its modules import in one direction:

    galaxlite.cli.output     what is printed: result sets, catalog listings, ``galaxlite info``
    galaxlite.cli.running    opening a database, running a script, Ctrl-C     (imports output)
    galaxlite.cli.shell      ``galaxlite shell``: the read-eval-print loop (imports output, running)
    galaxlite.cli.narration  the demo's narrator: steps, SQL, results           (imports output)
    galaxlite.cli.demo_history, galaxlite.cli.demo   ``galaxlite demo``: the narrated tour
                                                                 (import narration, output)
    galaxlite.cli.commands   the click group, its options and commands  (imports those above)
    galaxlite.cli.exporting, galaxlite.cli.maintenance, galaxlite.cli.history,
    galaxlite.cli.browse     more commands                                  (import commands)
    galaxlite.cli            the entry point                                 (imports commands)
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence

import click

from galaxlite import errors
from galaxlite.cli import browse, exporting, history, maintenance  # noqa: F401 - add their commands to the group
from galaxlite.cli.commands import STATE, cli

__all__ = ["cli", "main", "run"]


def _one_line(message: str) -> str:
    return " ".join(message.split())


def fail(message: str, code: int = 1) -> int:
    """Print the one-line error; return the exit code."""
    click.echo(f"galaxlite: error: {_one_line(message)}", err=True)
    return code


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point: run the CLI, turn every error into one line and an exit code."""
    sys.exit(run(list(sys.argv[1:] if argv is None else argv)))


def run(argv: list[str]) -> int:
    """Run the CLI on ``argv``; returns the exit code."""
    try:
        result = cli.main(args=argv, prog_name="galaxlite", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.format_message() if hasattr(exc, "format_message") else str(exc))
        return 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        return fail("aborted", 130)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        return fail(exc.format_message() + hint, exc.exit_code)
    except click.ClickException as exc:
        return fail(exc.format_message(), exc.exit_code)
    except (errors.Error, errors.Warning) as exc:
        _traceback()
        return fail(str(exc))
    except BrokenPipeError:
        _silence_stdout()
        return 1
    except KeyboardInterrupt:
        _traceback()
        return fail("interrupted", 130)
    except OSError as exc:
        _traceback()
        return fail(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
    except Exception as exc:  # noqa: BLE001 - the CLI's promise: one line, no traceback
        _traceback()
        return fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug for details)")


def _traceback() -> None:
    if STATE.debug:
        traceback.print_exc()


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so that flushing at exit is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
