"""Turn the paths a user gives into input files: plain files, directories, and archive members.

Only regular files are read (a named pipe, a device or a socket is reported, never opened for reading), and
every read is bounded: by the size limits of ``InputLimits`` (the settings ``max_input_bytes``,
``max_member_bytes``, ``max_archive_bytes`` and ``max_archive_ratio``), checked before any byte is read and
again while reading, so a file that grows or an archive that lies about its sizes cannot take more.
"""

from __future__ import annotations

import lzma
import mmap
import os
import re
import stat
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Callable, Iterator

from .config import Settings

_ARCHIVE_SUFFIXES = (".tar.xz", ".txz", ".tar.gz", ".tgz", ".tar.bz2", ".tar", ".zip")
# Files that sit beside data in a folder but are not data.
_NOT_DATA = re.compile(r"^(readme|license|licence|copying|notice)([._-]|$)|^\.", re.IGNORECASE)
_DAY = re.compile(r"(\d{4}-\d{2}-\d{2})")

ARCHIVE_RATIO_FREE = 64 * 1024 * 1024
"""Bytes any archive may expand to whatever its own size; ``max_archive_ratio`` counts only beyond them."""

MAP_LINES_BYTES = 64 * 1024 * 1024
"""A plain file at least this large whose first bytes look like JSON Lines (an object, then another at the start
of a line) is handed to its parser memory-mapped (``MappedFile``), not read whole: the Kaggle arXiv snapshot is
4 GB, twice that once decoded, and its parser reads it a line at a time, giving back each part once read."""

SPOOL_FROM_BYTES = 16 * 1024 * 1024
"""An archive member at least this large is copied to a temporary file (``_member``) and read from there as a plain
file is: JSON Lines from a memory map a line at a time, and by path in the process that prepares records. Held in
memory instead, the 4.5 GB snapshot inside Kaggle's ``arxiv.zip`` was held whole here and once more by that process
(a 405 MB member: 2,133 MB at the peak, against 912 MB for the same lines as a plain file). Below it a member is
read into memory: the few read ahead of the one being stored (``ingest.ahead``) stay small."""
SPOOL_PREFIX = "paperfeed-member-"
"""Temporary copies are named ``paperfeed-member-PID-…``: one left by a process that is gone (``kill -9``) is
removed by the next copy made in the same folder."""
_SPOOL_CHUNK = 1 << 20


class MappedFile(mmap.mmap):
    """A read-only memory map of a file, for the parsers that read it line by line (``sources.jsonl``).

    It is bytes-like (slices are bytes; ``find``, ``len``), and ``bytes(mapped)`` is the whole file for a parser
    that needs it whole. ``release(end)`` drops the pages before ``end`` from the process's memory (they stay
    in the page cache), so a parser that went past them keeps memory bounded.
    """

    def release(self, end: int) -> None:
        """Give back the mapped pages before byte ``end`` (they are read again from the file if touched)."""
        end -= end % mmap.PAGESIZE
        if end > 0 and hasattr(mmap, "MADV_DONTNEED"):
            self.madvise(mmap.MADV_DONTNEED, 0, end)


def looks_like_json_lines(head: bytes) -> bool:
    """True when ``head`` starts (after a BOM and blank space) with a JSON object and holds another one at the
    start of a line: the shape that ``sources.jsonl`` reads line by line."""
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return body.startswith(b"{") and b"\n{" in body


def estimate_records(paths: list[str | Path], sample: int = 1 << 20) -> int | None:
    """About how many records ``paths`` hold, for a progress bar's ETA: when every path is a plain file of JSON
    Lines, its size times the lines per byte of its first ``sample`` bytes; None when that cannot be told."""
    total = 0
    for path in paths:
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):  # a pipe or device is never opened here
                return None
            with open(path, "rb") as handle:
                head = handle.read(sample)
                size = os.fstat(handle.fileno()).st_size
        except OSError:
            return None
        if not looks_like_json_lines(head):
            return None
        lines = head.count(b"\n") + (not head.endswith(b"\n"))
        total += lines if len(head) >= size else round(size * lines / len(head))
    return total or None


class InputError(Exception):
    """A path or archive that cannot be read; ``origin`` names it and ``place`` says where."""

    def __init__(self, origin: str, message: str, place: str | None = None) -> None:
        super().__init__(message)
        self.origin = origin
        self.message = message
        self.place = place


