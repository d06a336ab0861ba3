"""Keep the keyword and vector indexes in step with the store by replaying its change log."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import deque
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import orjson

from ..collector import fewer_collections
from ..progress import Progress
from ..storage import Store
from ..storage import SearchDocument
from .embed import Embedder
from .analysis import AnalysisAhead, Texts
from .keyword import SCHEMA_VERSION, KeywordIndex, document_texts
from .vectors import VectorIndex

BATCH = 5000
BULK_FROM_CHANGES = 50_000
"""Pending changes from which the keyword index is built as a bulk read (``Store.reading_much``, the collector's
bulk thresholds): reading 200,000 items' documents from the 2.7-million-item bench store, 23.7 µs an item as a
web process's pipeline reads a few changes, 15.6 µs so (docs/benchmarks.md, "Bootstrap")."""
ANALYSE_APART_FROM = 150_000
"""Pending changes from which their text is analysed by a second process (``analysis.AnalysisAhead``) while this one
reads the store and tantivy indexes. Its table of analysed words is cold at first, so the gain grows with the build
(bench/keyword_build.py, alternating, the 2-core machine; docs/benchmarks.md "Keyword index build"): 47,919 items
6.7-7.2 -> 8.3-8.4 s (slower), 150,000 25.0-25.4 -> 25.1-25.6 s with 13 % less CPU, 400,000 71.6-72.9 -> 64.2-64.8 s
with 19 % less. Below it tantivy's threads analyse the text as before."""
ANALYSED_AHEAD = 1
"""Batches handed to that process beyond the one being indexed (1, 2 and 4 measured alike; 1 holds the least)."""
# Save the vector graph (and record how far it got) this often, so a crash replays little.
COMMIT_EVERY = 50_000
KEYWORD_COMMIT_EVERY = 250_000
"""Changes between two commits of the keyword index. Each commit closes one segment per writer thread, and tantivy
merges the segments in the background (each merge rewrites them): a build of 300,000 items wrote 158 MB instead of
268 MB and took 6% less CPU than with a commit every 50,000 (bench/keyword_build.py, docs/benchmarks.md
"Bootstrap"); more at millions of items, where 50,000 makes over a hundred segments. A crash replays at most this
many changes, about half a minute of one core."""
SMALL_GRAPH = 200_000
"""Vectors up to which the graph is saved at every commit (past it, see ``Indexer._update_vector_index``)."""
VECTOR_SAVE_SECONDS = 120.0

def _one_callback(advance: Callable[[int], None] | None) -> Progress:
    """A ``Progress`` whose every part calls ``advance`` (or nothing)."""
    @contextmanager
    def part(description: str, total: int | None = None, unit: str = "records") -> Iterator[Callable[[int], None]]:
        yield advance or (lambda count: None)
    return part


STORE_ID = "store-id"
"""The name of a store's identity among its app secrets: recorded in each index built for the store."""


class SearchIndexError(RuntimeError):
    """An index directory that cannot be used (written by another model or schema)."""


def store_identity(store: Store) -> str:
    """The identity of ``store`` (made once, kept in the store): an index records it when it is built, so an
    index left beside a new store of the same path (a deleted file ingested again) is known for another's."""
    return store.app_secret(STORE_ID, make=lambda: uuid.uuid4().hex)


def foreign_index(state: "IndexState", directory: Path, identity: str) -> str | None:
    """Why the index in ``directory`` (its ``state``) belongs to another store than ``identity``'s; None when
    it is this store's, or holds nothing yet."""
    if state.store_id == identity:
        return None
    if state.store_id is not None:
        return f"the search index in {directory} was built for another store"
    keyword = directory / "keyword"
    holds = (state.keyword_seq or state.vector_seq or (directory / "vectors.usearch").exists()
             or (keyword.is_dir() and any(keyword.iterdir())))
    return f"the search index in {directory} does not say which store it was built for" if holds else None


