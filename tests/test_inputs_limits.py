"""What ingest reads, and how much: special files, size limits on files, archives and record fields, and a store
that runs out of room.

Every input is real: named pipes, a link to /dev/zero, archives built here with tarfile and zipfile, the
listing in tests/data with one field blown up, and a full database (SQLite's ``max_page_count``, and a real
file system that fills up: a few MB of tmpfs, when the tests run as root).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from paperfeed import ingest as ingest_module
from paperfeed.config import Settings
from paperfeed.ingest import Ingester, IngestStopped
from paperfeed.inputs import InputError, InputFile, InputLimits, iter_inputs
from paperfeed.storage import StoreFullError, open_store

from datafiles import DATA, HF_DAY, LIBRARY, LISTING, LISTING_UNIQUE

MiB = 1024 * 1024


def env(**extra) -> dict:
    values = {key: value for key, value in os.environ.items() if not key.startswith("PAPERFEED_")}
    values.update(CI="true", PYTHONDONTWRITEBYTECODE="1", **extra)
    return values


def paperfeed(*args, timeout: float = 120, **extra) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "paperfeed", *map(str, args)], capture_output=True, text=True,
                          env=env(**extra), timeout=timeout)


def integrity(db: Path) -> list:
    connection = sqlite3.connect(db)
    try:
        return connection.execute("PRAGMA integrity_check").fetchall()
    finally:
        connection.close()


def limits(**values) -> InputLimits:
    return InputLimits.from_settings(Settings(**values))


def listing_records() -> list[dict]:
    return [json.loads(line) for line in LISTING.read_text(encoding="utf-8").splitlines() if line.strip()]


# -- only regular files are read -------------------------------------------------------------------------------


def test_a_named_pipe_in_a_folder_is_reported_and_the_files_after_it_are_stored(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "a-pipe.jsonl")  # nobody ever writes to it: reading it would wait for ever
    shutil.copy(LIBRARY, folder / "b.bib")
    db = tmp_path / "store.db"

    result = paperfeed("--db", db, "ingest", "--no-index", folder, timeout=60)

    assert result.returncode == 1, result.stderr
    assert f"FAILED {folder / 'a-pipe.jsonl'}: not a regular file (a named pipe)" in result.stderr
    assert "Traceback" not in result.stderr
    assert f"{folder / 'b.bib'} [bibtex]: 7 new" in result.stdout
    with open_store(db) as store:
        assert store.item_count() == 7


def test_a_link_to_dev_zero_is_refused_without_reading_it(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "endless.jsonl").symlink_to("/dev/zero")
    shutil.copy(LIBRARY, folder / "library.bib")
    db = tmp_path / "store.db"

    result = paperfeed("--db", db, "ingest", "--no-index", folder, timeout=60)

    assert result.returncode == 1, result.stderr
    assert f"FAILED {folder / 'endless.jsonl'}: not a regular file (a character device" in result.stderr
    assert "/dev/zero" in result.stderr and "Traceback" not in result.stderr and "MemoryError" not in result.stderr
    with open_store(db) as store:
        assert store.item_count() == 7


def test_a_path_swapped_for_a_pipe_after_it_was_listed_is_refused_not_waited_on(tmp_path):
    path = tmp_path / "a.bib"
    shutil.copy(LIBRARY, path)
    [entry] = iter_inputs([path])
    path.unlink()
    os.mkfifo(path)

    with pytest.raises(OSError, match="not a regular file"):
        entry.read()


def test_a_file_over_max_input_bytes_fails_alone_naming_the_setting(sqlite_store, tmp_path):
    big = tmp_path / "2026-02-27.jsonl"
    shutil.copy(LISTING, big)
    report = Ingester(sqlite_store, settings=Settings(max_input_bytes=100_000)).ingest_paths([big, LIBRARY])

    [failed] = report.failed
    assert failed.origin == str(big)
    assert "over the max_input_bytes limit of 100,000" in failed.error and "PAPERFEED_MAX_INPUT_BYTES" in failed.error
    assert sqlite_store.item_count() == 7


def test_a_file_that_grew_past_the_limit_after_it_was_listed_is_refused_when_read(tmp_path):
    path = tmp_path / "growing.bib"
    shutil.copy(LIBRARY, path)
    [entry] = iter_inputs([path], limits(max_input_bytes=LIBRARY.stat().st_size + 10))
    with path.open("ab") as handle:
        handle.write(b"%" * 1000)

    with pytest.raises(OSError, match="over the max_input_bytes limit"):
        entry.read()


# -- archives: members, totals and decompression bombs -----------------------------------------------------------


def _zeros_tar(path: Path, member_size: int, mode: str = "w:gz") -> Path:
    """A tar whose one member is ``member_size`` zero bytes, streamed (never held in memory here either)."""
    with tarfile.open(path, mode) as archive:
        info = tarfile.TarInfo("bomb.jsonl")
        info.size = member_size
        with open("/dev/zero", "rb") as zeros:
            archive.addfile(info, zeros)
    return path


def _zeros_zip(path: Path, member_size: int, members: int = 1) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for number in range(members):
            with archive.open(f"bomb-{number}.jsonl", "w", force_zip64=True) as member:
                chunk = bytes(MiB)
                for _ in range(member_size // MiB):
                    member.write(chunk)
    return path


def _peak_reading(paths, input_limits: InputLimits | None = None) -> tuple[list, int]:
    tracemalloc.start()
    try:
        entries = []
        for entry in iter_inputs(paths, input_limits):
            entries.append(entry)
            if isinstance(entry, InputFile):
                entry.read()
        return entries, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_a_decompression_bomb_is_refused_before_it_is_inflated(tmp_path, kind):
    # 400 MB of zeros in a few hundred KB: far more than max_archive_ratio (100) times the archive's size.
    bomb = (_zeros_tar(tmp_path / "bomb.tar.gz", 400 * MiB) if kind == "tar.gz"
            else _zeros_zip(tmp_path / "bomb.zip", 400 * MiB))
    assert bomb.stat().st_size < 2 * MiB

    entries, peak = _peak_reading([bomb, LIBRARY])

    [refused, library] = entries
    assert isinstance(refused, InputError) and refused.origin == str(bomb)
    assert "max_archive_ratio" in refused.message and "PAPERFEED_MAX_ARCHIVE_RATIO" in refused.message
    assert isinstance(library, InputFile) and library.origin == str(LIBRARY)
    assert peak < 16 * MiB, f"{peak:,} bytes held while refusing a bomb"


def test_an_archive_member_over_max_member_bytes_fails_alone_and_the_others_are_stored(sqlite_store, tmp_path):
    archive = tmp_path / "listings.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        tar.add(LIBRARY, "a/library.bib")
        tar.add(LISTING, "b/2026-02-27.jsonl")
        tar.add(HF_DAY, "c/2024-05-27.json")
    settings = Settings(max_member_bytes=LISTING.stat().st_size - 1)

    report = Ingester(sqlite_store, settings=settings).ingest_paths([archive])

    [failed] = report.failed
    assert failed.origin == f"{archive}!b/2026-02-27.jsonl"
    assert "over the max_member_bytes limit" in failed.error and "PAPERFEED_MAX_MEMBER_BYTES" in failed.error
    assert sorted(r.format for r in report.files if not r.failed) == ["bibtex", "hf-daily"]
    assert sqlite_store.stats()["source_records_by_format"] == {"bibtex": 7, "hf-daily": 13}


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_an_archive_past_max_archive_bytes_stops_there_and_keeps_the_members_before(sqlite_store, tmp_path, kind):
    archive = tmp_path / f"listings.{kind}"
    members = [("a.bib", LIBRARY), ("b.jsonl", LISTING), ("c.json", HF_DAY)]
    if kind == "tar":
        with tarfile.open(archive, "w") as tar:
            for name, path in members:
                tar.add(path, name)
    else:
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for name, path in members:
                zipped.write(path, name)
    room = LIBRARY.stat().st_size + 2048  # the library and its tar headers, not the listing after it
    settings = Settings(max_archive_bytes=room, max_archive_ratio=0)

    report = Ingester(sqlite_store, settings=settings).ingest_paths([archive])

    failed = report.failed[-1]
    assert failed.origin == str(archive) and "max_archive_bytes" in failed.error
    if kind == "tar":  # streamed: the library came first and is kept; the listing is where it stopped
        assert failed.place == "member b.jsonl"
        assert sqlite_store.stats()["source_records_by_format"] == {"bibtex": 7}
    else:  # the central directory says the total before anything is inflated
        assert sqlite_store.item_count() == 0


def test_the_real_listing_archives_are_within_the_default_limits(sqlite_store):
    archive = DATA / "topics" / "listing-2025-06-09.tar.gz"
    report = Ingester(sqlite_store).ingest_paths([archive])
    assert not report.failed and report.total("new") > 0


def test_a_real_record_with_a_glued_author_list_is_within_the_default_limits(sqlite_store):
    # arXiv's listing of 2025-06-04 names 27 authors as one 512-character string: the old 500 limit failed the day.
    listing = DATA / "jsonl" / "2025-06-04_glued-authors.jsonl"
    report = Ingester(sqlite_store).ingest_paths([listing])
    assert not report.failed and report.total("new") == 1


# -- record fields --------------------------------------------------------------------------------------------


def _listing_with(tmp_path: Path, position: int, **changes) -> Path:
    records = listing_records()[:40]
    records[position - 1].update(changes)
    path = tmp_path / "2026-02-27.jsonl"
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    return path


FIELD_CASES = {
    "title": ({"title": "A title " * 300}, "max_title_chars", "the title has 2,399 characters"),
    "abstract": ({"summary": "word " * 30_000}, "max_abstract_chars", "the abstract has 149,999 characters"),
    "authors": ({"authors": [f"Author {n}" for n in range(12_000)]}, "max_authors",
                "the author list has 12,000 authors"),
    "author name": ({"authors": ["Ann Lee", "Verylongname" * 200]}, "max_author_chars",
                    "author 2's name has 2,400 characters"),
    "raw record": ({"comment": "x" * 5_100_000}, "max_record_chars", "the raw record has 5,10"),
}


@pytest.mark.parametrize("field", FIELD_CASES)
def test_a_record_over_a_field_limit_fails_its_file_with_its_place(store, tmp_path, field):
    changes, setting, says = FIELD_CASES[field]
    listing = _listing_with(tmp_path, 17, **changes)

    report = Ingester(store).ingest_paths([listing, LIBRARY])

    [failed] = report.failed
    assert failed.origin == str(listing)
    assert failed.place.startswith("record 17 (")  # the record's position in the file and its id
    assert says in failed.error and f"over the {setting} limit" in failed.error
    assert f"PAPERFEED_{setting.upper()}" in failed.error
    # One file is one transaction: none of the listing's records is stored, the library is.
    assert store.stats()["source_records_by_format"] == {"bibtex": 7}


def test_field_limits_are_settings_and_0_turns_one_off(sqlite_store, tmp_path):
    listing = _listing_with(tmp_path, 3, summary="word " * 30_000)
    report = Ingester(sqlite_store, settings=Settings(max_abstract_chars=0)).ingest_paths([listing])
    assert not report.failed and report.total("new") == 40


def test_a_200_mb_abstract_is_refused_with_its_place_on_the_command_line(tmp_path):
    listing = _listing_with(tmp_path, 2, summary="word " * 40_000_000)  # 200 MB
    db = tmp_path / "store.db"

    result = paperfeed("--db", db, "ingest", "--no-index", listing, LIBRARY, PAPERFEED_MAX_ABSTRACT_CHARS="50000")

    assert result.returncode == 1
    assert f"FAILED {listing} at record 2 (" in result.stderr
    assert "over the max_abstract_chars limit of 50,000" in result.stderr and "Traceback" not in result.stderr
    with open_store(db) as store:
        assert store.stats()["source_records_by_format"] == {"bibtex": 7}


# -- a full database or disk ---------------------------------------------------------------------------------


def _daily_files(folder: Path, days: int = 6) -> list[Path]:
    """Daily listing files made from the real listing (ids rewritten so that every day is new)."""
    folder.mkdir()
    base = listing_records()
    paths = []
    for day in range(1, days + 1):
        lines = []
        for number, record in enumerate(base):
            arxiv_id = f"2601.{day:02d}{number:03d}"
            lines.append(json.dumps({**record, "id": arxiv_id, "abs": f"https://arxiv.org/abs/{arxiv_id}",
                                     "title": f"{record['title']} [{arxiv_id}]"}, ensure_ascii=False))
        path = folder / f"2026-01-{day:02d}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def _content(store) -> dict:
    return {item["arxiv_id"]: (item["title"], item["abstract"], tuple(item["authors"]),
                               tuple(sorted(s["origin"] for s in item["sources"])))
            for item in store.iter_items()}


def test_a_full_database_stops_the_ingest_with_a_clear_error_and_a_rerun_completes_it(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest_module, "COMMIT_EVERY", 300)  # a commit after each day's file
    days = _daily_files(tmp_path / "days")
    with open_store(tmp_path / "reference.db") as reference:
        Ingester(reference).ingest_paths(days)
        expected = _content(reference)

    db = tmp_path / "store.db"
    with open_store(db) as store:
        pages, page_bytes = store.db.value("PRAGMA page_count"), store.db.value("PRAGMA page_size")
        # Room for about two days (2.8 MB) more than the empty store: the third file fills the database mid-write.
        store.db.value(f"PRAGMA max_page_count = {pages + 700 * 4096 // page_bytes}")
        with pytest.raises(IngestStopped) as stopped:
            Ingester(store).ingest_paths(days)
        error = stopped.value
        assert isinstance(error.error, StoreFullError) and "full" in str(error.error) and str(db) in str(error.error)
        assert error.origin in map(str, days[1:])
        assert 0 < error.committed < len(days) and error.rolled_back >= 1
        assert error.committed + error.rolled_back == days.index(Path(error.origin)) + 1
        committed = error.report.files[:error.committed]
        assert store.check_integrity() == []
        # What was committed is whole: every record of the committed files, none of the file that failed.
        stored = _content(store)
        assert len(stored) == sum(r.new for r in committed)
        assert not any(error.origin in origins for *_, origins in stored.values())
    assert integrity(db) == [("ok",)]

    with open_store(db) as store:  # room again (a new connection has no max_page_count): the same ingest completes
        report = Ingester(store).ingest_paths(days)
        assert not report.failed
        assert report.total("unchanged") == sum(r.records for r in committed)
        assert _content(store) == expected
        assert store.check_integrity() == []


@pytest.mark.postgres
def test_a_full_postgresql_disk_stops_the_ingest_plainly_and_a_rerun_completes_it(tmp_path, pg_url, monkeypatch):
    """The server's ``disk_full`` (SQLSTATE 53100) becomes a StoreFullError. A trigger raises the server's own
    error once the table holds about two days, the way a filling disk fails a write mid-file."""
    monkeypatch.setattr(ingest_module, "COMMIT_EVERY", 300)
    days = _daily_files(tmp_path / "days")
    with open_store(tmp_path / "reference.db") as reference:
        Ingester(reference).ingest_paths(days)
        expected = _content(reference)

    with open_store(pg_url) as store:
        store.db.run("""CREATE FUNCTION fill_up() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF (SELECT count(*) FROM source_records) >= 600 THEN
                RAISE EXCEPTION 'could not extend file "base/16384/16385": No space left on device'
                  USING ERRCODE = 'disk_full';
              END IF;
              RETURN NEW;
            END $$""")
        store.db.run("CREATE TRIGGER fill_up BEFORE INSERT ON source_records FOR EACH ROW EXECUTE FUNCTION fill_up()")
        with pytest.raises(IngestStopped) as stopped:
            Ingester(store).ingest_paths(days)
        error = stopped.value
        assert isinstance(error.error, StoreFullError)
        assert "the server's disk is full" in str(error.error) and "No space left on device" in str(error.error)
        assert 0 < error.committed < len(days) and error.rolled_back >= 1
        stored = _content(store)
        assert len(stored) == sum(r.new for r in error.report.files[:error.committed])
        assert not any(error.origin in origins for *_, origins in stored.values())
        assert not store.db.in_transaction

        store.db.run("DROP TRIGGER fill_up ON source_records")  # space freed
        report = Ingester(store).ingest_paths(days)
        assert not report.failed
        assert _content(store) == expected


def _can_mount_tmpfs(folder: Path) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    folder.mkdir(exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        return False
    subprocess.run(["umount", str(folder)], check=True)
    return True


@pytest.mark.slow
def test_a_full_disk_says_so_naming_the_file_and_a_rerun_after_freeing_space_completes_it(tmp_path):
    disk = tmp_path / "disk"
    if not _can_mount_tmpfs(disk):
        pytest.skip("needs root to mount a small tmpfs that fills up")
    days = _daily_files(tmp_path / "days", days=20)
    reference = tmp_path / "reference.db"
    assert paperfeed("--db", reference, "ingest", "--no-index", *days).returncode == 0
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(disk)], check=True)
    try:
        db = disk / "store.db"
        full = paperfeed("--db", db, "ingest", "--no-index", *days, PAPERFEED_DB=str(db))

        assert full.returncode == 1
        assert "Traceback" not in full.stderr and "cannot rollback" not in full.stderr
        [line] = [line for line in full.stderr.splitlines() if line.startswith("paperfeed:")]
        assert f"{db}: the database or the disk it is on is full" in line
        assert "while storing " + str(tmp_path / "days") in line  # names the input file it was storing
        assert "run the same `paperfeed ingest` again" in line
        assert integrity(db) == [("ok",)]

        subprocess.run(["mount", "-o", "remount,size=512m", str(disk)], check=True)  # space freed
        again = paperfeed("--db", db, "ingest", "--no-index", *days)
        assert again.returncode == 0, again.stderr
        assert integrity(db) == [("ok",)]
        with open_store(db) as store, open_store(reference) as expected:
            assert _content(store) == _content(expected)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_full_database_in_a_plain_transaction_is_a_store_full_error_and_the_store_stays_usable(sqlite_store):
    """Outside ingest (any write in ``db.transaction``): SQLITE_FULL mid-transaction becomes StoreFullError,
    not ``cannot rollback - no transaction is active``."""
    db = sqlite_store.db
    db.value(f"PRAGMA max_page_count = {db.value('PRAGMA page_count') + 5}")
    with pytest.raises(StoreFullError, match="full"):
        with db.transaction():
            db.run("CREATE TABLE filler (x TEXT)")
            db.run_many("INSERT INTO filler VALUES ($1)", [("x" * 4000,)] * 200)
    assert not db.in_transaction
    assert db.value("SELECT count(*) FROM sqlite_master WHERE name = 'filler'") == 0
    db.value("PRAGMA max_page_count = 1073741823")
    with db.transaction():
        db.run("CREATE TABLE filler (x TEXT)")
    assert sqlite_store.check_integrity() == []


# -- damaged archives, fuzzed ----------------------------------------------------------------------------------


def _small_archives() -> dict[str, bytes]:
    import io

    members = [("a.bib", LIBRARY.read_bytes()), ("b.jsonl", b"".join(LISTING.read_bytes().splitlines(True)[:3]))]
    built = {}
    for suffix, mode in (("tar", "w"), ("tar.gz", "w:gz"), ("tar.bz2", "w:bz2"), ("tar.xz", "w:xz")):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode=mode) as archive:
            for name, data in members:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        built[suffix] = buffer.getvalue()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    built["zip"] = buffer.getvalue()
    return built


ARCHIVES = _small_archives()


def test_a_damaged_archive_yields_input_errors_never_an_exception(tmp_path):
    from hypothesis import HealthCheck, given, settings, strategies as st

    @settings(max_examples=int(os.environ.get("PAPERFEED_FUZZ_ARCHIVES", "40")), deadline=None,
              derandomize="PAPERFEED_FUZZ_ARCHIVES" not in os.environ, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(kind=st.sampled_from(sorted(ARCHIVES)), data=st.data())
    def damaged(kind, data):
        raw = bytearray(ARCHIVES[kind])
        for _ in range(data.draw(st.integers(1, 4))):
            at = data.draw(st.integers(0, len(raw) - 1))
            if data.draw(st.booleans()):
                raw[at] ^= 1 << data.draw(st.integers(0, 7))
            else:
                del raw[at:]
                if not raw:
                    raw = bytearray(b"\0")
        path = tmp_path / f"damaged.{kind}"
        path.write_bytes(bytes(raw))
        for entry in iter_inputs([path]):
            assert isinstance(entry, (InputFile, InputError))
            if isinstance(entry, InputFile):
                assert len(entry.read()) == entry.size

    damaged()


def test_library_import_refuses_a_named_pipe_and_a_file_over_the_limit(sqlite_store, tmp_path):
    from paperfeed.library import LibraryError, import_bibtex

    user_id = sqlite_store.create_user("reader@example.org", "x" * 60)
    pipe = tmp_path / "library.bib"
    os.mkfifo(pipe)  # nobody writes to it: a plain read would wait for ever
    with pytest.raises(LibraryError, match="library.bib.*not a regular file"):
        import_bibtex(sqlite_store, user_id, pipe)

    big = tmp_path / "big.bib"
    shutil.copy(LIBRARY, big)
    with pytest.raises(LibraryError, match="big.bib.*PAPERFEED_MAX_INPUT_BYTES"):
        import_bibtex(sqlite_store, user_id, big, settings=Settings(max_input_bytes=100))
    assert sqlite_store.item_count() == 0


def test_sources_import_refuses_a_named_pipe(tmp_path):
    from click.testing import CliRunner

    from paperfeed.cli import cli

    pipe = tmp_path / "sources.toml"
    os.mkfifo(pipe)
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "s.db"), "sources", "import", str(pipe)])
    assert result.exit_code != 0 and "not a regular file" in result.output and "Traceback" not in result.output
