"""Progress bars on a terminal; silence in CI or when output is piped."""

from __future__ import annotations

import os
import sys
from contextlib import AbstractContextManager, contextmanager
from typing import Callable, Iterator

Progress = Callable[..., AbstractContextManager[Callable[[int], None]]]
"""``progress(description, total=None, unit="records")`` gives a context whose value is ``advance(count)``
(``record_progress``, or ``quiet``)."""


def interactive() -> bool:
    """True when a person is watching: stderr is a terminal and no CI variable is set."""
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def quiet(description: str, total: int | None = None, unit: str = "records") -> Iterator[Callable[[int], None]]:
    """A ``Progress`` that shows nothing."""
    yield lambda count: None


@contextmanager
def record_progress(description: str, total: int | None = None,
                    unit: str = "records") -> Iterator[Callable[[int], None]]:
    """Yield a callback ``advance(count)`` that drives a rich progress bar, or does nothing when quiet.

    With ``total`` (the ``unit``s expected; an estimate will do) the bar shows how far, the rate and an ETA."""
    if not interactive():
        yield lambda count: None
        return
    from rich.console import Console
    from rich.progress import (BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed:,} " + unit)]
    if total:
        columns[3:] = [TaskProgressColumn(), TextColumn("{task.completed:,} of ~{task.total:,.0f} " + unit),
                       TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    else:
        columns.append(TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=total or None)

        def advance(count: int) -> None:
            progress.advance(task, count)
            state = progress.tasks[0]
            if state.total is not None and state.completed > state.total:  # an estimate ran short
                progress.update(task, total=state.completed)

        yield advance
