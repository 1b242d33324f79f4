"""``galaxlite shell DB``: an interactive SQL shell.

Statements may span lines and end with ``;`` (the front end's statement splitter decides
when one is complete, so a ``;`` inside a string, a comment or a trigger body does not end
it). Lines starting with ``.`` at the start of a statement are meta commands (``.help``).
History is kept with readline in ``~/.galaxlite_history`` (or ``$GALAXLITE_HISTORY``).
When standard input is not a terminal, the shell runs what it reads, without prompts, and
exits with status 1 if any statement failed or the input left a transaction open (which is
rolled back); an error's position then counts from the start of the input. Ctrl-C stops a
running statement and returns to the prompt (``galaxlite.cli.running``).

Each meta command is a ``cmd_*`` method of ``Shell`` listed in its dispatch table; the first
line of the method's docstring, ``USAGE: SUMMARY``, is its line in ``.help`` (as apsw's shell
derives its help from its ``command_*`` docstrings), so the help cannot forget a command.
What a statement prints comes from ``galaxlite.cli.output``, shared with ``galaxlite query``.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from galaxlite import Database, errors, transpile
from galaxlite.cli.output import FORMATS, snapshot_rows, table_lines, tag_rows
from galaxlite.cli.running import OPEN_TRANSACTION, Interrupted, run_sql

PROMPT = "galaxlite> "
CONTINUE = "     ...> "
HISTORY_LENGTH = 2000
_SENTINEL = "galaxlite_statement_end"

HELP_INTRO = "Enter SQL statements ending with ';' (they may span lines). Meta commands:"
HELP_EXAMPLES = """\
Examples:
  SELECT count(*) FROM docs AT VERSION 'v1';
  CREATE VERSION TAG 'v2';"""
USAGE_WIDTH = 18  # the summaries of .help start in one column, after at least two spaces


def is_complete(text: str, dialect: str = "sqlite") -> bool:
    """Does ``text`` end with a complete statement (a top-level ``;``)?

    A word appended after ``text`` is a statement of its own exactly when every statement of
    ``text`` is terminated; inside a string, a comment or a trigger body it is swallowed.
    """
    if not text.strip():
        return False
    try:
        parts = transpile.split(f"{text}\n{_SENTINEL}", dialect)
    except transpile.TranspileError:
        return False  # an unterminated string or identifier: more lines to come
    return len(parts) > 1 and parts[-1] == _SENTINEL


def user_objects_sql(db: Database, table: str | None) -> list[str]:
    """CREATE statements of the user's schema objects (galaxlite's own are left out)."""
    sql = (
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL "
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_gl\\_%' ESCAPE '\\' "
        "AND name NOT LIKE 'galaxlite\\_%' ESCAPE '\\' "
        "AND tbl_name NOT LIKE '\\_gl\\_%' ESCAPE '\\' AND tbl_name NOT LIKE 'galaxlite\\_%' ESCAPE '\\' "
        "AND tbl_name <> 'db4ai_snapshot'"
    )
    params: tuple = ()
    if table is not None:
        sql += " AND tbl_name = ? COLLATE NOCASE"
        params = (table,)
    sql += " ORDER BY tbl_name, type DESC, name"
    return [s for (s,) in db.query(sql, params)]


class Shell:
    """The read-eval-print loop over one open ``Database``."""

    def __init__(
        self,
        db: Database,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ):
        self.db = db
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.mode = "table"
        self.failed = False
        self.interactive = self.stdin.isatty() and self.stdout.isatty()
        # the input read so far (not interactive: error positions count from its start)
        self.lines: list[str] = []
        self.read_chars = 0
        self._readline = None
        # in the order of .help; names of one method are aliases, shown on one line
        self.meta: dict[str, Callable[[list[str]], bool]] = {
            ".tables": self.cmd_tables,
            ".schema": self.cmd_schema,
            ".tags": self.cmd_tags,
            ".snapshots": self.cmd_snapshots,
            ".mode": self.cmd_mode,
            ".help": self.cmd_help,
            ".quit": self.cmd_quit,
            ".exit": self.cmd_quit,
        }

    # -------------------------------------------------------------- the loop

    def run(self) -> int:
        """Read and run until end of input or ``.quit``; the exit status."""
        if self.interactive:
            # Ctrl-C cancels the statement being typed, even when whatever started the shell
            # left SIGINT ignored (a background job of a script, nohup, ...).
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self._start_history()
            self.say(f"galaxlite shell on {self.db.filename}. Type .help for help, .quit to leave.")
        buffer: list[str] = []
        start = 0  # where the statement being read starts in the input
        left_open = False
        try:
            while True:
                try:
                    line = self.read_line(CONTINUE if buffer else PROMPT)
                except KeyboardInterrupt:
                    self.stdout.write("^C\n")
                    buffer = []
                    continue
                if line is None:
                    break
                if not buffer:
                    start = self.read_chars
                self._note(line)
                if not buffer and line.strip().startswith("."):
                    if not self.run_meta(line.strip()):
                        break
                    continue
                buffer.append(line)
                text = "\n".join(buffer)
                if is_complete(text, self.db.dialect):
                    self._remember(buffer)
                    buffer = []
                    self.run_sql(text, start)
            if "\n".join(buffer).strip():  # input ended inside a statement: run what there is
                self.run_sql("\n".join(buffer), start)
        finally:
            self._save_history()
            left_open = not self.db.closed and self.db.in_transaction
            if left_open and self.interactive:
                self.say("the open transaction was rolled back (COMMIT to keep changes)")
            elif left_open:
                self.error(OPEN_TRANSACTION)
        return 1 if self.failed and not self.interactive else 0

    def _note(self, line: str) -> None:
        """Keep a line of non-interactive input, to locate errors in the whole input."""
        if not self.interactive:
            self.lines.append(line)
        self.read_chars += len(line) + 1

    def read_line(self, prompt: str) -> str | None:
        """The next line of input without its newline; None at end of input."""
        if self.interactive:
            try:
                return input(prompt)
            except EOFError:
                self.stdout.write("\n")
                return None
        line = self.stdin.readline()
        return line.rstrip("\n") if line else None

    def run_sql(self, text: str, start: int = 0) -> None:
        """Run each statement of ``text`` (which starts at ``start`` of the input); stop at
        the first error."""
        source = "\n".join(self.lines) if not self.interactive else None
        try:
            run_sql(self.db, text, self.mode, self.stdout, source, start if source else 0)
        except errors.Error as exc:
            self.error(str(exc))
        except (KeyboardInterrupt, Interrupted):
            self.error("interrupted")

    def run_meta(self, line: str) -> bool:
        """Run a meta command; False means leave the shell."""
        words = line.split()
        command = self.meta.get(words[0].lower())
        if command is None:
            self.error(f"unknown command {words[0]!r}: type .help for the list")
            return True
        try:
            return command(words[1:])
        except errors.Error as exc:
            self.error(str(exc))
            return True

    # -------------------------------------------------------------- output

    def say(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def error(self, message: str) -> None:
        self.failed = True
        self.stdout.flush()
        self.stderr.write(f"error: {' '.join(message.split())}\n")
        self.stderr.flush()

    # -------------------------------------------------------------- meta commands

    def help_text(self) -> str:
        """The text of ``.help``: one line per meta command, from its method's docstring."""
        names: dict[Callable[[list[str]], bool], list[str]] = {}
        for name, command in self.meta.items():
            names.setdefault(command, []).append(name)
        lines = [HELP_INTRO]
        for command, aliases in names.items():
            usage, _, summary = (command.__doc__ or "").strip().splitlines()[0].partition(": ")
            arguments = usage.split(maxsplit=1)[1:]
            head = " ".join([", ".join(aliases), *arguments])
            lines.append(f"  {head.ljust(USAGE_WIDTH)}  {summary}")
        return "\n".join([*lines, HELP_EXAMPLES])

    def cmd_help(self, args: list[str]) -> bool:
        """.help: this text"""
        self.say(self.help_text())
        return True

    def cmd_quit(self, args: list[str]) -> bool:
        """.quit: leave (Ctrl-D too); Ctrl-C cancels the statement being typed"""
        return False

    def cmd_tables(self, args: list[str]) -> bool:
        """.tables: list tables (versioned or plain) and views"""
        versioned = {n.lower() for n in self.db.versioned_tables()}
        snapshots = {s.name.lower() for s in self.db.snapshots()}
        rows = [
            (name, "snapshot" if name.lower() in snapshots else "view" if kind == "view"
             else "versioned" if name.lower() in versioned else "plain")
            for name, kind in self.db.query(
                "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_gl\\_%' ESCAPE '\\' "
                "AND name NOT LIKE 'galaxlite\\_%' ESCAPE '\\' AND name <> 'db4ai_snapshot' ORDER BY name"
            )
        ]
        if not rows:
            self.say("(no tables)")
            return True
        for text in table_lines(["table", "kind"], rows):
            self.say(text)
        return True

    def cmd_schema(self, args: list[str]) -> bool:
        """.schema [TABLE]: show CREATE statements (of TABLE only, if given)"""
        for sql in user_objects_sql(self.db, args[0] if args else None):
            self.say(sql + ";")
        return True

    def cmd_tags(self, args: list[str]) -> bool:
        """.tags: list version tags"""
        return self._listing(*tag_rows(self.db), "(no version tags)")

    def cmd_snapshots(self, args: list[str]) -> bool:
        """.snapshots: list dataset snapshots (CREATE SNAPSHOT ...)"""
        return self._listing(*snapshot_rows(self.db), "(no snapshots)")

    def _listing(self, columns: list[str], rows: list[tuple], empty: str) -> bool:
        """A catalog listing as a table (``empty`` when there is nothing to list)."""
        if not rows:
            self.say(empty)
            return True
        for text in table_lines(columns, rows):
            self.say(text)
        return True

    def cmd_mode(self, args: list[str]) -> bool:
        """.mode [FORMAT]: show or set the output format: table, csv, json, jsonl"""
        if not args:
            self.say(f"output format: {self.mode}")
        elif args[0].lower() in FORMATS:
            self.mode = args[0].lower()
        else:
            self.error(f"unknown format {args[0]!r}: choose one of {', '.join(FORMATS)}")
        return True

    # -------------------------------------------------------------- history

    def _history_file(self) -> Path:
        return Path(os.environ.get("GALAXLITE_HISTORY") or Path.home() / ".galaxlite_history")

    def _start_history(self) -> None:
        try:
            import readline
        except ImportError:  # a Python built without readline: no history
            return
        self._readline = readline
        readline.set_history_length(HISTORY_LENGTH)
        path = self._history_file()
        if path.is_file():
            try:
                readline.read_history_file(path)
            except OSError:
                pass

    def _remember(self, lines: list[str]) -> None:
        """Keep a multi-line statement as one history entry."""
        readline = self._readline
        if readline is None or len(lines) < 2:
            return
        n = readline.get_current_history_length()
        for _ in range(min(len(lines), n)):
            readline.remove_history_item(readline.get_current_history_length() - 1)
        readline.add_history(" ".join(line.strip() for line in lines))

    def _save_history(self) -> None:
        if self._readline is None:
            return
        try:
            self._readline.write_history_file(self._history_file())
        except OSError as exc:
            self.error(f"could not save the history: {exc}")
