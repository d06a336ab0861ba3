"""Turn the paths a user gives into input files: plain files, directories, and archive members."""

from __future__ import annotations

import lzma
import re
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

_ARCHIVE_SUFFIXES = (".tar.xz", ".txz", ".tar.gz", ".tgz", ".tar.bz2", ".tar", ".zip")
# Files that sit beside data in a folder but are not data.
_NOT_DATA = re.compile(r"^(readme|license|licence|copying|notice)([._-]|$)|^\.", re.IGNORECASE)
_DAY = re.compile(r"(\d{4}-\d{2}-\d{2})")


class InputError(Exception):
    """A path or archive that cannot be read; ``origin`` names it and ``place`` says where."""

    def __init__(self, origin: str, message: str, place: str | None = None) -> None:
        super().__init__(message)
        self.origin = origin
        self.message = message
        self.place = place


@dataclass(slots=True)
class InputFile:
    """One file to parse: where it came from, its name, and how to read its bytes."""

    origin: str
    name: str
    read: Callable[[], bytes]
    size: int

    @property
    def date_hint(self) -> str | None:
        """A ``YYYY-MM-DD`` in the file name (daily listings, Hugging Face days), else None."""
        match = _DAY.search(self.name)
        return match.group(1) if match else None


def is_archive(name: str) -> bool:
    """True for the archive kinds ingested member by member."""
    return name.lower().endswith(_ARCHIVE_SUFFIXES)


def iter_inputs(paths: list[str | Path]) -> Iterator[InputFile | InputError]:
    """Yield every input file under ``paths``, in a stable order; unreadable ones as InputError."""
    for path in paths:
        yield from _walk(Path(path), set())


def _walk(path: Path, walked: set[Path]) -> Iterator[InputFile | InputError]:
    if path.is_dir():
        real = path.resolve()
        if real in walked:  # a symlink back into a folder being walked: its files are already on the way
            return
        walked.add(real)
        try:
            children = sorted(path.iterdir())
        except OSError as error:
            yield InputError(str(path), f"cannot read folder: {error.strerror or error}")
            return
        for child in children:
            if not _NOT_DATA.search(child.name):
                yield from _walk(child, walked)
        return
    origin = str(path)
    if not path.exists():
        yield InputError(origin, "no such file or directory")
        return
    if is_archive(path.name):
        yield from _archive_members(path)
        return
    try:
        size = path.stat().st_size
    except OSError as error:
        yield InputError(origin, f"cannot read: {error.strerror}")
        return
    yield InputFile(origin, path.name, path.read_bytes, size)


def _archive_members(path: Path) -> Iterator[InputFile | InputError]:
    origin = str(path)
    try:
        if path.name.lower().endswith(".zip"):
            with zipfile.ZipFile(path) as archive:
                for info in sorted(archive.infolist(), key=lambda i: i.filename):
                    name = info.filename.rsplit("/", 1)[-1]
                    if info.is_dir() or _NOT_DATA.search(name):
                        continue
                    data = archive.read(info)
                    yield InputFile(f"{origin}!{info.filename}", name, lambda data=data: data, len(data))
            return
        # Stream the tar: members are read in archive order, so a huge .tar.xz is never held whole.
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                name = member.name.rsplit("/", 1)[-1]
                if not member.isfile() or _NOT_DATA.search(name):
                    continue
                extracted = archive.extractfile(member)
                data = extracted.read() if extracted else b""
                yield InputFile(f"{origin}!{member.name}", name, lambda data=data: data, len(data))
    except (tarfile.TarError, zipfile.BadZipFile, lzma.LZMAError, zlib.error, EOFError, OSError) as error:
        yield InputError(origin, f"damaged or truncated archive: {error}", "archive")
