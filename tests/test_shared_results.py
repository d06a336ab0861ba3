"""Search results shared by the processes serving one index (a server's workers): ``storage.SharedCache``, a SQLite
file of bytes, and ``search.SharedResults`` on it, under each process's own result cache."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from paperfeed.config import Settings
from paperfeed.ingest import Ingester
from paperfeed.search import index_directory, open_indexer
from paperfeed.search.service import ResultCache, SearchService, SharedResults, shared_results
from paperfeed.storage import SharedCache, open_store
from paperfeed.storage import shared_cache as shared_cache_module

from datafiles import LISTING, TOPIC_PAGE


def test_two_connections_share_entries_and_the_oldest_go_first(tmp_path, monkeypatch):
    monkeypatch.setattr(shared_cache_module, "TRIM_EVERY", 10)
    path = tmp_path / "cache.sqlite"
    one, other = SharedCache(path, entries=25), SharedCache(path, entries=25)
    assert one.get(b"k0") is None
    for number in range(100):
        one.put(f"k{number}".encode(), f"value {number}".encode())
    one.flush()
    assert other.get(b"k99") == b"value 99"  # written by one, read by the other (as another process would)
    assert other.get(b"k0") is None  # trimmed: at most entries (+ the writes since the last trim) are kept
    kept = [number for number in range(100) if other.get(f"k{number}".encode()) is not None]
    assert kept == list(range(100 - len(kept), 100)) and 25 <= len(kept) < 35
    one.put(b"k0", b"again")  # written again: the newest
    one.flush()
    assert other.get(b"k0") == b"again"
    one.put(b"big", b"x" * (shared_cache_module.MAX_VALUE_BYTES + 1))
    one.flush()
    assert one.get(b"big") is None
    one.close(), other.close()


def test_a_file_that_is_not_a_database_is_started_again(tmp_path, caplog):
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"this is not SQLite " * 500)
    cache = SharedCache(path, entries=10)
    with caplog.at_level(logging.WARNING, logger="paperfeed.storage"):
        cache.put(b"key", b"value")
        cache.flush()
    assert cache.get(b"key") == b"value"
    assert "unreadable" in caplog.text and "starting it again" in caplog.text


def test_a_cache_that_cannot_be_written_is_done_without(tmp_path, caplog):
    blocked = tmp_path / "a-file"
    blocked.write_text("in the way of the cache's folder")
    cache = SharedCache(blocked / "cache.sqlite", entries=10)
    with caplog.at_level(logging.WARNING, logger="paperfeed.storage"):
        cache.put(b"key", b"value")  # no exception: the caller goes on without it
        cache.flush()
        assert cache.get(b"key") is None
    assert "going on without it" in caplog.text


def test_a_process_reads_what_another_process_wrote(tmp_path):
    path = tmp_path / "cache.sqlite"
    here = SharedCache(path, entries=10)
    here.put(b"from here", b"hello")
    here.flush()
    code = ("import sys; from paperfeed.storage import SharedCache; c = SharedCache(sys.argv[1], 10); "
            "sys.stdout.write(c.get(b'from here').decode()); c.put(b'from there', b'world'); c.flush()")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60,
                          env={**os.environ})
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello"
    assert SharedCache(path, entries=10).get(b"from there") == b"world"


@pytest.fixture
def indexed_store(tmp_path):
    url = str(tmp_path / "store.db")
    settings = Settings.load(db=url, embedder="none")
    with open_store(url) as store:
        Ingester(store).ingest_paths([LISTING])
        open_indexer(store, settings, vectors=False).update()
        yield store, settings


def _worker(store, settings) -> SearchService:
    """A search service as one worker of a server has it: its own result cache, the shared file."""
    directory = index_directory(store, settings.index_dir)
    return SearchService(store, directory, None, cache=ResultCache(hits=1000),
                         shared=SharedResults(SharedCache(directory / "shared-results.sqlite", 100)))


def test_a_search_one_worker_ran_is_not_run_again_by_another(indexed_store, monkeypatch):
    store, settings = indexed_store
    first, second = _worker(store, settings), _worker(store, settings)
    ran: list[str] = []
    original = SearchService._search

    def counting(self, text, *args, **kwargs):
        ran.append(text)
        return original(self, text, *args, **kwargs)

    monkeypatch.setattr(SearchService, "_search", counting)
    answer = first.search("language models", mode="keyword", limit=20)
    assert len(answer.hits) == 20 and ran == ["language models"]
    first.shared.cache.flush()  # written by a thread: this test reads it at once
    again = second.search("language models", mode="keyword", limit=20)
    assert ran == ["language models"]  # the second worker found it in the shared file
    assert [hit.to_dict() for hit in again.hits] == [hit.to_dict() for hit in answer.hits]
    assert (again.query, again.mode, again.total, again.behind, again.note, again.coverage) == \
        (answer.query, answer.mode, answer.total, answer.behind, answer.note, answer.coverage)
    assert second.cached("language models", mode="keyword", limit=20) is not None  # now kept by the second too
    # Another page, mode or query is another entry.
    second.search("language models", mode="keyword", limit=20, offset=20)
    assert ran == ["language models", "language models"]

    # A change of the store: nothing kept for the old version is served.
    Ingester(store).ingest_paths([TOPIC_PAGE])
    open_indexer(store, settings, vectors=False).update()
    third = _worker(store, settings)
    third.search("language models", mode="keyword", limit=20)
    assert ran == ["language models"] * 3


def test_the_web_app_s_services_share_one_file_per_index(indexed_store):
    store, settings = indexed_store
    directory = index_directory(store, settings.index_dir)
    shared = shared_results(directory, settings.search_cache_hits)
    assert shared is shared_results(directory, settings.search_cache_hits)
    assert shared.cache.path == directory / "shared-results.sqlite"
    assert shared.cache.entries == settings.search_cache_hits // 4
    assert shared_results(directory, 0) is None  # the result cache off: nothing shared either
