"""Records prepared in a second process (``ingest.ahead``): the store ends exactly as with one process, a bad
file fails at the same place, and a file given up, a killed worker or Ctrl-C loses nothing committed.

The worker's threshold is lowered to 0 bytes so that these small real files go through it; the batch size to 50
so that a file is several batches (the worker runs ahead of the one being stored).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tarfile
import sys
import time
from pathlib import Path

import pytest

from paperfeed import ingest as ingest_module
from paperfeed.config import Settings
from paperfeed.ingest import Ingester, ahead
from paperfeed.records import ParseError
from paperfeed.storage import open_store

from datafiles import BAD, DATA, HF_DAY, LIBRARY, LISTING
from test_bulk_load import listing_file, tables

INPUTS = [LIBRARY, LISTING, DATA / "daily" / "2026-02-26.jsonl", HF_DAY,
          DATA / "jsonl" / "arxiv-metadata-oai-snapshot.head200.json", DATA / "daily" / "hf_2026-02-27.json"]


@pytest.fixture
def small_batches(monkeypatch):
    # Files of several batches, each streamed as it comes (no file is small enough to be prepared whole first).
    monkeypatch.setattr(ingest_module, "BATCH_SIZE", 50)
    monkeypatch.setattr(ingest_module, "STORED_WHOLE_BELOW_BYTES", 0)


def ingester(store, parallel: bool, from_bytes: int = 0, **options) -> Ingester:
    made = Ingester(store, settings=Settings(ingest_parallel=parallel), **options)
    made.parallel_from_bytes = from_bytes
    return made


def outcome(report) -> list[tuple]:
    return [(Path(r.origin).name, r.format, r.new, r.merged, r.unchanged, r.skipped, r.error, r.place, r.notes)
            for r in report.files]


def test_the_worker_leaves_the_store_exactly_as_one_process_does(small_batches, tmp_path):
    cut = tmp_path / "2026-01-07.jsonl"  # a bad line after several batches: the file fails at the same place
    lines = listing_file(tmp_path / "whole.jsonl", 400).read_text(encoding="utf-8").splitlines()
    lines[260] = lines[260][:40]
    cut.write_text("\n".join(lines) + "\n", encoding="utf-8")
    inputs = [*INPUTS[:2], cut, BAD / "unknown_format.dat", BAD / "xxe_file.atom.xml", *INPUTS[2:]]
    reports = {}
    for parallel in (False, True):
        with open_store(tmp_path / f"{parallel}.db") as store:
            reports[parallel] = ingester(store, parallel).ingest_paths(inputs)
    assert outcome(reports[True]) == outcome(reports[False])
    assert reports[False].files[2].place == "line 261" and reports[False].files[2].failed
    assert [r.failed for r in reports[False].files] == [False, False, True, True, True, False, False, False, False]
    assert all(r.prepared_apart for r in reports[True].files if not r.failed)
    assert not any(r.prepared_apart for r in reports[False].files)
    assert tables(tmp_path / "True.db") == tables(tmp_path / "False.db")


@pytest.mark.parametrize("keys", [False, True])
def test_records_left_to_the_storing_process_give_the_same_store(small_batches, tmp_path, monkeypatch, keys):
    # Every record's stored JSON and own item (and blocking keys) made by the storing process (the worker leaves
    # them while that process waits for batches): the store is the one of records prepared whole.
    from paperfeed import prepare
    inputs = [*INPUTS, DATA / "arxiv_api" / "query_all-testing_start0_max100.xml", DATA / "csv" / "ACM.csv"]
    with open_store(tmp_path / "whole.db") as store:
        whole = ingester(store, False).ingest_paths(inputs)
    leave = prepare.Leave
    monkeypatch.setattr(prepare, "Leave", lambda: leave(on=True, keys=keys))  # what prepare() makes given none
    with open_store(tmp_path / "left.db") as store:
        left = ingester(store, False).ingest_paths(inputs)
    assert outcome(left) == outcome(whole) and not left.failed
    assert tables(tmp_path / "left.db") == tables(tmp_path / "whole.db")


def test_a_file_given_up_while_the_worker_is_ahead_is_rolled_back_and_the_next_ones_stored(small_batches,
                                                                                            tmp_path):
    first = listing_file(tmp_path / "2026-01-05.jsonl", 300)
    second = listing_file(tmp_path / "2026-01-06.jsonl", 300, first=300)
    stored = []

    def stop_first(count: int) -> None:
        stored.append(count)
        if len(stored) == 2:  # the merge side fails the first file after two of its six batches
            raise ParseError("refused by the test", "record 100")

    with open_store(tmp_path / "store.db") as store:
        report = ingester(store, True, on_records=stop_first).ingest_paths([first, second, LIBRARY])
        assert [(r.failed, r.place) for r in report.files] == [(True, "record 100"), (False, None), (False, None)]
        assert report.files[1].new == 300 and all(r.prepared_apart for r in report.files[1:])
        assert store.item_count() == 300 + report.files[2].new
    with open_store(tmp_path / "reference.db") as store:
        assert not Ingester(store).ingest_paths([second, LIBRARY]).failed
    assert tables(tmp_path / "store.db") == tables(tmp_path / "reference.db")


def test_a_killed_worker_fails_only_the_file_it_was_preparing(small_batches, tmp_path, monkeypatch):
    # 3,000 records: far more than the pipe and the worker's queue hold, so it dies with batches unsent.
    first = listing_file(tmp_path / "2026-01-05.jsonl", 3000)
    second = listing_file(tmp_path / "2026-01-06.jsonl", 300, first=3000)
    workers = []
    start = ahead.PrepareAhead.start

    def remember(*args):
        workers.append(start(*args))
        return workers[-1]

    monkeypatch.setattr(ahead.PrepareAhead, "start", remember)
    killed = []

    def kill_once(count: int) -> None:
        if not killed:
            killed.append(workers[0]._process.pid)
            os.kill(killed[0], signal.SIGKILL)
            workers[0]._process.wait()

    with open_store(tmp_path / "store.db") as store:
        report = ingester(store, True, on_records=kill_once).ingest_paths([first, second])
        assert report.files[0].failed and "process preparing the records stopped" in report.files[0].error
        assert not report.files[1].failed and report.files[1].new == 300 and not report.files[1].prepared_apart
        assert store.item_count() == 300


def test_ctrl_c_ends_the_worker_and_keeps_only_what_was_committed(small_batches, tmp_path, monkeypatch):
    workers = []
    start = ahead.PrepareAhead.start
    monkeypatch.setattr(ahead.PrepareAhead, "start", lambda *args: workers.append(start(*args)) or workers[-1])
    calls = []

    def interrupt(count: int) -> None:
        calls.append(count)
        if len(calls) == 3:
            raise KeyboardInterrupt

    with open_store(tmp_path / "store.db") as store:
        with pytest.raises(KeyboardInterrupt):
            ingester(store, True, on_records=interrupt).ingest_paths([listing_file(tmp_path / "big.jsonl", 400)])
        assert store.item_count() == 0
    assert workers and workers[0]._process.poll() is not None, "the worker ended with the run"


@pytest.mark.parametrize("ahead_files", [2, 4])
def test_small_files_are_handed_over_until_they_add_up_to_the_bytes_ahead(tmp_path, monkeypatch, ahead_files):
    """At least ``FILES_AHEAD`` files wait in the worker behind the one being stored, and more while they add up
    to ``AHEAD_BYTES``: with two small files ahead the worker idled whenever the storing process committed."""
    days = [listing_file(tmp_path / f"2026-01-{day + 10:02d}.jsonl", 40, first=40 * day) for day in range(8)]
    monkeypatch.setattr(ahead, "AHEAD_BYTES", sum(day.stat().st_size for day in days[1:1 + ahead_files])
                        if ahead_files > ahead.FILES_AHEAD else 0)
    events: list[str] = []
    submit, open_job = ahead.PrepareAhead.submit, ahead.PrepareAhead.open
    monkeypatch.setattr(ahead.PrepareAhead, "submit",
                        lambda self, entry: events.append(Path(entry.origin).name) or submit(self, entry))
    monkeypatch.setattr(ahead.PrepareAhead, "open",
                        lambda self, job, context: events.append("open") or open_job(self, job, context))
    with open_store(tmp_path / "parallel.db") as store:
        report = ingester(store, True).ingest_paths(days)
    assert all(r.prepared_apart for r in report.files)
    # The first file, then those ahead of it, before the first is read back.
    assert events[:ahead_files + 2] == [day.name for day in days[:ahead_files + 1]] + ["open"]
    with open_store(tmp_path / "alone.db") as store:
        assert outcome(ingester(store, False).ingest_paths(days)) == outcome(report)
    assert tables(tmp_path / "parallel.db") == tables(tmp_path / "alone.db")


def test_small_runs_start_no_worker(tmp_path, monkeypatch):
    monkeypatch.setattr(ahead.PrepareAhead, "start", lambda *args: pytest.fail("a worker for 2 small files"))
    with open_store(tmp_path / "store.db") as store:
        report = Ingester(store).ingest_paths([LIBRARY, LISTING])
        assert not report.failed and not any(r.prepared_apart for r in report.files)


KAGGLE = DATA / "jsonl" / "arxiv-metadata-oai-snapshot.head200.json"
SRC = Path(__file__).resolve().parent.parent / "src"


def test_the_cli_prepares_a_large_snapshot_in_a_second_process(tmp_path):
    """``python -m paperfeed ingest`` on 17 MB of the snapshot's schema: the worker (a ``python -c`` child, never
    the command run again) prepares it, and the command's output and store are those of a plain run."""
    base = [json.loads(line) for line in KAGGLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    lines = []
    for copy in range(60):
        for number, record in enumerate(base):
            lines.append(json.dumps({**record, "id": f"26{copy:02d}.{number:05d}", "doi": None,
                                     "title": f"{record['title']} (copy {copy})"}))
    snapshot = tmp_path / "snapshot.json"
    snapshot.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert snapshot.stat().st_size >= ahead.AHEAD_FROM_BYTES
    env = {**os.environ, "PYTHONPATH": str(SRC), "PAPERFEED_EMBEDDER": "none", "XDG_DATA_HOME": str(tmp_path)}
    env.pop("CI", None)
    outputs, seen = {}, {}
    for parallel in ("true", "false"):
        out_file, err_file = tmp_path / f"{parallel}.out", tmp_path / f"{parallel}.err"
        with out_file.open("w") as out, err_file.open("w") as err:  # files: a full pipe would stop the command
            child = subprocess.Popen([sys.executable, "-m", "paperfeed", "--db", str(tmp_path / f"{parallel}.db"),
                                      "ingest", "--no-vectors", str(snapshot)], stdout=out, stderr=err,
                                     env={**env, "PAPERFEED_INGEST_PARALLEL": parallel})
        seen[parallel] = set()
        while child.poll() is None:  # the command's children, as /proc lists them
            for task in Path(f"/proc/{child.pid}/task").glob("*/children"):
                for pid in task.read_text().split():
                    try:
                        seen[parallel].add(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
                    except OSError:
                        pass
            time.sleep(0.02)
        err = err_file.read_text()
        assert child.wait(timeout=60) == 0, err
        assert "Traceback" not in err
        outputs[parallel] = out_file.read_text()
    assert any("paperfeed.ingest.ahead import work" in command for command in seen["true"])
    assert not any("paperfeed.ingest.ahead" in command for command in seen["false"])
    assert "12000 new" in outputs["true"] and outputs["true"].split("\n")[0] == outputs["false"].split("\n")[0]
    with open_store(tmp_path / "true.db") as store:
        assert store.item_count() == 12_000


@pytest.mark.parametrize("from_bytes", [0, 1 << 20])
def test_archive_members_handed_over_while_the_worker_waits_to_send(small_batches, tmp_path, from_bytes):
    """Members are handed over as bytes (half a megabyte each, pipes hold 64 KB) while the worker, ahead, waits
    for its batches to be read, and one member is given up part-way: nothing waits on the other for ever.
    From 1 MB, the worker starts at the first member (the next two make the megabyte) and this process
    prepares that one, and any more whose turn comes before the worker is ready, itself."""
    archive = tmp_path / "listings.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for day in range(5):
            tar.add(listing_file(tmp_path / f"2026-01-{day + 10:02d}.jsonl", 300, first=300 * day),
                    arcname=f"2026-01-{day + 10:02d}.jsonl")
    calls = []

    def give_up_the_second(count: int) -> None:
        calls.append(count)
        if len(calls) == 8:  # two batches into the second member
            raise ParseError("refused by the test", "record 100")

    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the ingest and its worker waited on each other"))
    reports = {}
    for parallel in (True, False):
        calls.clear()
        signal.alarm(120)
        try:
            with open_store(tmp_path / f"{parallel}.db") as store:
                reports[parallel] = ingester(store, parallel, from_bytes,
                                             on_records=give_up_the_second).ingest_paths([archive])
        finally:
            signal.alarm(0)
    assert [r.failed for r in reports[True].files] == [False, True, False, False, False]
    apart = [r.prepared_apart for r in reports[True].files]
    here = apart.index(True) if True in apart else 5  # prepared here before the worker was ready; none after
    assert apart == [False] * here + [True] * (5 - here) and (here == 0) == (from_bytes == 0)
    assert outcome(reports[True]) == outcome(reports[False])
    assert tables(tmp_path / "True.db") == tables(tmp_path / "False.db")


def test_small_files_are_prepared_here_until_the_worker_is_ready(tmp_path, monkeypatch):
    """A new worker takes a moment to start; handing it files before then blocked this process on the pipe (0.7 s
    of the listings' run). So small files whose turn comes first are prepared here, nothing is handed over until
    the worker is ready, and the worker then takes every later file, in order."""
    days = [listing_file(tmp_path / f"2026-01-{day + 10:02d}.jsonl", 40, first=40 * day) for day in range(6)]
    asked = []
    ready = ahead.PrepareAhead.ready

    def ready_from_the_third_file(self) -> bool:  # and the worker really ready then: it is waited for
        asked.append(True)
        while len(asked) > 2 and not ready(self):
            time.sleep(0.01)
        return len(asked) > 2

    monkeypatch.setattr(ahead.PrepareAhead, "ready", ready_from_the_third_file)
    submitted = []
    submit = ahead.PrepareAhead.submit
    monkeypatch.setattr(ahead.PrepareAhead, "submit",
                        lambda self, entry: submitted.append(Path(entry.origin).name) or submit(self, entry))
    with open_store(tmp_path / "parallel.db") as store:
        # Every file is small (under the bytes that start a worker), and together they start one at the first.
        report = ingester(store, True, max(day.stat().st_size for day in days) + 1).ingest_paths(days)
    assert [r.prepared_apart for r in report.files] == [False, False, True, True, True, True]
    assert submitted == [day.name for day in days[2:]]
    with open_store(tmp_path / "alone.db") as store:
        assert outcome(ingester(store, False).ingest_paths(days)) == outcome(report)
    assert tables(tmp_path / "parallel.db") == tables(tmp_path / "alone.db")


def test_prepared_records_cross_the_pipe_unchanged():
    """Records, prepared records and item fields pickle by position (``Record.__reduce__``): every field of every
    record of each real format comes back equal, a year derived from the date and a repeated line's shared object
    included."""
    import pickle
    from paperfeed import merge, prepare
    from paperfeed.records import ParseContext
    seen_formats = set()
    for path in [*INPUTS, DATA / "arxiv_api" / "query_all-testing_start0_max100.xml", DATA / "csv" / "ACM.csv",
                 DATA / "news" / "guardian_us_2018-01-31.rss"]:
        name, prepared = prepare.parse(path.read_bytes(), ParseContext(str(path)), None, None)
        prepared = list(prepared)
        seen_formats.add(name)
        back = pickle.loads(pickle.dumps(prepared, protocol=5))
        assert back == prepared and len(back) > 0
        for before, after in zip(prepared, back):
            assert type(after.record) is type(before.record)
            for field_name in before.record.__slots__:
                assert getattr(after.record, field_name) == getattr(before.record, field_name), (path, field_name)
            # Made with the record (in the worker, on a large run): its stored data, and the fields of an item of it
            # alone, which the storing process takes as they come for a new item of one record.
            data = merge.record_data(before.record)
            assert after.data == data and type(after.alone) is merge.ItemFields
            assert after.alone == merge.resolve_item([data], [before.record.abstract]), path
        # Left to the storing process (prepare.Leave, while it waits for the worker): the same values once completed.
        for keys in (False, True):
            _, lean = prepare.parse(path.read_bytes(), ParseContext(str(path)), None, None,
                                    prepare.Leave(on=True, keys=keys))
            lean = pickle.loads(pickle.dumps(list(lean), protocol=5))
            assert all(p.alone is None and p.data_json is None for p in lean)
            assert all((p.block_keys is None and p.lookup_keys is None) == keys for p in lean)
            for p in lean:
                p.complete()
            assert lean == prepared, path
        # The same object twice in a batch (a repeated line) stays one object.
        twice = pickle.loads(pickle.dumps([prepared[0], prepared[0]], protocol=5))
        assert twice[0] is twice[1]
    assert len(seen_formats) >= 6
    dated = next(p for p in prepared if p.record.published)
    assert pickle.loads(pickle.dumps(dated.record)).year == int(dated.record.published[:4])


def test_the_message_reader_reads_what_send_bytes_wrote_and_stops_at_the_end():
    """``ahead.MessageReader`` against ``Connection.send_bytes``: empty, small, larger than the pipe and than the
    kept buffer (a buffer of its own), one after another in one buffer; then EOFError, as ``recv_bytes`` raises."""
    import threading
    from multiprocessing.connection import Connection
    read_end, write_end = os.pipe()
    sizes = [0, 9, 3 << 20, 1 << 10, 5 << 20, 17]
    messages = [os.urandom(size) for size in sizes]
    reader = ahead.MessageReader(read_end)
    reader.KEPT_BYTES = 4 << 20  # the 5 MB message is read into a buffer of its own

    def send_all() -> None:  # the worker's sending thread, here a thread of this process
        with Connection(write_end, readable=False) as sender:
            for message in messages:
                sender.send_bytes(message)

    writer = threading.Thread(target=send_all)
    writer.start()
    try:
        kept = []
        for message in messages:
            view = reader.next()
            assert bytes(view) == message
            kept.append(view.obj)
        assert kept[2] is kept[3] is kept[5] and kept[4] is not kept[2]  # reused, but not for the 5 MB one
        with pytest.raises(EOFError):
            reader.next()
    finally:
        writer.join()
        reader.close()


KILLED_PARENT = """
import sys, time
from paperfeed import ingest as ingest_module
from paperfeed.config import Settings
from paperfeed.ingest import Ingester, ahead
from paperfeed.storage import open_store
ingest_module.BATCH_SIZE = 50
workers = []
start = ahead.PrepareAhead.start
ahead.PrepareAhead.start = lambda *args: workers.append(start(*args)) or workers[-1]
def stall(count):
    print(workers[0]._process.pid, flush=True)
    time.sleep(600)
with open_store(sys.argv[1]) as store:
    made = Ingester(store, settings=Settings(ingest_parallel=True), on_records=stall)
    made.parallel_from_bytes = 0
    made.ingest_paths([sys.argv[2]])
"""


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (an exited one nobody reaped yet, a zombie, is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_the_worker_of_a_killed_ingest_ends_too(tmp_path):
    # 3,000 records: the worker is far ahead, blocked on the full pipe, when the ingest's process is killed.
    big = listing_file(tmp_path / "2026-01-05.jsonl", 3000)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-c", KILLED_PARENT, str(tmp_path / "store.db"), str(big)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline().strip()
        assert line.isdigit(), process.stderr.read()
        worker = int(line)
        assert _running(worker)
    finally:
        process.kill()
        process.wait(timeout=30)
        process.stdout.close()
        process.stderr.close()
    deadline = time.monotonic() + 20
    while _running(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    running = _running(worker)
    if running:
        os.kill(worker, signal.SIGKILL)
    assert not running, "the worker outlived the ingest that started it"


def test_the_worker_and_a_store_on_sqlite_do_not_load_the_postgresql_driver():
    """The worker's start bounds how soon a bulk load's second core works, and every command on SQLite waits for
    its imports: psycopg (0.2 s of them) is loaded only by opening a PostgreSQL store, and its errors count as store
    errors from then on."""
    probe = ("import sys, tempfile, pathlib\n"
             "from paperfeed.ingest.ahead import work\n"
             "from paperfeed.storage import open_store, store_errors\n"
             "with tempfile.TemporaryDirectory() as folder:\n"
             "    open_store(pathlib.Path(folder) / 'store.db').close()\n"
             "print('psycopg' in sys.modules, len(store_errors()))\n"
             "import psycopg\n"
             "print(psycopg.Error in store_errors())\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(SRC)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "2", "True"]
