"""A large archive member is copied to a temporary file and read from there as a plain file is (``inputs._member``):
the store ends exactly as when the member is held in memory, the copy is gone after the run, a copy left by a
killed process is removed by the next run, and a temporary folder that fills up fails that member alone.

The threshold (``SPOOL_FROM_BYTES``, 16 MB) is lowered to 256 KB here, except in the command-line test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import pytest

from paperfeed import ingest as ingest_module
from paperfeed import inputs
from paperfeed.config import Settings
from paperfeed.ingest import Ingester
from paperfeed.inputs import InputError, InputFile, RegularFileReader, iter_inputs
from paperfeed.storage import open_store

from test_bulk_load import listing_file, tables
from test_inputs_limits import _can_mount_tmpfs, paperfeed


@pytest.fixture
def temp_folder(tmp_path, monkeypatch) -> Path:
    """A temporary folder of the test's own, so what is left in it can be counted."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def archive_of(tmp_path: Path, kind: str, members: dict[str, Path]) -> Path:
    path = tmp_path / f"listings.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, member in members.items():
                archive.write(member, name)
    else:
        with tarfile.open(path, "w:gz") as archive:
            for name, member in members.items():
                archive.add(member, arcname=name)
    return path


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_a_large_member_is_read_from_a_temporary_copy_and_stored_as_from_memory(tmp_path, temp_folder,
                                                                               monkeypatch, kind):
    monkeypatch.setattr(ingest_module, "BATCH_SIZE", 50)
    large = listing_file(tmp_path / "2026-01-10.jsonl", 600)
    small = listing_file(tmp_path / "2026-01-11.jsonl", 40, first=590)  # overlaps: merges into the large one's
    assert large.stat().st_size > 256 * 1024 > small.stat().st_size
    archive = archive_of(tmp_path, kind, {"day/2026-01-10.jsonl": large, "day/2026-01-11.jsonl": small})

    monkeypatch.setattr(inputs, "SPOOL_FROM_BYTES", 256 * 1024)
    first, second = list(iter_inputs([archive]))
    assert isinstance(first.read, RegularFileReader) and first.spool is not None
    copy = Path(first.spool.name)
    assert copy.parent == temp_folder and copy.name.startswith(f"paperfeed-member-{os.getpid()}-")
    assert bytes(first.read()) == large.read_bytes() and first.size == large.stat().st_size
    assert second.spool is None and second.read() == small.read_bytes()
    first.release()
    assert not copy.exists()

    reports = {}
    for spooled, parallel in ((False, False), (True, False), (True, True)):
        monkeypatch.setattr(inputs, "SPOOL_FROM_BYTES", 256 * 1024 if spooled else 1 << 40)
        with open_store(tmp_path / f"{spooled}-{parallel}.db") as store:
            ingester = Ingester(store, settings=Settings(ingest_parallel=parallel))
            ingester.parallel_from_bytes = 0
            reports[spooled, parallel] = ingester.ingest_paths([archive])
        assert list(temp_folder.iterdir()) == []  # each copy removed once its member was stored
    assert [(r.origin, r.new, r.merged, r.failed) for r in reports[True, True].files] == [
        (f"{archive}!day/2026-01-10.jsonl", 600, 0, False), (f"{archive}!day/2026-01-11.jsonl", 30, 10, False)]
    assert reports[True, True].files[0].prepared_apart  # the worker read the copy itself
    for spooled, parallel in ((True, False), (True, True)):
        assert [(r.origin, r.new, r.merged) for r in reports[spooled, parallel].files] == \
            [(r.origin, r.new, r.merged) for r in reports[False, False].files]
        assert tables(tmp_path / f"{spooled}-{parallel}.db") == tables(tmp_path / "False-False.db")


def test_a_copy_left_by_a_killed_process_is_removed_by_the_next_run(tmp_path, temp_folder, monkeypatch):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = temp_folder / f"paperfeed-member-{gone.stdout.strip()}-abc.jsonl"
    running = temp_folder / f"paperfeed-member-{os.getppid()}-def.jsonl"  # a live process's (pytest's parent)
    other = temp_folder / "unrelated.jsonl"
    for path in (orphan, running, other):
        path.write_bytes(b"{}\n")
    monkeypatch.setattr(inputs, "SPOOL_FROM_BYTES", 256 * 1024)
    archive = archive_of(tmp_path, "zip", {"2026-01-10.jsonl": listing_file(tmp_path / "a.jsonl", 600)})
    [entry] = iter_inputs([archive])
    assert not orphan.exists() and running.exists() and other.exists()
    entry.release()


def test_a_damaged_large_member_is_an_input_error_and_leaves_no_copy(tmp_path, temp_folder, monkeypatch):
    monkeypatch.setattr(inputs, "SPOOL_FROM_BYTES", 256 * 1024)
    archive = archive_of(tmp_path, "tar.gz", {"2026-01-10.jsonl": listing_file(tmp_path / "a.jsonl", 600)})
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])  # cut inside the member
    entries = list(iter_inputs([archive]))
    assert [type(entry) for entry in entries] == [InputError]
    assert "damaged or truncated archive" in entries[0].message
    assert list(temp_folder.iterdir()) == []


@pytest.mark.slow
def test_a_full_temporary_folder_fails_that_member_alone_on_the_command_line(tmp_path):
    """The real command, the real threshold (16 MB) and a real full disk: TMPDIR on an 8 MB tmpfs."""
    disk = tmp_path / "disk"
    if not _can_mount_tmpfs(disk):
        pytest.skip("needs root to mount a small tmpfs that fills up")
    large = listing_file(tmp_path / "2026-01-10.jsonl", 12_000)  # 21 MB of distinct records: over 16 MB
    assert large.stat().st_size > inputs.SPOOL_FROM_BYTES
    small = listing_file(tmp_path / "2026-01-11.jsonl", 40)
    archive = archive_of(tmp_path, "zip", {"2026-01-10.jsonl": large, "2026-01-11.jsonl": small})
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], check=True)
    try:
        done = paperfeed("--db", tmp_path / "store.db", "ingest", "--no-index", archive, TMPDIR=str(disk))
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    output = done.stdout + done.stderr
    assert (f"{archive}!2026-01-10.jsonl: cannot copy the archive member to a temporary file in {disk} "
            f"(No space left on device); set TMPDIR to a folder with room for it") in output
    assert f"{archive}!2026-01-11.jsonl [jsonl]: 40 new" in output
