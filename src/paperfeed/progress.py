"""Progress bars on a terminal; silence in CI or when output is piped."""

from __future__ import annotations

import os
import sys
import threading
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Callable, Iterator

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

    With ``total`` (the ``unit``s expected; an estimate will do) the bar shows how far, the rate and an ETA.
    Bars open at the same time (two steps running side by side, from any thread) share one display, a line each:
    rich allows one live display per console."""
    if not interactive():
        yield lambda count: None
        return
    display, task = _Display.open(description, total, unit)
    try:
        def advance(count: int) -> None:
            display.progress.advance(task, count)
            state = next(shown for shown in display.progress.tasks if shown.id == task)
            if state.total is not None and state.completed > state.total:  # an estimate ran short
                display.progress.update(task, total=state.completed)

        yield advance
    finally:
        display.close(task)


class _Display:
    """The one rich display of the bars open now; started with the first, stopped with the last."""

    _current: "_Display | None" = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import Progress

        self.progress = Progress(*_columns(), console=Console(stderr=True), transient=True)

    @classmethod
    def open(cls, description: str, total: int | None, unit: str) -> "tuple[_Display, Any]":
        with cls._lock:
            display = cls._current
            if display is None:
                display = cls._current = cls()
                display.progress.start()
            return display, display.progress.add_task(description, total=total or None, unit=unit)

    def close(self, task: Any) -> None:
        with self._lock:
            self.progress.remove_task(task)
            if not self.progress.tasks:
                self.progress.stop()
                type(self)._current = None


def _columns() -> list:
    """Spinner, description, bar, amount (``37% 12,304 of ~33,000 names`` with a total, which may be an estimate;
    ``12,304 names`` without), elapsed time and, with a total, ``ETA 0:01:02``. rich is imported here, when a bar
    is first shown, not with this module."""
    from rich.progress import (BarColumn, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)
    from rich.text import Text

    class Amount(ProgressColumn):
        def render(self, task) -> Text:
            unit = task.fields.get("unit", "records")
            if task.total is None:
                return Text(f"{task.completed:,.0f} {unit}")
            return Text(f"{task.percentage:>3.0f}% {task.completed:,.0f} of ~{task.total:,.0f} {unit}")

    class Remaining(TimeRemainingColumn):
        def render(self, task) -> Text:
            return Text("") if task.total is None else Text("ETA ") + super().render(task)

    return [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), Amount(), TimeElapsedColumn(),
            Remaining()]
