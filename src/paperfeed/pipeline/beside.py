"""After a large load, the embeddings and the extractive TL;DRs in a second process, beside the identity refresh.

After a whole-arXiv bootstrap the steps that follow the keyword index take many minutes each on one core: the
author identities (about 30 at 2.7 million papers on the 2-core machine), the TL;DRs (about 9), the embeddings
(400,000 took 2 minutes). In one process they ran one after the other, with the second core mostly idle and
semantic search waiting for all of them. Now the first process decides the identities while a child interpreter
(``python -c``) with its own connection to the store embeds the changed items (the same indexer, its own bars) and
then writes their TL;DRs (``summaries.service.extractive_step``): semantic search catches up while the identities
are decided. The store's writers take turns (SQLite: one short write transaction at a time; PostgreSQL: other
rows); the vector index has one writer, the child, and the first process indexes nothing meanwhile.

Talk: the job (store URL, settings, item ids, steps) goes in on the child's stdin, length first; the child answers
on stdout a line per bar event (``open``, ``advance``, ``close``: this process draws the bars) and last ``result``
with what it did (the index report, errors, the TL;DRs written), pickled. A step that fails in the child (an
embedder that cannot load) is reported as it would be in one process. Ctrl-C reaches both processes (one
terminal process group): the child stops as one process would (the vectors embedded so far are saved) and this
one waits ``STOP_SECONDS`` for it, then kills it. The child ends itself when its stdin closes, so a killed parent
leaves nothing running. A child that could not start or died is logged and the caller runs the steps itself: only
what is still missing is done again.
"""

from __future__ import annotations

import base64
import itertools
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator

from ..children import can_start, start_python
from ..config import Settings
from ..progress import Progress, quiet
from ..storage import Store, open_store

if TYPE_CHECKING:
    from ..search import IndexReport

log = logging.getLogger("paperfeed.pipeline")

BESIDE_MIN_ITEMS = 20_000
"""Fewer changed papers than this are done in order, in this process: their steps take seconds, and starting an
interpreter that imports the store (and the embedder) costs about a second."""
STOP_SECONDS = 30.0
"""How long this process waits after Ctrl-C for the child to save the vectors it embedded, before killing it."""
_LENGTH = struct.Struct("<Q")


@dataclass(slots=True)
class BesideResult:
    """What the child did: as the same steps would have left a ``PipelineReport`` in one process."""

    index: "IndexReport | None" = None
    tldr: int | None = None
    errors: dict[str, str] = field(default_factory=dict)


