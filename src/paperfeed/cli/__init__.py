"""The ``paperfeed`` command: parses flags, calls the library, turns domain errors into one clear line.

Exit status: 0 ok; 1 some inputs failed (the rest were stored); 2 usage error.

The root group lives here and adds the commands of one module per command group; those modules share
``common`` and never import this package's root.
"""

from __future__ import annotations

import click

from ..config import Settings, SettingsError, describe
from . import admin, daily, digest, items, library, search, summaries, sync, topics, web
from .common import fail


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="URL", help=describe()[0][2] + " [env: PAPERFEED_DB]")
@click.version_option(package_name="paperfeed")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """paperfeed: one local store for papers and news from every source, merged with provenance."""
    try:
        ctx.obj = Settings.load(db=db)
    except SettingsError as error:
        fail(str(error), 2)


for _command in (
    items.init, items.ingest, items.export, items.show, items.stats, items.formats, items.split, items.merge_command,
    sync.sync, sync.sources,
    search.search, search.similar, search.index,
    topics.topics, topics.authors,
    web.serve,
    daily.daily, library.users, library.library, daily.vote, daily.submit, library.recommend, digest.digest,
    admin.migrate, admin.copy_command, summaries.tldr,
):
    cli.add_command(_command)
del _command


def main() -> None:
    """Entry point of the console script and ``python -m paperfeed``."""
    cli(prog_name="paperfeed")


__all__ = ["cli", "main"]
