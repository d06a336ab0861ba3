"""Prepare the next records in a second process while this one merges and stores.

Ingest is two halves: ``prepare`` (parse, normalize, fingerprint, identifiers, blocking keys: pure, a quarter of
a bulk load's CPU on the daily listings, two fifths on the Kaggle snapshot's schema) and the merge decisions and
writes, which need the store. On a bulk load the second half waits
on the first, one core busy and the other idle. A ``PrepareAhead`` runs the first half in a worker process, for
the file being stored (a batch at a time, a few batches ahead) and for the next files, and hands the prepared
batches back in order. Nothing else changes: the same records in the same order reach the same merge code, and a
file still commits or rolls back whole.

The worker is only started for a run that reads enough to repay starting it (``AHEAD_FROM_BYTES``). Prepared
batches travel pickled through a pipe; each message starts with its job number, so the batches of a file this
process gave up on (it failed, or the run stopped) are dropped unread. The worker ignores Ctrl-C (this process
answers it and ends the worker), holds nothing that needs saving, and ends when its pipes close: killing either
process loses nothing the store had committed.
"""

from __future__ import annotations

import io
import logging
import pickle
import queue
import select
import signal
import struct
import subprocess
import threading
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Callable, Iterable, Iterator

from .. import prepare
from ..children import can_start, start_python_piped
from ..inputs import InputError, InputFile, InputReadError, RegularFileReader
from ..prepare import FieldLimits, Prepared
from ..records import ParseContext, ParseError
from . import space

log = logging.getLogger("paperfeed.ingest")

AHEAD_FROM_BYTES = 8 << 20
"""Input bytes a run reads before it starts the worker: starting one (a new interpreter importing the parsers)
costs about half a CPU second of the worker's, which a run this large gets back several times over."""
FILES_AHEAD = 2
"""Files always handed to the worker before the one being stored is done (each read into memory when it is not
a plain file the worker reads itself: archive members, which the archive's limits bound)."""
AHEAD_BYTES = 16 << 20
"""Beyond ``FILES_AHEAD`` files, smaller files are handed over while those waiting add up to no more than this:
a day's listing is a few hundred records, and with two of them ahead the worker idled whenever the storing
process committed (the 287 files of the listings tarball: 15.58 s against 14.42 with this look-ahead, means of
three alternating rounds; docs/benchmarks.md, "Ingest", session 20)."""
FILES_AHEAD_MOST = 256
"""Files handed over ahead at most, however small."""
BATCHES_AHEAD = 4
"""Prepared batches the worker keeps ready beyond the one being sent."""
READ_AHEAD_BELOW_BYTES = space.CHECKED_FROM_BYTES
"""A file at least this large is handed over only at its turn, after its disk check (``space``)."""

_HEADER = struct.Struct("<qB")  # job number, message kind
_START, _BATCH, _END, _FAIL, _READY = range(5)
_NO_JOB = -1
"""The job number of the worker's first message (``_READY``), which every job's reading drops."""


class WorkerStopped(InputReadError):
    """The worker ended in the middle of a file (killed, out of memory): that file is rolled back."""


@dataclass(slots=True)
class Job:
    """One file handed to the worker."""

    number: int
    source: Any
    """What the worker reads: the file's bytes, or a ``RegularFileReader`` it calls itself."""
    error: OSError | None = None
    """Reading the file here failed before it was handed over."""
    done: bool = False
    apart: bool = False
    """Its records come from the worker (False: it was prepared here after the worker stopped)."""


