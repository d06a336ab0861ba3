"""The embeddings and extractive TL;DRs of a large change in a second process, beside the author identity refresh
(``pipeline.beside``): the same rows and vectors as in one process, a fallback when the child fails, Ctrl-C, a child
that ends with its parent, and bars of two steps at once on one display."""

from __future__ import annotations

import io
import logging
import pickle
import subprocess
import sys
import threading
import time
from array import array
from pathlib import Path
from contextlib import contextmanager

import pytest

from paperfeed import progress as progress_module
from paperfeed.config import Settings
from paperfeed.ingest import Ingester
from paperfeed.pipeline import after_ingest
from paperfeed.storage import open_store
from paperfeed.pipeline import beside
from paperfeed.search import open_search

from datafiles import LISTING


@pytest.fixture
def listing_store(backend_url):
    with open_store(backend_url) as store:
        report = Ingester(store).ingest_paths([LISTING])
        yield store, sorted(set(report.changed_item_ids))


@pytest.fixture
def started(monkeypatch) -> list:
    """Every ``StepsBeside.start`` answer of the test, in order (None where no child was started)."""
    answers: list = []
    original_start = beside.StepsBeside.start.__func__

    def spy(cls, *args, **kwargs):
        answers.append(original_start(cls, *args, **kwargs))
        return answers[-1]

    monkeypatch.setattr(beside.StepsBeside, "start", classmethod(spy))
    return answers


def _settings(store, embedder: str = "none") -> Settings:
    return Settings.load(db=store.url, embedder=embedder, secret_key="test-secret-key")


def _tldr_rows(store) -> list[tuple]:
    """Every item's TL;DR: text, origin, the abstract it was made from, and whether that is the current one."""
    ids = store.item_ids_after(0, 10**9)
    stored = store.tldr_rows(ids)
    return sorted((entry.item_id, stored[entry.item_id]["text"], stored[entry.item_id]["origin"], entry.stored_hash,
                   entry.current) for entry in store.tldr_inputs(ids))


def test_a_large_change_gets_its_tldrs_from_a_second_process_the_same_as_from_one(listing_store, monkeypatch,
                                                                                   started):
    store, changed = listing_store
    monkeypatch.setattr(beside, "BESIDE_MIN_ITEMS", 1)
    bars: dict[str, list[int]] = {}

    @contextmanager
    def progress(description: str, total: int | None = None, unit: str = "records"):
        bar = bars.setdefault(description, [total, 0])
        yield lambda count: bar.__setitem__(1, bar[1] + count)

    done = after_ingest(store, _settings(store), changed, index=False, progress=progress)
    assert done.ok, done.errors
    assert len(started) == 1 and started[0] is not None and started[0].result.tldr == len(changed) > 100
    assert done.tldr.extractive == len(changed)
    assert bars["TL;DRs"] == [len(changed), len(changed)]  # counted by this process, from the child's lines
    beside_rows = _tldr_rows(store)

    # The same change again in one process (below the threshold): the same TL;DRs.
    store.forget_tldrs(changed)
    monkeypatch.setattr(beside, "BESIDE_MIN_ITEMS", 10**9)
    again = after_ingest(store, _settings(store), changed, index=False)
    assert again.ok and again.tldr.extractive == len(changed)
    assert _tldr_rows(store) == beside_rows
    assert all(row[-1] for row in beside_rows)


def test_the_embeddings_are_made_beside_too_as_one_process_makes_them(backend_url, pg_url_or_none, tmp_path,
                                                                      monkeypatch, started):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))  # where a PostgreSQL store's index goes
    answers = []
    for threshold, url in ((1, backend_url), (10**9, _another(backend_url, pg_url_or_none, tmp_path))):
        monkeypatch.setattr(beside, "BESIDE_MIN_ITEMS", threshold)
        with open_store(url) as store:
            changed = sorted(set(Ingester(store).ingest_paths([LISTING]).changed_item_ids))
            settings = _settings(store, embedder="wordllama")
            done = after_ingest(store, settings, changed)
            assert done.ok, done.errors
            assert done.index.indexed == done.index.embedded == len(changed) > 100
            assert done.tldr.extractive == len(changed)
            service = open_search(store, settings)
            assert service.coverage("semantic") == {}  # the vectors are current: nothing catching up
            assert service.search("robot grasping", mode="semantic", limit=10).hits
            # The vectors stored, by paper (item ids may differ between two PostgreSQL databases: sequences skip).
            papers = {item_id: document.arxiv_id or document.title
                      for item_id, document in store.item_documents(changed, facets=False).items()}
            answers.append({papers[item_id]: stored
                            for item_id, stored in store.item_vectors(service.embedder.name, changed).items()})
    assert len(started) == 1 and started[0].steps == ("vectors", "tldr")  # the first run only
    assert started[0].result.index.embedded == len(changed)
    assert len(answers[0]) == len(changed) and answers[0] == answers[1]


@pytest.fixture
def pg_url_or_none(request, backend_url):
    return request.getfixturevalue("pg_server") if not backend_url.endswith(".db") else None


