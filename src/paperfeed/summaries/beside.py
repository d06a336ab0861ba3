"""The extractive TL;DRs of a large change computed in a second process, beside the author identity refresh.

After a whole-arXiv bootstrap both steps take minutes (about 20 and 9 at 2.7 million papers on the 2-core
machine), each on one core: the refresh in this process, the TL;DRs (pure Python over each abstract) in a child
interpreter with its own connection to the store, so the second core does them at the same time. The child reads
the papers, computes and writes their TL;DRs in batches (``service.extractive_step``), exactly what this process
would have done; the store's writers take turns (SQLite: one write transaction at a time, each short; PostgreSQL:
other tables than the refresh's).

Talk: the job (store URL, item ids) goes in on the child's stdin, length first; the child answers on its stdout a
line per batch (``advance N``, for this process's progress bar) and last ``written N``. It ignores Ctrl-C (this
process answers it and kills the child: a batch being written is rolled back, the ones before stay, as in one
process), and it ends itself when its stdin closes, so a killed parent leaves nothing running. Whatever makes the
child fail (it could not start, open the store, or died) is logged and the caller runs the step itself: only the
papers whose TL;DR is still missing or stale are done again.
"""

from __future__ import annotations

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
from contextlib import contextmanager
from typing import Callable, Iterator

from ..children import can_start, start_python
from ..progress import Progress, quiet
from ..storage import Store, open_store
from .service import extractive_step

log = logging.getLogger("paperfeed.summaries")

BESIDE_MIN_ITEMS = 20_000
"""Fewer changed papers than this are done in this process: at about 0.2 ms a paper they take a few seconds, and
starting an interpreter that imports the store costs about half a second."""
_LENGTH = struct.Struct("<Q")


class TldrsBeside:
    """The extractive TL;DRs of ``item_ids`` being written by a child process (``start``); ``wait`` for them."""

    def __init__(self, store_url: str, item_ids: list[int], progress: Progress) -> None:
        self.started = time.perf_counter()
        self._errors = tempfile.TemporaryFile()
        self._process = start_python("from paperfeed.summaries.beside import work; work()", stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._errors)
        self._job = pickle.dumps((store_url, array("q", item_ids).tobytes()), protocol=pickle.HIGHEST_PROTOCOL)
        self._total = len(item_ids)
        self._progress = progress
        self.written: int | None = None
        # The job is sent and the answers read by a thread: sending 2.7 million ids waits on the child's start, and
        # this process has the identity refresh to do meanwhile (the thread mostly waits on the pipe, without the GIL).
        self._talking = threading.Thread(target=self._talk, name="tldrs-beside", daemon=True)
        self._talking.start()

    @classmethod
    def start(cls, store: Store, item_ids: list[int], progress: Progress | None = None) -> "TldrsBeside | None":
        """A started child, or None where none can be started (the caller then runs the step itself)."""
        if not can_start():
            return None
        try:
            return cls(store.url, item_ids, progress or quiet)
        except OSError as error:
            log.info("TL;DRs in this process: no second one (%s)", error)
            return None

    def _talk(self) -> None:
        try:
            self._process.stdin.write(_LENGTH.pack(len(self._job)) + self._job)
            self._process.stdin.flush()
        except OSError:  # the child ended before reading its job: wait() reports it
            return
        with self._progress("TL;DRs", self._total, unit="papers") as advance:
            try:
                for line in self._process.stdout:
                    word, _, count = line.decode().partition(" ")
                    if word == "advance":
                        advance(int(count))
                    elif word == "written":
                        self.written = int(count)
            except (OSError, ValueError):  # closed under it (close() after a failure): wait() reports it
                return

    def wait(self) -> int | None:
        """How many TL;DRs the child wrote, once it is done; None when it failed (the reason is logged)."""
        self._talking.join()
        status = self._process.wait()
        self._errors.seek(0)
        lines = self._errors.read().decode(errors="replace").strip().splitlines()
        self.close()
        if status == 0 and self.written is not None:
            return self.written
        log.warning("TL;DRs beside the identities failed (exit status %s): %s", status,
                    lines[-1] if lines else "no message")
        return None

    def close(self) -> None:
        """End the child at once if it still runs (Ctrl-C, an error in this process); safe to call twice."""
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


def work() -> None:
    """The child: read the job from stdin, write the TL;DRs, report on stdout (see the module's docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    length = _LENGTH.unpack(_read_exactly(0, _LENGTH.size))[0]
    store_url, packed = pickle.loads(_read_exactly(0, length))
    item_ids = array("q")
    item_ids.frombytes(packed)
    threading.Thread(target=_end_with_parent, daemon=True).start()
    answers = os.fdopen(1, "w", buffering=1)
    with open_store(store_url, migrate=False) as store:
        written = extractive_step(store, item_ids.tolist(), progress=_lines_to(answers))
    answers.write(f"written {written}\n")
    answers.flush()


def _lines_to(answers) -> Progress:
    @contextmanager
    def progress(description: str, total: int | None = None, unit: str = "records") -> Iterator[Callable[[int], None]]:
        yield lambda count: answers.write(f"advance {count}\n")

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