class PrepareAhead:
    """A worker process preparing files in order (``submit``), read back in the same order (``open``).

    The worker is a new interpreter (``python -c``, not ``multiprocessing``: its spawn runs the parent's main
    module again, and ``python -m paperfeed`` would start the command a second time), talking over two pipes.
    """

    def __init__(self, format_name: str | None, label: str | None, limits: FieldLimits, batch_size: int) -> None:
        self.format_name = format_name
        self.label = label
        self.limits = limits
        self._process, jobs_write, results_read = start_python_piped("paperfeed.ingest.ahead.work", PIPE_BYTES)
        self._jobs = Connection(jobs_write, readable=False)
        self._messages = MessageReader(results_read)
        self._next = 0
        self._broken = False
        self._unread: list[Job] = []  # handed over, not yet finished, oldest first
        self._abandoned = False  # a file was given up part-way: the worker may still be sending its batches
        self._ready = False
        self._send((format_name, label, limits, batch_size))

    @classmethod
    def start(cls, format_name: str | None, label: str | None, limits: FieldLimits,
              batch_size: int) -> "PrepareAhead | None":
        """A started worker, or None where this process cannot start one: the run then prepares in this
        process, as a small one does."""
        if not can_start():
            return None
        try:
            return cls(format_name, label, limits, batch_size)
        except OSError as error:
            log.info("preparing in this process: no worker (%s)", error)
            return None

    def ready(self) -> bool:
        """Whether the worker has started: its first message (sent once its interpreter has imported the parsers,
        about 0.4 s on the 2-core machine) has arrived, or it is gone (what it has not taken is then prepared here).
        Never waits."""
        if not self._ready:
            self._ready = self._broken or bool(select.select([self._messages.fileno()], [], [], 0)[0])
        return self._ready

    def _send(self, message: Any) -> None:
        if not self._broken:
            try:
                self._jobs.send(message)
            except (OSError, ValueError):  # the worker is gone: what it has not taken is prepared here
                self._broken = True

    def submit(self, entry: InputFile) -> Job:
        """Hand ``entry`` to the worker (its bytes read here unless the worker can read the file itself)."""
        job = Job(self._next, entry.read if isinstance(entry.read, RegularFileReader) else None)
        self._next += 1
        if job.source is None:
            try:
                job.source = entry.read()
            except OSError as error:  # reported at the file's turn, as reading it then would have been
                job.error, job.done = error, True
                return job
        self._send((job.number, job.source, entry.origin, entry.date_hint, entry.modified))
        self._unread.append(job)
        return job

    def open(self, job: Job, context: ParseContext) -> tuple[str, Iterator[Prepared]]:
        """As ``prepare.parse`` for the job's file: its format and its prepared records, lazily (the parser's
        notes are added to ``context.notes`` at the end). Raises ParseError or OSError as reading would."""
        if job.error is not None:
            raise job.error
        if not self._broken:
            try:
                kind, payload = self._receive(job)
            except WorkerStopped:  # before anything of this file came back: nothing is lost, it is prepared here
                log.warning("the process preparing records stopped; preparing them in this one")
            else:
                if kind == _FAIL:
                    job.done = True
                    raise _error(payload)
                job.apart = True
                return payload, self._records(job, context)
        job.done = True
        source = job.source() if callable(job.source) else job.source
        return prepare.parse(source, context, self.format_name, self.limits)

    def finish(self, job: Job) -> None:
        """The file is stored or given up: the worker drops what is left of it."""
        if not job.done:
            job.done = self._abandoned = True
            self._send(("give-up", job.number))
        if job in self._unread:
            self._unread.remove(job)

    def close(self) -> None:
        """End the worker: at once when work is still under way (it is pure and holds nothing)."""
        if not (self._broken or self._unread or self._abandoned):
            self._send(None)
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._jobs.close()
        self._messages.close()

    # -- receiving ----------------------------------------------------------------------------------------------

    def _records(self, job: Job, context: ParseContext) -> Iterator[Prepared]:
        while True:
            kind, payload = self._receive(job)
            if kind == _BATCH:
                yield from payload
            elif kind == _END:
                job.done = True
                context.notes.extend(payload)
                return
            else:
                job.done = True
                raise _error(payload)

    def _receive(self, job: Job) -> tuple[int, Any]:
        """The next message of ``job``, dropping what is left of files given up before it."""
        while True:
            try:
                message = self._messages.next()
            except (EOFError, OSError):
                self._broken = True
                raise WorkerStopped(f"the process preparing the records stopped (exit status "
                                    f"{self._process.wait()}); nothing of this file is stored") from None
            number, kind = _HEADER.unpack_from(message)
            if number == job.number:
                return kind, pickle.loads(memoryview(message)[_HEADER.size:])


class MessageReader:
    """The messages ``Connection.send_bytes`` writes to a pipe (a 4-byte big-endian length, or -1 and an 8-byte
    one, then the bytes), each read into one buffer kept from message to message; it owns the descriptor. ``Connection.recv_bytes`` reads
    a pipe's worth at a time into new bytes objects (fresh pages each) and joins them: 4.1 against 1.2 ms of CPU
    for a batch of 1,000 prepared records (bench/ingest_parts.py), in the process that bounds a bulk load."""

    KEPT_BYTES = 64 << 20
    """A larger message is read into a buffer of its own, not kept."""

    def __init__(self, descriptor: int) -> None:
        self._file = io.FileIO(descriptor, "rb")
        self._buffer = bytearray(1 << 20)
        self._length = bytearray(8)

    def next(self) -> memoryview:
        """The next message, valid until the next call; EOFError when the writer closed its end."""
        length = memoryview(self._length)
        self._fill(length[:4])
        size = struct.unpack_from("!i", length)[0]
        if size == -1:
            self._fill(length)
            size = struct.unpack_from("!Q", length)[0]
        if size > len(self._buffer):
            buffer = bytearray(size)
            if size <= self.KEPT_BYTES:
                self._buffer = buffer
        else:
            buffer = self._buffer
        message = memoryview(buffer)[:size]
        self._fill(message)
        return message

    def fileno(self) -> int:
        return self._file.fileno()

    def close(self) -> None:
        self._file.close()

    def _fill(self, view: memoryview) -> None:
        done = 0
        while done < len(view):
            count = self._file.readinto(view[done:])
            if not count:
                raise EOFError("the pipe was closed")
            done += count