class InputReadError(OSError):
    """A read refused while it ran (a file that grew past its limit, or stopped being a regular file)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.strerror = message


@dataclass(frozen=True, slots=True)
class InputLimits:
    """How much ingest reads: per file, per archive member, per archive (0: no limit)."""

    max_input_bytes: int
    max_member_bytes: int
    max_archive_bytes: int
    max_archive_ratio: float

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> "InputLimits":
        """The limits of ``settings`` (the defaults when None)."""
        settings = settings or Settings()
        return cls(settings.max_input_bytes, settings.max_member_bytes, settings.max_archive_bytes,
                   settings.max_archive_ratio)


@dataclass(slots=True)
class InputFile:
    """One file to parse: where it came from, its name, and how to read its bytes."""

    origin: str
    name: str
    read: Callable[[], bytes]
    size: int
    modified: str | None = None
    """The UTC day (``YYYY-MM-DD``) the file or archive member was last modified, when known: a capture
    saved that day was made on or before it."""
    spool: IO[bytes] | None = None
    """The temporary copy a large archive member is read from (``SPOOL_FROM_BYTES``); ``release`` removes it."""

    def release(self) -> None:
        """Remove the temporary copy, if any, once the file is stored or failed (dropping the entry does too)."""
        if self.spool is not None:
            self.spool.close()

    @property
    def date_hint(self) -> str | None:
        """A ``YYYY-MM-DD`` in the file name (daily listings, Hugging Face days), else None."""
        match = _DAY.search(self.name)
        return match.group(1) if match else None


def is_archive(name: str) -> bool:
    """True for the archive kinds ingested member by member."""
    return name.lower().endswith(_ARCHIVE_SUFFIXES)


def iter_inputs(paths: list[str | Path], limits: InputLimits | None = None) -> Iterator[InputFile | InputError]:
    """Yield every input file under ``paths``, in a stable order; unreadable ones as InputError."""
    limits = limits or InputLimits.from_settings()
    for path in paths:
        yield from _walk(Path(path), set(), limits)


def _walk(path: Path, walked: set[Path], limits: InputLimits) -> Iterator[InputFile | InputError]:
    origin = str(path)
    try:
        info = path.stat()  # follows symbolic links: a link is what it points to
    except FileNotFoundError:
        yield InputError(origin, "no such file or directory" if not path.is_symlink()
                         else f"a symbolic link to {os.readlink(path)!r}, which does not exist")
        return
    except OSError as error:
        yield InputError(origin, f"cannot read: {error.strerror or error}")
        return
    if stat.S_ISDIR(info.st_mode):
        real = path.resolve()
        if real in walked:  # a symlink back into a folder being walked: its files are already on the way
            return
        walked.add(real)
        try:
            children = sorted(path.iterdir())
        except OSError as error:
            yield InputError(origin, f"cannot read folder: {error.strerror or error}")
            return
        for child in children:
            if not _NOT_DATA.search(child.name):
                yield from _walk(child, walked, limits)
        return
    if not stat.S_ISREG(info.st_mode):
        kind = _kind(info.st_mode)
        if path.is_symlink():
            kind += f", by a symbolic link to {os.readlink(path)}"
        yield InputError(origin, f"not a regular file ({kind}): skipped, nothing read from it")
        return
    if is_archive(path.name):  # streamed member by member: its members' limits apply, not the file's
        yield from _archive_members(path, info.st_size, limits)
        return
    too_big = _over(info.st_size, limits.max_input_bytes, "max_input_bytes", "PAPERFEED_MAX_INPUT_BYTES")
    if too_big:
        yield InputError(origin, f"the file is {too_big}")
        return
    yield InputFile(origin, path.name, RegularFileReader(path, limits.max_input_bytes), info.st_size,
                    modified_day(info.st_mtime))


def modified_day(timestamp: float | None) -> str | None:
    """The UTC day of a modification time; None for none, the epoch itself (an archiver's "unknown") or nonsense."""
    if not timestamp or timestamp <= 0:
        return None
    try:
        return datetime.fromtimestamp(timestamp, timezone.utc).date().isoformat()
    except (OverflowError, OSError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class RegularFileReader:
    """``read_regular_file(path, limit)`` as a value: an ``InputFile.read`` that another process can be given (it
    is picklable, unlike a closure), so a worker reads a large file itself instead of receiving its bytes."""

    path: Path
    limit: int = 0

    def __call__(self) -> bytes:
        return read_regular_file(self.path, self.limit)


def read_regular_file(path: Path, limit: int = 0) -> bytes:
    """Read a regular file whole, at most ``limit`` bytes (0: no limit); anything else is an InputReadError.

    The file is opened without blocking and checked again once open, so a path swapped for a named pipe or a
    device after it was listed is refused rather than waited on or read without end. A large file of JSON Lines
    (``MAP_LINES_BYTES``) comes back as a ``MappedFile`` of its size when it was opened.
    """
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    with open(descriptor, "rb", closefd=True) as handle:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise InputReadError(f"not a regular file ({_kind(info.st_mode)})")
        too_big = _over(info.st_size, limit, "max_input_bytes", "PAPERFEED_MAX_INPUT_BYTES")
        if too_big:
            raise InputReadError(f"the file is {too_big}")
        if info.st_size >= MAP_LINES_BYTES and looks_like_json_lines(handle.read(8192)):
            # Mapped at the size measured: a file that grows later is read as it was (within the limit).
            return MappedFile(descriptor, info.st_size, access=mmap.ACCESS_READ)
        handle.seek(0)
        wanted = info.st_size + 1 if not limit else min(info.st_size, limit) + 1
        if wanted > _physical_memory():  # refused before allocating: where memory is overcommitted it would not fail
            raise InputReadError(f"the file ({info.st_size:,} bytes) does not fit in memory: only JSON Lines "
                                 f"files are read a line at a time (max_input_bytes limits the others)")
        try:  # a file other than JSON Lines is parsed whole: with max_input_bytes off it may not fit in memory
            data = handle.read(wanted)
            if len(data) == wanted:  # it grew since it was measured: read on to the limit, never past it
                rest = handle.read(limit + 1 - len(data)) if limit else handle.read()
                data += rest
        except MemoryError:
            raise InputReadError(f"the file ({info.st_size:,} bytes) does not fit in memory: only JSON Lines "
                                 f"files are read a line at a time (max_input_bytes limits the others)") from None
            too_big = _over(len(data), limit, "max_input_bytes", "PAPERFEED_MAX_INPUT_BYTES")
            if too_big:
                raise InputReadError(f"the file grew while read and is {too_big}")
        return data


def _physical_memory() -> int:
    """Bytes of memory this machine has (no limit where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return 1 << 62


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a plain file"


def _over(size: int, limit: float, setting: str, env: str) -> str | None:
    """The reason ``size`` bytes is too many, naming the setting; None when within ``limit`` (0: none)."""
    if limit and size > limit:
        return f"{size:,} bytes, over the {setting} limit of {int(limit):,} (set {env} to change it)"
    return None


def _member(stream: IO[bytes], size: int, origin: str, name: str, modified: str | None) -> InputFile | InputError:
    """An archive member read from ``stream`` (at most ``size`` + 1 bytes): in memory, or copied to a temporary file
    when it is large. A damaged stream raises as the archive's readers do; a copy that cannot be written (the
    temporary folder full) is an InputError for this member alone."""
    if size < SPOOL_FROM_BYTES:
        data = stream.read(size + 1)
        return InputFile(origin, name, lambda data=data: data, len(data), modified)
    folder = tempfile.gettempdir()
    _remove_orphan_spools(folder)
    try:
        spool = tempfile.NamedTemporaryFile(prefix=f"{SPOOL_PREFIX}{os.getpid()}-", suffix=Path(name).suffix[:16],
                                            dir=folder)
    except OSError as error:
        return _spool_error(origin, error, folder)
    try:
        copied = _copy(stream, spool, size + 1)
    except _CopyFailed as failed:
        spool.close()
        return _spool_error(origin, failed.error, folder)
    except BaseException:  # the archive's own read failed (or Ctrl-C): no copy is left behind
        spool.close()
        raise
    return InputFile(origin, name, RegularFileReader(Path(spool.name)), copied, modified, spool=spool)


class _CopyFailed(Exception):
    """Writing the temporary copy failed (its folder full, say): not the archive's fault, unlike a failed read."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


def _copy(stream: IO[bytes], spool: IO[bytes], most: int) -> int:
    """Copy at most ``most`` bytes of ``stream`` into ``spool``; the bytes copied. A read error raises as it is, a
    write error as ``_CopyFailed``."""
    copied = 0
    while copied < most and (chunk := stream.read(min(_SPOOL_CHUNK, most - copied))):
        try:
            spool.write(chunk)
        except OSError as error:
            raise _CopyFailed(error) from error
        copied += len(chunk)
    try:
        spool.flush()
    except OSError as error:
        raise _CopyFailed(error) from error
    return copied


def _spool_error(origin: str, error: OSError, folder: str) -> InputError:
    return InputError(origin, f"cannot copy the archive member to a temporary file in {folder} "
                              f"({error.strerror or error}); set TMPDIR to a folder with room for it")


def _remove_orphan_spools(folder: str) -> None:
    """Remove the temporary copies of processes that are gone (killed before they could)."""
    for path in Path(folder).glob(f"{SPOOL_PREFIX}*"):
        pid = path.name[len(SPOOL_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            try:
                path.unlink()
            except OSError:  # another user's, or gone already
                pass


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, another user's
        return True
    return True


class _ArchiveBudget:
    """The bytes an archive's members may still expand to (``max_archive_bytes``, ``max_archive_ratio``)."""

    def __init__(self, archive_size: int, limits: InputLimits) -> None:
        self.limits = limits
        ceilings = []
        if limits.max_archive_bytes:
            ceilings.append(("max_archive_bytes", "PAPERFEED_MAX_ARCHIVE_BYTES", limits.max_archive_bytes))
        if limits.max_archive_ratio:
            allowed = max(ARCHIVE_RATIO_FREE, int(limits.max_archive_ratio * max(archive_size, 1)))
            ceilings.append(("max_archive_ratio", "PAPERFEED_MAX_ARCHIVE_RATIO", allowed))
        self.ceilings = ceilings

    def check(self, total: int) -> str | None:
        """Why an archive whose members reach ``total`` decompressed bytes is refused; None when it is not."""
        for setting, env, allowed in self.ceilings:
            if total > allowed:
                if setting == "max_archive_ratio":
                    return (f"its members expand to more than {allowed:,} bytes, over {self.limits.max_archive_ratio:g}"
                            f" times the archive's size (the max_archive_ratio limit; set {env} to change it)")
                return (f"its members expand to more than {allowed:,} bytes, over the max_archive_bytes limit "
                        f"(set {env} to change it)")
        return None

    def member(self, size: int) -> str | None:
        """Why a member of ``size`` bytes is refused; None when it is not."""
        return _over(size, self.limits.max_member_bytes, "max_member_bytes", "PAPERFEED_MAX_MEMBER_BYTES")


def _zip_time(date_time: tuple) -> float | None:
    """A zip member's local date and time as a timestamp (read as UTC: only its day is used); None if invalid."""
    try:
        return datetime(*date_time, tzinfo=timezone.utc).timestamp()
    except (TypeError, ValueError):
        return None


def _archive_members(path: Path, archive_size: int, limits: InputLimits) -> Iterator[InputFile | InputError]:
    origin = str(path)
    budget = _ArchiveBudget(archive_size, limits)
    try:
        if path.name.lower().endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                members = sorted(archive.infolist(), key=lambda i: i.filename)
                # The central directory's sizes first: a bomb is refused before anything is inflated.
                refused = budget.check(sum(info.file_size for info in members if not info.is_dir()))
                if refused:
                    yield InputError(origin, f"archive refused: {refused}", "archive")
                    return
                total = 0
                for info in members:
                    name = info.filename.rsplit("/", 1)[-1]
                    if info.is_dir() or _NOT_DATA.search(name):
                        continue
                    member_origin = f"{origin}!{info.filename}"
                    too_big = budget.member(info.file_size)
                    if too_big:
                        yield InputError(member_origin, f"archive member is {too_big}")
                        continue
                    modified = modified_day(_zip_time(info.date_time))
                    with archive.open(info) as stream:  # never more than it declares (zipfile checks)
                        entry = _member(stream, info.file_size, member_origin, name, modified)
                    total += entry.size if isinstance(entry, InputFile) else 0
                    refused = budget.check(total)
                    if refused:
                        if isinstance(entry, InputFile):
                            entry.release()
                        yield InputError(origin, f"archive refused: {refused}", f"member {info.filename}")
                        return
                    yield entry
            return
        # Stream the tar: members are read in archive order, so a huge .tar.xz is never held whole. Every
        # member's end (data included) is checked before the stream moves past it, skipped members too.
        with tarfile.open(path, "r:*") as archive:
            while (member := archive.next()) is not None:
                archive.members.clear()  # TarFile keeps every header it met: a million tiny members add up
                refused = budget.check(member.offset_data + member.size)
                if refused:
                    yield InputError(origin, f"archive refused: {refused}", f"member {member.name}")
                    return
                name = member.name.rsplit("/", 1)[-1]
                if not member.isfile() or _NOT_DATA.search(name):
                    continue
                member_origin = f"{origin}!{member.name}"
                too_big = budget.member(member.size)
                if too_big:
                    yield InputError(member_origin, f"archive member is {too_big}")
                    continue
                extracted = archive.extractfile(member)
                if extracted is None:
                    yield InputFile(member_origin, name, lambda: b"", 0, modified_day(member.mtime))
                    continue
                yield _member(extracted, member.size, member_origin, name, modified_day(member.mtime))
    # NotImplementedError and RuntimeError: zipfile's unsupported compression method and encrypted member.
    except (tarfile.TarError, zipfile.BadZipFile, lzma.LZMAError, zlib.error, EOFError, OSError,
            NotImplementedError, RuntimeError) as error:
        yield InputError(origin, f"damaged or truncated archive: {error}", "archive")
