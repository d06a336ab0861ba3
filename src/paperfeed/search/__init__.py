"""Search: keyword (BM25, tantivy), semantic (embeddings + HNSW), hybrid (RRF) and similar items."""

from __future__ import annotations

from ..config import Settings
from ..storage import Store
from .embed import Embedder, EmbedderError, load_embedder
from .fulltext_pg import indexer_class
from .indexer import Indexer, SearchIndexError, IndexReport, index_directory
from .query import ParsedQuery, QueryLimits, QueryTooLarge, check_query, parse_query
from .service import MODES, SearchHit, SearchResults, SearchService, fuse, result_cache, shared_results

__all__ = ["MODES", "Embedder", "EmbedderError", "SearchIndexError", "IndexReport", "Indexer", "ParsedQuery",
           "QueryLimits", "QueryTooLarge", "SearchHit", "SearchResults", "SearchService", "check_query", "fuse",
           "index_directory", "load_embedder", "open_indexer", "open_search", "parse_query", "refresh_indexes",
           "result_cache", "shared_results"]


def _embedder(settings: Settings) -> Embedder | None:
    return None if settings.embedder == "none" else load_embedder(settings.embedder, settings.embed_device or None)


def open_indexer(store: Store, settings: Settings, vectors: bool = True) -> Indexer:
    """The indexer of ``store``'s search indexes, embedding with the configured model when ``vectors``."""
    # A store that keeps its keyword index itself (PostgreSQL) gets an indexer that updates it there.
    return indexer_class(store)(store, index_directory(store, settings.index_dir),
                                _embedder(settings) if vectors else None)


def open_search(store: Store, settings: Settings, embedder: Embedder | None = None,
                vectors: bool = True) -> SearchService:
    """The search service of ``store`` with the configured embedder (or the one given); ``vectors=False`` for
    keyword search alone, which then loads no model (a second and 70 MB less for a one-off `paperfeed search`)."""
    if vectors and embedder is None:
        embedder = _embedder(settings)
    return SearchService(store, index_directory(store, settings.index_dir), embedder if vectors else None,
                         QueryLimits.from_settings(settings), cache=result_cache(settings.search_cache_hits))


def refresh_indexes(store: Store, settings: Settings) -> IndexReport:
    """Apply the store's pending changes to its search indexes (with embeddings unless the embedder is none)."""
    return open_indexer(store, settings).update()