PIPE_BYTES = 1 << 20
"""Pipe buffer asked for (Linux's default most a user may set): a file's bytes and a batch of prepared records
are megabytes, and through the default 64 KB each took dozens of waits and wake-ups on both sides."""


def _error(payload: tuple[str, str, str | None]) -> Exception:
    kind, message, place = payload
    return ParseError(message, place) if kind == "parse" else InputReadError(message)


# -- the worker -----------------------------------------------------------------------------------------------------


def work(jobs_fd: int, results_fd: int) -> None:
    """The worker's loop (``python -c``): prepare each job's file, a batch at a time, while a thread sends the
    ready batches; drop a file once the ingest gives it up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the ingest's process answers Ctrl-C and ends this one
    jobs = Connection(jobs_fd, writable=False)
    results = Connection(results_fd, readable=False)
    ready: queue.Queue[bytes | None] = queue.Queue(maxsize=BATCHES_AHEAD)
    sender = threading.Thread(target=_send_all, args=(ready, results), daemon=True)
    sender.start()

    def send(number: int, kind: int, payload: Any) -> int:
        """Queue a message; return how many were queued before it (none: the ingest's process has taken every
        batch so far, and may be waiting for this one)."""
        queued = ready.qsize()
        ready.put(_HEADER.pack(number, kind) + pickle.dumps(payload, protocol=5))
        return queued

    send(_NO_JOB, _READY, None)  # imported: the ingest's process may hand files over without waiting
    try:
        format_name, label, limits, batch_size = jobs.recv()
        inbox = _Inbox(jobs)
        while (job := inbox.next_job()) is not None:
            number, source, origin, date_hint, modified = job
            if inbox.wanted(number):
                _prepare_one(number, source, ParseContext(origin, label=label, date_hint=date_hint,
                                                          modified=modified),
                             format_name, limits, batch_size, inbox, send)
    except (EOFError, OSError):  # the ingest's process is gone
        pass
    finally:
        ready.put(None)
        sender.join()


class _Inbox:
    """The jobs pipe, read by a thread of its own as messages come: the ingest's process never waits to hand a
    file over (it may be sending one while this process waits to send it batches), and a file given up is known
    at once."""

    def __init__(self, jobs: Connection) -> None:
        self._jobs = jobs
        self._waiting: queue.Queue[tuple | None] = queue.Queue()  # bounded by the ingest's FILES_AHEAD
        self.given_up = -1
        self.gone = False
        """The ingest's process closed the pipe without a word (killed): nothing is wanted any more."""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while True:
                message = self._jobs.recv()
                if isinstance(message, tuple) and message[0] == "give-up":
                    self.given_up = max(self.given_up, message[1])
                    continue
                self._waiting.put(message)
                if message is None:
                    return
        except (EOFError, OSError):  # the ingest's process is gone
            self.gone = True
            self._waiting.put(None)

    def next_job(self) -> tuple | None:
        """The next file to prepare (None: no more), waiting for one."""
        return self._waiting.get()

    def wanted(self, number: int) -> bool:
        """False once the ingest has given up job ``number``, or is gone."""
        return number > self.given_up and not self.gone


def _send_all(ready: "queue.Queue[bytes | None]", results) -> None:
    gone = False
    while (message := ready.get()) is not None:
        if gone:
            continue
        try:
            results.send_bytes(message)
        except (OSError, ValueError):
            # The ingest's process is gone: nothing waits for the rest, but the queue is still emptied to its end,
            # or the preparing thread, blocked on a full queue, would keep this process alive forever (an orphan
            # of a killed ingest).
            gone = True