def _another(backend_url: str, pg_server, tmp_path) -> str:
    """A second, empty store on the same backend."""
    if pg_server is None:
        return str(tmp_path / "another.db")
    return pg_server.create_database("paperfeed_steps_beside_other")


def test_a_child_that_fails_leaves_the_step_to_this_process(listing_store, monkeypatch, caplog):
    store, changed = listing_store
    monkeypatch.setattr(beside, "BESIDE_MIN_ITEMS", 1)
    monkeypatch.setattr(beside, "start_python", lambda code, **popen: subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.exit('cannot open the store')"], **popen))
    with caplog.at_level(logging.WARNING, logger="paperfeed.summaries"):
        done = after_ingest(store, _settings(store), changed, index=False)
    assert done.ok, done.errors
    assert done.tldr.extractive == len(changed) > 100
    assert all(row[-1] for row in _tldr_rows(store))
    assert "the steps beside the identities failed (exit status 1): cannot open the store" in caplog.text


def _long_child(on_interrupt: str, ready: Path):
    """``start_python`` starting a stand-in child that sleeps a minute (as a long embedding would) and on SIGINT
    does ``on_interrupt``; it makes the file ``ready`` once it has its handler. The first process's side of Ctrl-C,
    checked without racing a real child's speed."""
    code = ("import pathlib, signal, sys, time\n"
            f"signal.signal(signal.SIGINT, {on_interrupt})\n"
            f"pathlib.Path({str(ready)!r}).touch()\n"
            "time.sleep(60)\n")
    return lambda _code, **popen: subprocess.Popen([sys.executable, "-c", code], **popen)


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_ctrl_c_during_the_identities_stops_the_child(listing_store, monkeypatch, tmp_path, started):
    store, changed = listing_store
    ready = tmp_path / "ready"

    def interrupted(*args, **kwargs):
        _wait_for(ready)  # the child is at work
        raise KeyboardInterrupt

    monkeypatch.setattr(beside, "BESIDE_MIN_ITEMS", 1)
    monkeypatch.setattr(beside, "start_python", _long_child("lambda *a: sys.exit(7)", ready))
    monkeypatch.setattr("paperfeed.pipeline._refresh_identities", interrupted)
    with pytest.raises(KeyboardInterrupt):
        after_ingest(store, _settings(store), changed, index=False)
    child = started[0]
    assert child._process.returncode == 7  # it was given the Ctrl-C, and stopped as it chose to
    assert not child._talking.is_alive()
    assert child.result is None


def test_a_child_that_does_not_stop_on_ctrl_c_is_killed(listing_store, monkeypatch, tmp_path):
    store, changed = listing_store
    monkeypatch.setattr(beside, "STOP_SECONDS", 0.5)
    monkeypatch.setattr(beside, "start_python", _long_child("signal.SIG_IGN", tmp_path / "ready"))
    child = beside.StepsBeside.start(store, _settings(store), changed, ("tldr",))
    _wait_for(tmp_path / "ready")
    child.close(interrupted=True)
    assert child._process.returncode == -9


def test_the_child_ends_when_its_parent_is_gone(sqlite_store):
    # A job long enough to be under way (5 million ids, none stored: 5,000 empty reads), then the parent's end of
    # stdin closes, as when the parent is killed: the child stops at once, writing nothing more.
    job = pickle.dumps((sqlite_store.url, Settings.load(db=sqlite_store.url, embedder="none"),
                        array("q", range(10**7, 10**7 + 5_000_000)).tobytes(), ("tldr",)))
    child = subprocess.Popen([sys.executable, "-c", "from paperfeed.pipeline.beside import work; work()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    child.stdin.write(beside._LENGTH.pack(len(job)) + job)
    child.stdin.close()
    answers = child.stdout.read()
    child.wait(timeout=30)
    assert child.returncode == 1
    assert b"result" not in answers


def test_the_child_that_gets_no_job_says_so():
    child = subprocess.run([sys.executable, "-c", "from paperfeed.pipeline.beside import work; work()"],
                           input=b"\x10\x00", capture_output=True, timeout=30)
    assert child.returncode == 1
    assert b"the job ended early: the parent process is gone" in child.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_open_at_once_share_one_display(monkeypatch):
    # rich allows one live display per console: a second bar opened while the first runs (the TL;DRs' thread
    # beside the identities) must join it, not fail with "Only one live display may be active at once".
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("COLUMNS", "160")  # one line a bar
    opened = threading.Event()
    with progress_module.record_progress("author identities", 40, unit="names") as identities:
        def other() -> None:
            with progress_module.record_progress("TL;DRs", 30, unit="papers") as tldrs:
                tldrs(30)
                opened.set()

        thread = threading.Thread(target=other)
        thread.start()
        identities(40)
        thread.join(timeout=10)
        assert opened.is_set()
        assert progress_module._Display._current is not None
    assert progress_module._Display._current is None  # the last bar closed stops the display
    shown = terminal.getvalue()
    assert "author identities" in shown and "TL;DRs" in shown
    assert "of ~40 names" in shown and "of ~30 papers" in shown