def index_directory(store: Store, configured: str = "") -> Path:
    """Where a store's local search index files live: the configured directory, else the store's default
    (beside a SQLite file; under the user's data directory, per database, for PostgreSQL)."""
    if configured:
        return Path(configured).expanduser()
    return store.default_index_directory()


def embedding_text(document: SearchDocument) -> str:
    """The text an item is embedded from: its title, then its abstract."""
    return f"{document.title}. {document.abstract}" if document.abstract else document.title


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


@dataclass(slots=True)
class IndexState:
    """How far each index has applied the store's change log (``state.json``)."""

    keyword_seq: int = 0
    vector_seq: int = 0
    keyword_max_id: int = 0
    """The highest item id ever indexed: a higher id is new, with no old document to delete."""
    model: str | None = None
    dim: int | None = None
    schema: int = SCHEMA_VERSION
    store_id: str | None = None
    """The identity of the store the index was built for (``store_identity``)."""

    @classmethod
    def load(cls, directory: Path) -> "IndexState":
        path = directory / "state.json"
        if not path.exists():
            return cls()
        return cls(**orjson.loads(path.read_bytes()))

    def save(self, directory: Path) -> None:
        temporary = directory / "state.json.tmp"
        temporary.write_bytes(orjson.dumps({name: getattr(self, name) for name in self.__slots__}))
        temporary.replace(directory / "state.json")


@dataclass(slots=True)
class IndexReport:
    """What one ``update`` did."""

    indexed: int = 0
    deleted: int = 0
    embedded: int = 0
    reused_vectors: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def embeddings_per_second(self) -> float:
        return self.embedded / self.embed_seconds if self.embed_seconds else 0.0