def _prepare_one(number: int, source: Any, context: ParseContext, format_name: str | None, limits: FieldLimits,
                 batch_size: int, inbox: _Inbox, send: Callable[[int, int, Any], int]) -> None:
    try:
        data = source() if callable(source) else source
        leave = prepare.Leave()
        found, records = prepare.parse(data, context, format_name, limits, leave)
        send(number, _START, found)
        batch: list[Prepared] = []
        for record in records:
            batch.append(record)
            if len(batch) == batch_size:
                if not inbox.wanted(number):
                    return
                # What the next batch leaves to the ingest's process (prepare.Leave), by how many batches wait for
                # it: none, it takes them as fast as they come and this process bounds the load: the records'
                # stored JSON and own item fields (19 µs a Kaggle record less here, 4–6 more there, pickling
                # included; session 16's VM) and their blocking keys (about as much less here as more there); one:
                # the JSON and fields only; more: nothing. So the two processes share the work whichever is slower.
                queued = send(number, _BATCH, batch)
                leave.on, leave.keys = queued <= 1, queued == 0
                batch = []
        if batch:
            send(number, _BATCH, batch)
        send(number, _END, context.notes)
    except ParseError as error:
        send(number, _FAIL, ("parse", error.message, error.place))
    except OSError as error:
        send(number, _FAIL, ("read", str(error.strerror or error), None))
    except MemoryError:
        send(number, _FAIL, ("read", "out of memory while preparing the file's records", None))
    except Exception as error:  # a bug outside the parser (which prepare.parse already reports): this file fails
        send(number, _FAIL, ("parse", f"internal error while preparing ({type(error).__name__}: {error}); "
                                      "please report it", None))


class Upcoming:
    """A run's entries in order, with the worker's job for each file it prepares.

    The worker is started once the run has seen ``from_bytes`` of input (``None`` from ``start``: no worker);
    until it is ready (``PrepareAhead.ready``) small files are prepared in this process. At a file's turn
    (``job``) the file is handed over if it was not yet, then the next ``FILES_AHEAD`` small files are, and more
    while they add up to ``AHEAD_BYTES``, in order: the worker prepares them while this file is stored. A large
    file (``READ_AHEAD_BELOW_BYTES``) waits for its turn, and so do the files after it (the worker takes files in
    the order they are stored).
    """

    def __init__(self, entries: Iterable[InputFile | InputError], start: Callable[[], PrepareAhead | None],
                 from_bytes: int) -> None:
        self._entries = iter(entries)
        self._waiting: deque[InputFile | InputError] = deque()
        self._jobs: dict[int, Job] = {}  # id(entry) -> its job, for files handed over before their turn
        self._start = start
        self._from_bytes = from_bytes
        self._seen = 0
        self._waiting_bytes = 0  # the sizes of the files in ``_waiting``
        self._tried = False
        self.worker: PrepareAhead | None = None

    def __iter__(self) -> Iterator[InputFile | InputError]:
        while True:
            self._fill()
            if not self._waiting:
                return
            entry = self._waiting.popleft()
            if isinstance(entry, InputFile):
                self._waiting_bytes -= entry.size
            yield entry

    def _fill(self) -> None:
        while len(self._waiting) <= FILES_AHEAD or (self._waiting_bytes < AHEAD_BYTES
                                                    and len(self._waiting) <= FILES_AHEAD_MOST):
            entry = next(self._entries, None)
            if entry is None:
                return
            self._waiting.append(entry)
            if isinstance(entry, InputFile):
                self._seen += entry.size
                self._waiting_bytes += entry.size

    def job(self, entry: InputFile) -> Job | None:
        """The worker's job for ``entry`` at its turn (None: it is prepared in this process), the next files
        handed over behind it."""
        if self.worker is None and not self._tried and self._seen >= self._from_bytes:
            self._tried = True
            self.worker = self._start()
        if self.worker is None:
            return None
        job = self._jobs.pop(id(entry), None)
        if job is None:
            if entry.size < self._from_bytes and not self.worker.ready():
                # A new worker takes a moment to start (a new interpreter importing the parsers): handing it files
                # now would block this process on the pipe until it reads them, so small files are prepared here
                # meanwhile. None has been handed over yet, so the worker still takes files in order.
                return None
            job = self.worker.submit(entry)
        ahead = 0
        for count, later in enumerate(self._waiting):
            if isinstance(later, InputFile):
                ahead += later.size
                if count >= FILES_AHEAD and ahead > AHEAD_BYTES:
                    break
                if id(later) not in self._jobs:
                    if later.size >= READ_AHEAD_BELOW_BYTES:
                        break
                    self._jobs[id(later)] = self.worker.submit(later)
        return job

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
