"""Progress bars on a terminal; silence in CI or when output is piped."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Callable, Iterator


def interactive() -> bool:
    """True when a person is watching: stderr is a terminal and no CI variable is set."""
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def record_progress(description: str, total_bytes: int | None = None) -> Iterator[Callable[[int], None]]:
    """Yield a callback ``advance(records)`` that drives a rich progress bar, or does nothing when quiet."""
    if not interactive():
        yield lambda count: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed:,} records"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=None)
        yield lambda count: progress.advance(task, count)
