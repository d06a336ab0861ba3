"""Keyword search on a PostgreSQL store: the database's full text, served by a local tantivy copy while it is current.

On SQLite the keyword index is a tantivy directory beside the store. A PostgreSQL store is shared by several
app servers, so its keyword index of record lives in the database (``storage/postgres_fulltext.py``: a
weighted tsvector per item under a GIN index), brought up to date from the change log with its progress kept
there, so every server can search it at once and none is ever behind it. Ranking in the database reads
every match of a common word (its p99 was 8.5x SQLite's on the same store; docs/benchmarks.md), so each app
host also keeps a tantivy copy in its index directory, built from the same change log by the same indexer
run (``paperfeed index``, ingest, sync) after the database's full text, as it keeps its vector graph. A
search is answered by that copy only while it has applied at least as much of the change log as the
database's full text; otherwise (a host that has not indexed since another host ingested, a new host, a copy
being rebuilt) by the database. So a search is never staler than the database's full text, and a host
whose indexer runs as often as the store changes ranks like SQLite (BM25 with proximity).

``DatabaseKeywordIndex`` reads like ``KeywordIndex`` (search, count, tokens, document_count) so that
``SearchService`` serves both; ``DatabaseIndexer`` updates the full text through the store, then the local
copies as ``Indexer`` does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from ..storage import Store
from ..storage import FullTextQuery, FullTextStorage
from .indexer import BATCH, IndexReport, IndexState, Indexer, Progress, store_identity
from .analysis import text_analyzer
from .keyword import SCHEMA_VERSION, KeywordHit, KeywordIndex, topic_slug
from .query import ParsedQuery

# What tantivy's simple tokenizer calls a token: a run of letters and digits.
_TOKEN = re.compile(r"[^\W_]+")


def keeps_fulltext(store: Store) -> bool:
    """Whether ``store`` holds its own keyword index (PostgreSQL) rather than a tantivy directory."""
    return isinstance(store, FullTextStorage)


def open_keyword_index(store: Store, directory: Path) -> "KeywordIndex | DatabaseKeywordIndex":
    """The keyword index a search over ``store`` reads: the database's (with the local copy in ``directory``),
    or tantivy in ``directory``."""
    return DatabaseKeywordIndex(store, directory) if keeps_fulltext(store) else KeywordIndex(directory / "keyword")


def indexer_class(store: Store) -> type[Indexer]:
    return DatabaseIndexer if keeps_fulltext(store) else Indexer


def fulltext_query(parsed: ParsedQuery, any_word: bool = False) -> FullTextQuery:
    """``parsed`` in the terms the database matches: filter values normalised as the tantivy index has them."""
    prefixes = []
    for prefix in parsed.prefixes:
        tokens = _TOKEN.findall(prefix)
        if tokens:  # as in KeywordIndex._prefix: the last word of ``foo-bar*`` is the prefix
            prefixes.append(tokens[-1])
    filters = parsed.filters
    return FullTextQuery(
        words=parsed.terms + parsed.phrases, prefixes=prefixes, excluded=list(parsed.excluded), any_word=any_word,
        authors=filters.get("author", []), sources=filters.get("source", []),
        categories=[value.lower() for value in filters.get("category", [])],
        topics=[topic_slug(value) for value in filters.get("topic", [])],
        kinds=[value.lower() for value in filters.get("kind", [])],
        after=parsed.after, before=parsed.before,
    )


class DatabaseKeywordIndex:
    """Keyword search of a store that keeps its full text, read like ``KeywordIndex``: answered by the tantivy
    copy in ``directory`` while it is current (see the module docstring), else by the database."""

    def __init__(self, store: Store, directory: Path | None = None) -> None:
        assert isinstance(store, FullTextStorage)
        self.store = store
        self.directory = directory
        """This host's index directory; None: the database's full text answers every search."""
        # Snippets and semantic-result filters analyse words on this side; the same Snowball English stemmer
        # as PostgreSQL's 'english' configuration.
        self._text = text_analyzer()
        self._local: KeywordIndex | None = None
        self._state_version: tuple[int, int, int] | None = None
        self._local_seq: int | None = None
        self._store_id: str | None = None

    def tokens(self, text: str) -> list[str]:
        """The index terms of ``text`` (lowercased, folded, stemmed, stop words dropped)."""
        return self._text.analyze(text)

    def local_seq(self) -> int | None:
        """How far the local tantivy copy has applied the store's change log; None when there is no copy of
        this store's (none built, another store's, another schema's). Read again only when state.json changes."""
        if self.directory is None:
            return None
        try:
            stat = (self.directory / "state.json").stat()
            # Each save replaces the file (a new inode): two saves within the clock's resolution still differ.
            version = (stat.st_mtime_ns, stat.st_ino, stat.st_size)
        except FileNotFoundError:
            version = None
        if version != self._state_version:
            self._state_version, self._local_seq = version, None
            if version is not None:
                state = IndexState.load(self.directory)
                if self._store_id is None:
                    self._store_id = store_identity(self.store)
                # The indexer commits the copy before it records its progress: a recorded seq is in the copy.
                if (state.store_id == self._store_id and state.schema == SCHEMA_VERSION
                        and (self.directory / "keyword" / "meta.json").exists()):
                    self._local_seq = state.keyword_seq
        return self._local_seq

    def _serving(self) -> tuple[KeywordIndex | None, int]:
        """The local copy (None: the database) that answers now, and how far it has applied the change log."""
        database_seq = self.store.fulltext_progress()
        local_seq = self.local_seq()
        if local_seq is None or local_seq < database_seq:
            return None, database_seq
        if self._local is None:
            assert self.directory is not None
            self._local = KeywordIndex(self.directory / "keyword")
        return self._local, local_seq

    @property
    def serving(self) -> str:
        """Which index answers a search now: "local" (this host's tantivy copy) or "database"."""
        return "database" if self._serving()[0] is None else "local"

    def document_count(self) -> int:
        local, _ = self._serving()
        return self.store.fulltext_count() if local is None else local.document_count()

    def applied_seq(self) -> int:
        """How far the index that answers now has applied the store's change log."""
        return self._serving()[1]

    def search(self, parsed: ParsedQuery, limit: int = 10, offset: int = 0, any_word: bool = False,
               proximity: bool = True) -> list[KeywordHit]:
        """Best ``limit`` items after ``offset``, as ``KeywordIndex.search``: all words, else any word
        (``proximity`` applies to the local copy; the database's full text ranks as it always does)."""
        local, _ = self._serving()
        if local is not None:
            return local.search(parsed, limit, offset, any_word, proximity=proximity)
        hits = self._run(parsed, limit, offset, any_word)
        parts = len(parsed.terms) + len(parsed.phrases) + len(parsed.prefixes)
        if not hits and not any_word and offset == 0 and parts > 1:
            hits = self._run(parsed, limit, offset, True)
        return hits

    def count(self, parsed: ParsedQuery) -> int:
        """How many items ``search`` draws from in all, as ``KeywordIndex.count``."""
        local, _ = self._serving()
        if local is not None:
            return local.count(parsed)
        total = self.store.fulltext_matches(fulltext_query(parsed, False))
        if not total and len(parsed.terms) + len(parsed.phrases) + len(parsed.prefixes) > 1:
            total = self.store.fulltext_matches(fulltext_query(parsed, True))
        return total

    def _run(self, parsed: ParsedQuery, limit: int, offset: int, any_word: bool) -> list[KeywordHit]:
        ranked = self.store.fulltext_search(fulltext_query(parsed, any_word), limit, offset)
        return [KeywordHit(item_id, score if parsed.has_text else 0.0) for item_id, score in ranked]


