"""Keyword search in the database (PostgreSQL full text) for stores that keep their keyword index themselves.

On SQLite the keyword index is a tantivy directory beside the store. A PostgreSQL store is shared by several
app servers, so its keyword index lives in the database (``storage/postgres_fulltext.py``: a weighted tsvector
per item under a GIN index) and every server searches the same one; the indexer's progress on it is kept in
the database too. Only the vector graph (usearch) stays a local file per machine, with its progress in the
index directory's ``state.json``, as on SQLite.

``DatabaseKeywordIndex`` reads like ``KeywordIndex`` (search, tokens, document_count) so that
``SearchService`` serves both; ``DatabaseIndexer`` updates the full text through the store and the
vectors as ``Indexer`` does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from ..storage import Store
from ..storage import FullTextQuery, FullTextStorage
from .indexer import BATCH, IndexReport, IndexState, Indexer, Progress
from .keyword import KeywordHit, KeywordIndex, _text_analyzer, topic_slug
from .query import ParsedQuery

# What tantivy's simple tokenizer calls a token: a run of letters and digits.
_TOKEN = re.compile(r"[^\W_]+")


def keeps_fulltext(store: Store) -> bool:
    """Whether ``store`` holds its own keyword index (PostgreSQL) rather than a tantivy directory."""
    return isinstance(store, FullTextStorage)


def open_keyword_index(store: Store, directory: Path) -> "KeywordIndex | DatabaseKeywordIndex":
    """The keyword index a search over ``store`` reads: in the database, or tantivy in ``directory``."""
    return DatabaseKeywordIndex(store) if keeps_fulltext(store) else KeywordIndex(directory / "keyword")


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
    """Keyword search run by the store's full text, read like ``KeywordIndex``."""

    def __init__(self, store: Store) -> None:
        assert isinstance(store, FullTextStorage)
        self.store = store
        # Snippets and semantic-result filters analyse words on this side; the same Snowball English stemmer
        # as PostgreSQL's 'english' configuration.
        self._text = _text_analyzer()

    def tokens(self, text: str) -> list[str]:
        """The index terms of ``text`` (lowercased, folded, stemmed, stop words dropped)."""
        return self._text.analyze(text)

    def document_count(self) -> int:
        return self.store.fulltext_count()

    def applied_seq(self) -> int:
        """How far the full text has applied the store's change log."""
        return self.store.fulltext_progress()

    def search(self, parsed: ParsedQuery, limit: int = 10, offset: int = 0, any_word: bool = False) -> list[KeywordHit]:
        """Best ``limit`` items after ``offset``, as ``KeywordIndex.search``: all words, else any word."""
        hits = self._run(parsed, limit, offset, any_word)
        parts = len(parsed.terms) + len(parsed.phrases) + len(parsed.prefixes)
        if not hits and not any_word and offset == 0 and parts > 1:
            hits = self._run(parsed, limit, offset, True)
        return hits

    def count(self, parsed: ParsedQuery) -> int:
        """How many items ``search`` draws from in all, as ``KeywordIndex.count``."""
        total = self.store.fulltext_matches(fulltext_query(parsed, False))
        if not total and len(parsed.terms) + len(parsed.phrases) + len(parsed.prefixes) > 1:
            total = self.store.fulltext_matches(fulltext_query(parsed, True))
        return total

    def _run(self, parsed: ParsedQuery, limit: int, offset: int, any_word: bool) -> list[KeywordHit]:
        ranked = self.store.fulltext_search(fulltext_query(parsed, any_word), limit, offset)
        return [KeywordHit(item_id, score if parsed.has_text else 0.0) for item_id, score in ranked]


class DatabaseIndexer(Indexer):
    """Keep a store's search indexes in step: the full text in the database, the vectors in ``directory``."""

    def pending(self) -> dict[str, int]:
        result = {"keyword": self.store.pending_search_changes(self.store.fulltext_progress())}
        if self.embedder is not None:
            result["semantic"] = self.store.pending_search_changes(self.state.vector_seq)
        return result

    def _drop_local(self) -> None:
        """Remove the local vector graph and start its state afresh (the full text is the database's own)."""
        (self.directory / "vectors.usearch").unlink(missing_ok=True)
        self.state = IndexState(store_id=getattr(self, "store_id", None))
        self.state.save(self.directory)

    def rebuild(self, advance: Callable[[int], None] | None = None, progress: Progress | None = None) -> IndexReport:
        """Replay the whole change log into the full text and build the vector graph again (stored vectors
        are reused)."""
        self.store.reset_fulltext()
        self._drop_local()
        return self.update(advance, progress)

    def _update_keyword_index(self, report: IndexReport, advance: Callable[[int], None]) -> None:
        """Apply the pending changes to the full text in the database; each batch commits with its progress."""
        while True:
            batch = self.store.apply_fulltext_changes(BATCH)
            if not batch.changes:
                break
            report.indexed += batch.indexed
            report.deleted += batch.deleted
            advance(batch.changes)
