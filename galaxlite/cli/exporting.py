"""Commands on a database's training exports: ``galaxlite export``, ``galaxlite exports`` and
``galaxlite verify``.

Each takes ``--exports LOCATION`` and ``--storage-option KEY=VALUE`` (``commands.exports_options``):
the exports of a database opened in Python with ``Database(path, exports=..., storage_options=...)``
are found where that program put them. They add themselves to the click group of
``galaxlite.cli.commands`` (imported for it by ``galaxlite.cli``), as any command module would.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from galaxlite import transpile
from galaxlite.cli.commands import (
    EXISTING_DB,
    cli,
    debug_option,
    exports_options,
    listing_command,
    open_db,
)
from galaxlite.cli.output import export_rows, table_lines

MAX_SEED = 2**64 - 1


@cli.command()
@click.argument("db", type=EXISTING_DB)
@click.argument("tag", required=False)
@click.option("--tag", "existing", metavar="NAME",
              help="Export existing version tag NAME, with the data it had, instead of creating TAG.")
@click.option("--precision", type=click.Choice(transpile.PRECISIONS), default="float32",
              show_default=True,
              help="How vectors are stored in the exported datasets.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED),
              help="Shuffle the rows with this seed (default: primary-key order).")
@exports_options
@debug_option
def export(db: str, tag: str | None, existing: str | None, precision: str, seed: int | None) -> None:
    """Create training tag TAG and export every versioned table as a Lance dataset, or with
    --tag NAME export existing tag NAME (exactly the data an export at tag time would have
    had, beside the tag's other exports).

    TAG is the same as `CREATE VERSION TAG 'TAG' FOR TRAINING WITH TRAINING PRECISION 'P'
    TRAINING SEED n`. The datasets go to the database's exports folder (DB/exports for a
    directory database, DB.exports for a file; --exports LOCATION: that folder or object store
    URI instead), one folder per export; a progress bar shows on
    standard error and the datasets are listed on standard output. All or nothing: after an
    error there is no new tag and no folder.

    \b
    Examples:
      galaxlite export ./data train-v1
      galaxlite export ./data train-v1-sq8 --precision sq8 --seed 42
      galaxlite export ./data --tag train-v1 --precision rabitq4
      galaxlite export ./data train-v2 --exports s3://bucket/runs --storage-option aws_region=eu-west-1
    """
    if (tag is None) == (existing is None):
        raise click.UsageError("give TAG (a new training tag) or --tag NAME (an existing tag), one of the two")
    name = tag if existing is None else existing
    if not name:
        raise click.BadParameter("a tag name must not be empty", param_hint="TAG")
    bar = ExportProgress(f"exporting tag {name!r} ({precision})")
    with open_db(db) as database:
        try:
            if existing is None:
                version = database.create_training_snapshot(name, seed=seed, precision=precision, progress=bar.update)
                done = [e for e in database.exports(name) if e.version == version]
            else:
                done = database.export_training(name, precision=precision, seed=seed, progress=bar.update)
                version = database.tag_version(name)
        finally:
            bar.close()
        order = "primary-key order" if seed is None else f"shuffled with seed {seed}"
        folder = f" to {os.path.dirname(done[0].path)}" if done else ""  # (a folder or a URI)
        click.echo(
            f"tag {name!r} = version {version}: {len(done)} table{'' if len(done) == 1 else 's'} "
            f"exported ({precision}, {order}){folder}"
        )
        if done:
            rows = [(e.table, e.rows, Path(e.path).name) for e in done]
            for line in table_lines(["table", "rows", "dataset"], rows):
                click.echo(line)


class ExportProgress:
    """A click progress bar on stderr, fed by ``create_training_snapshot(progress=...)``; made
    at the first report, when the total is known (only its label shows when stderr is not a
    terminal)."""

    def __init__(self, label: str):
        self.label = label
        self.bar = None
        self.shown = 0

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr,
                                         show_pos=True, show_eta=True)
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@listing_command(lambda database: export_rows(database, full=True), exports=True)
def exports() -> None:
    """List the training exports of database DB (one Lance dataset per table), oldest first.

    \b
    Example:
      galaxlite exports shop.db
      galaxlite exports shop.db --format json
      galaxlite exports ./data --exports /mnt/exports
    """


@cli.command()
@click.argument("db", type=EXISTING_DB)
@click.argument("tag", required=False)
@exports_options
@debug_option
def verify(db: str, tag: str | None) -> None:
    """Recompute the content hash of every training export of DB (of tag TAG) from its files,
    at the Lance version it was written as, and compare it with the catalog's. One line per
    dataset; exit status 1 if any changed or is missing.

    \b
    Example:
      galaxlite verify shop.db
      galaxlite verify shop.db train-v1
      galaxlite verify ./data --exports /mnt/exports
    """
    with open_db(db) as database:
        results = database.verify_export(tag)
    for r in results:
        click.echo(f"{r.status}: {r.export.tag}/{r.export.table} ({r.export.precision}) "
                   f"{r.export.path}: {r.detail}")
    bad = [r for r in results if not r.ok]
    if bad:
        click.echo(f"{len(bad)} of {len(results)} export dataset(s) changed or missing", err=True)
        sys.exit(1)
    click.echo(f"ok: {len(results)} export dataset(s) intact")