class DatabaseIndexer(Indexer):
    """Keep a store's search indexes in step: the full text in the database first (shared by every app server,
    the index of record), then this host's copies in ``directory`` as ``Indexer`` does: the tantivy keyword
    copy and, with an embedder, the vector graph."""

    def pending(self) -> dict[str, int]:
        # Keyword search is current once the database's full text is: it answers while the copy is behind.
        result = {"keyword": self.store.pending_search_changes(self.store.fulltext_progress())}
        if self.embedder is not None:
            result["semantic"] = self.store.pending_search_changes(self.state.vector_seq)
        return result

    def rebuild(self, advance: Callable[[int], None] | None = None, progress: Progress | None = None) -> IndexReport:
        """Replay the whole change log into the full text and build the local copies again (stored vectors are
        reused)."""
        self.store.reset_fulltext()
        self._drop_local()
        return self.update(advance, progress)

    def _update_keyword_index(self, report: IndexReport, advance: Callable[[int], None], apart: bool = False) -> None:
        """The full text in the database first (each batch commits with its progress), then this host's tantivy
        copy as ``Indexer`` builds it. The database goes first, so a local failure (another indexer on this host
        holds the tantivy writer) leaves every app server's keyword search current."""
        indexed = deleted = 0
        while True:
            batch = self.store.apply_fulltext_changes(BATCH)
            if not batch.changes:
                break
            indexed += batch.indexed
            deleted += batch.deleted
            advance(batch.changes)
        local = IndexReport()
        super()._update_keyword_index(local, advance, apart)
        # Items indexed are counted once: the database and the copy apply the same changes, but either may
        # have been further along (a new host builds its copy of a current database).
        report.indexed += max(indexed, local.indexed)
        report.deleted += max(deleted, local.deleted)