class Indexer:
    """Apply the store's changes to the keyword index and (with an embedder) to the vector index."""

    def __init__(self, store: Store, directory: Path, embedder: Embedder | None) -> None:
        self.store = store
        self.directory = directory
        self.embedder = embedder
        directory.mkdir(parents=True, exist_ok=True)
        self.state = IndexState.load(directory)
        self.store_id = store_identity(store)
        self.notes: list[str] = []
        foreign = foreign_index(self.state, directory, self.store_id)
        if foreign is not None:
            # Its documents are another store's items (ids mean other items here): never search them; the
            # next update builds the index again from this store.
            self._drop_local()
            self.notes.append(f"{foreign}: rebuilding it from this store")
        self.state.store_id = self.store_id
        if self.state.schema != SCHEMA_VERSION:
            raise SearchIndexError(f"{directory} was built by another version: run `paperfeed index --rebuild`")
        if embedder is not None and self.state.model not in (None, embedder.name):
            raise SearchIndexError(f"{directory} holds {self.state.model} vectors, not {embedder.name}: "
                              "run `paperfeed index --rebuild` to switch models")

    def pending(self) -> dict[str, int]:
        """Changes not yet applied, per index."""
        result = {"keyword": self.store.pending_search_changes(self.state.keyword_seq)}
        if self.embedder is not None:
            result["semantic"] = self.store.pending_search_changes(self.state.vector_seq)
        return result

    def _drop_local(self) -> None:
        """Remove the index files in the directory and start its state afresh (for this store)."""
        KeywordIndex.remove(self.directory / "keyword")
        (self.directory / "vectors.usearch").unlink(missing_ok=True)
        self.state = IndexState(store_id=getattr(self, "store_id", None))
        self.state.save(self.directory)

    def rebuild(self, advance: Callable[[int], None] | None = None, progress: Progress | None = None) -> IndexReport:
        """Drop both indexes and build them again from the store (stored vectors are reused)."""
        self._drop_local()
        return self.update(advance, progress)

    def update(self, advance: Callable[[int], None] | None = None, progress: Progress | None = None) -> IndexReport:
        """Apply every pending change: the keyword index first, whole, then the vectors; resumable: a crash
        replays at most the last uncommitted part of each.

        Keyword search is complete once the first part commits, so a large load (the whole arXiv snapshot) is
        searchable by keyword while its embeddings catch up (``SearchResults.coverage`` says how far they are).
        ``progress(description, total)`` gives each part its own bar with an ETA (``progress.record_progress``);
        ``advance(count)`` alone is called for both parts' changes."""
        started = time.perf_counter()
        report = IndexReport(notes=self._take_notes())
        part = progress or _one_callback(advance)
        pending = self.pending()
        with part("keyword index", pending["keyword"]) as step:
            with ExitStack() as bulk_read:
                if pending["keyword"] >= BULK_FROM_CHANGES:
                    # Reading much of the store: a larger page cache, and the collector's bulk thresholds (each
                    # batch makes tens of thousands of short-lived objects).
                    bulk_read.enter_context(self.store.reading_much())
                    bulk_read.enter_context(fewer_collections())
                self._update_keyword_index(report, step, apart=pending["keyword"] >= ANALYSE_APART_FROM)
        if self.embedder is not None:
            with part("embeddings", pending["semantic"]) as step:
                report.deleted = max(report.deleted, self._update_vector_index(report, step))
        report.seconds = time.perf_counter() - started
        return report

    def _update_keyword_index(self, report: IndexReport, advance: Callable[[int], None], apart: bool = False) -> None:
        """``apart``: the text is analysed by a second process (``analysis.AnalysisAhead``; a large update)."""
        keyword = KeywordIndex(self.directory / "keyword")
        if self.state.keyword_seq == 0 and keyword.document_count() == 0:
            self.state.keyword_max_id = 0
        seq, since_commit = self.state.keyword_seq, 0
        ahead = AnalysisAhead.start() if apart else None
        try:
            for batch_seq, ids, documents, analysed in self._analysed_batches(seq, ahead):
                known = self.state.keyword_max_id
                keyword.update([documents[i] for i in ids if i in documents],
                               [i for i in ids if i not in documents and i <= known],
                               replace=[i for i in ids if i in documents and i <= known], analysed=analysed)
                report.indexed += len(documents)
                report.deleted += len(ids) - len(documents)
                self.state.keyword_max_id = max(known, max(ids))
                seq = batch_seq
                since_commit += len(ids)
                advance(len(ids))
                if since_commit >= KEYWORD_COMMIT_EVERY:
                    keyword.commit()
                    self._keyword_done(seq)
                    since_commit = 0
            keyword.resume_lists()  # when a stopped run left them unmade: the close below makes them
        finally:
            if ahead is not None:
                ahead.close()
            # How far it got is recorded at the last commit, before the merges and the pair lists: keyword search
            # is complete from there (a bootstrap's first searches need not wait for them).
            keyword.close(committed=lambda: self._keyword_done(seq))
            self._keyword_done(seq)

    def _analysed_batches(self, seq: int, ahead: AnalysisAhead | None
                          ) -> Iterator[tuple[int, list[int], dict[int, SearchDocument], list[Texts] | None]]:
        """``_change_batches`` with each batch's documents analysed by ``ahead`` (None: by the index as it adds
        them): the next ``ANALYSED_AHEAD`` batches are read and handed over before a batch is given back, so that
        the other process analyses them while this one indexes."""
        if ahead is None:
            for batch_seq, ids, documents in self._change_batches(seq):
                yield batch_seq, ids, documents, None
            return
        read: deque[tuple[int, list[int], dict[int, SearchDocument]]] = deque()
        for batch in self._change_batches(seq):
            _, ids, documents = batch
            ahead.submit([document_texts(documents[i]) for i in ids if i in documents])  # in ``update``'s order
            read.append(batch)
            if len(read) > ANALYSED_AHEAD:
                yield *read.popleft(), ahead.take()
        while read:
            yield *read.popleft(), ahead.take()

    def _change_batches(self, seq: int) -> Iterator[tuple[int, list[int], dict[int, SearchDocument]]]:
        """The change log after ``seq``, a batch at a time: (the batch's last position, the changed item ids, the
        documents of those still in the store; an id without one was deleted)."""
        while changes := self.store.search_changes(seq, BATCH):
            seq = changes[-1][0]
            ids = [item_id for _, item_id in changes]
            yield seq, ids, self.store.item_documents(ids)

    def _keyword_done(self, seq: int) -> None:
        self.state.keyword_seq = max(self.state.keyword_seq, seq)
        self.state.save(self.directory)

    def _update_vector_index(self, report: IndexReport, advance: Callable[[int], None]) -> int:
        """Apply the changes after ``state.vector_seq`` to the local vector graph; return how many were deletions.

        Saving rewrites the whole graph, so past ``SMALL_GRAPH`` vectors it is saved at most every
        ``VECTOR_SAVE_SECONDS`` (or four times as long as the last save took), and at the end: readers see the
        catch-up move in steps, and saving costs at most a fifth of the run."""
        assert self.embedder is not None
        self.state.model, self.state.dim = self.embedder.name, self.embedder.dim
        vectors = VectorIndex(self.directory / "vectors.usearch", self.embedder.dim, writable=True)
        seq, since_save, deleted = self.state.vector_seq, 0, 0
        saved_at, save_seconds = time.monotonic(), 0.0
        try:
            for batch_seq, ids, documents in self._change_batches(seq):
                gone = [item_id for item_id in ids if item_id not in documents]
                self._update_vectors(vectors, [documents[i] for i in ids if i in documents], gone, report)
                deleted += len(gone)
                seq = batch_seq
                since_save += len(ids)
                advance(len(ids))
                waited = time.monotonic() - saved_at
                if since_save >= COMMIT_EVERY and (len(vectors) < SMALL_GRAPH
                                                   or waited >= max(VECTOR_SAVE_SECONDS, 4 * save_seconds)):
                    save_seconds = self._save_vectors(vectors, seq)
                    saved_at, since_save = time.monotonic(), 0
        finally:
            self._save_vectors(vectors, seq)
        return deleted

    def _save_vectors(self, vectors: VectorIndex, seq: int) -> float:
        """Save the graph and record how far it got; return the seconds the save took."""
        started = time.perf_counter()
        vectors.save()
        self.state.vector_seq = max(self.state.vector_seq, seq)
        self.state.save(self.directory)
        return time.perf_counter() - started

    def _take_notes(self) -> list[str]:
        notes, self.notes = self.notes, []
        return notes

    def _update_vectors(self, vectors: VectorIndex, documents: list[SearchDocument], deleted: list[int],
                        report: IndexReport) -> None:
        assert self.embedder is not None
        vectors.remove(deleted)
        if not documents:
            return
        texts = [embedding_text(document) for document in documents]
        hashes = [text_hash(text) for text in texts]
        stored = self.store.item_vectors(self.embedder.name, [document.id for document in documents])
        matrix = np.zeros((len(documents), self.embedder.dim), dtype=np.float32)
        to_embed = []
        for row, (document, digest) in enumerate(zip(documents, hashes)):
            previous = stored.get(document.id)
            if previous is not None and previous[0] == digest:
                matrix[row] = np.frombuffer(previous[1], dtype=np.float16)
                report.reused_vectors += 1
            else:
                to_embed.append(row)
        if to_embed:
            started = time.perf_counter()
            fresh = self.embedder.embed([texts[row] for row in to_embed])
            report.embed_seconds += time.perf_counter() - started
            report.embedded += len(to_embed)
            matrix[to_embed] = fresh
            self.store.save_item_vectors(self.embedder.name, [
                (documents[row].id, hashes[row], fresh[position].astype(np.float16).tobytes())
                for position, row in enumerate(to_embed)
            ])
        vectors.upsert([document.id for document in documents], matrix)