class StepsBeside:
    """``steps`` ("vectors", then "tldr") for ``item_ids`` being done by a child process (``start``); ``wait``."""

    def __init__(self, store_url: str, settings: Settings, item_ids: list[int], steps: tuple[str, ...],
                 progress: Progress) -> None:
        self.steps = steps
        self.started = time.perf_counter()
        self._errors = tempfile.TemporaryFile()
        self._process = start_python("from paperfeed.pipeline.beside import work; work()", stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._errors)
        self._job = pickle.dumps((store_url, settings, array("q", item_ids).tobytes(), steps),
                                 protocol=pickle.HIGHEST_PROTOCOL)
        self._progress = progress
        self.result: BesideResult | None = None
        # The job is sent and the answers read by a thread: sending 2.7 million ids waits on the child's start, and
        # this process has the identity refresh to do meanwhile (the thread mostly waits on the pipe, without the GIL).
        self._talking = threading.Thread(target=self._talk, name="steps-beside", daemon=True)
        self._talking.start()

    @classmethod
    def start(cls, store: Store, settings: Settings, item_ids: list[int], steps: tuple[str, ...],
              progress: Progress | None = None) -> "StepsBeside | None":
        """A started child, or None where none can be started (the caller then runs the steps itself)."""
        if not can_start():
            return None
        try:
            return cls(store.url, settings, item_ids, steps, progress or quiet)
        except OSError as error:
            log.info("steps after the ingest in this process: no second one (%s)", error)
            return None

    def _talk(self) -> None:
        try:
            self._process.stdin.write(_LENGTH.pack(len(self._job)) + self._job)
            self._process.stdin.flush()
        except OSError:  # the child ended before reading its job: wait() reports it
            return
        with ExitStack() as bars:
            shown: dict[str, Callable[[int], None]] = {}
            closers: dict[str, ExitStack] = {}
            try:
                for line in self._process.stdout:
                    word, _, rest = line.decode().rstrip("\n").partition(" ")
                    if word == "advance":
                        number, _, count = rest.partition(" ")
                        if number in shown:
                            shown[number](int(count))
                    elif word == "open":
                        number, total, unit, description = rest.split(" ", 3)
                        closers[number] = bars.enter_context(ExitStack())
                        shown[number] = closers[number].enter_context(
                            self._progress(description, None if total == "-" else int(total), unit=unit))
                    elif word == "close" and rest in closers:
                        closers.pop(rest).close()
                        shown.pop(rest, None)
                    elif word == "result":
                        self.result = pickle.loads(base64.b64decode(rest))
            except (OSError, ValueError):  # closed under it (close() after a failure): wait() reports it
                return

    def wait(self) -> BesideResult | None:
        """What the child did, once it is done; None when it failed (the reason is logged)."""
        self._talking.join()
        status = self._process.wait()
        self._errors.seek(0)
        lines = self._errors.read().decode(errors="replace").strip().splitlines()
        self.close()
        if status == 0 and self.result is not None:
            return self.result
        log.warning("the steps beside the identities failed (exit status %s): %s", status,
                    lines[-1] if lines else "no message")
        return None

    def close(self, interrupted: bool = False) -> None:
        """End the child if it still runs; after Ctrl-C (``interrupted``) give it ``STOP_SECONDS`` to stop as one
        process would. Safe to call twice."""
        if self._process.poll() is None:
            if interrupted:
                self._process.send_signal(signal.SIGINT)  # harmless if the terminal's Ctrl-C reached it already
                try:
                    self._process.wait(timeout=STOP_SECONDS)
                except subprocess.TimeoutExpired:
                    pass
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()
        self._talking.join(timeout=5)  # the child's end closed its stdout: the thread has read to the end
        for stream in (self._process.stdin, self._process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._errors.close()


# -- the child ----------------------------------------------------------------------------------------------------

def work() -> None:
    """The child: read the job from stdin, run its steps, report on stdout (see the module's docstring)."""
    signal.signal(signal.SIGINT, _interrupt_once)
    length = _LENGTH.unpack(_read_exactly(0, _LENGTH.size))[0]
    store_url, settings, packed, steps = pickle.loads(_read_exactly(0, length))
    item_ids = array("q")
    item_ids.frombytes(packed)
    threading.Thread(target=_end_with_parent, daemon=True).start()
    answers = os.fdopen(1, "w", buffering=1)
    progress = _lines_to(answers)
    result = BesideResult()
    from . import PipelineReport, _index

    with open_store(store_url, migrate=False) as store:
        if "vectors" in steps:
            report = PipelineReport()
            _index(store, settings, report, vectors=True, rebuild=False, progress=progress)
            result.index, result.errors = report.index, report.errors
        if "tldr" in steps:
            from ..summaries.service import extractive_step

            result.tldr = extractive_step(store, item_ids.tolist(), progress=progress)
    answers.write("result " + base64.b64encode(pickle.dumps(result)).decode() + "\n")
    answers.flush()


def _interrupt_once(number, frame) -> None:
    # Ctrl-C reaches this process from the terminal and from the parent: the first stops the step under way (which
    # saves what it has, as in one process); a second must not cut that save short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _lines_to(answers) -> Progress:
    numbers = itertools.count(1)

    @contextmanager
    def progress(description: str, total: int | None = None, unit: str = "records") -> Iterator[Callable[[int], None]]:
        number = next(numbers)
        answers.write(f"open {number} {total if total else '-'} {unit} {description}\n")
        try:
            yield lambda count: answers.write(f"advance {number} {count}\n")
        finally:
            answers.write(f"close {number}\n")

    return progress


def _read_exactly(descriptor: int, size: int) -> bytes:
    parts, left = [], size
    while left:
        part = os.read(descriptor, min(left, 1 << 20))
        if not part:
            sys.exit("the job ended early: the parent process is gone")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _end_with_parent() -> None:
    # The parent keeps our stdin open until it has our answer: end of file means it is gone (killed), so stop too.
    while os.read(0, 1 << 16):
        pass
    os._exit(1)
