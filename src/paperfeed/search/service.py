"""Search as the CLI, the web app and recommendations use it: keyword, semantic, hybrid, similar items.

Hybrid ranking is weighted reciprocal rank fusion: an item's score is the sum over the keyword and the
semantic ranking of weight / (k + rank), rank counted from 1 (Cormack et al., 2009). Fusion needs no
calibration between BM25 and cosine scores, and an item both rankings find rises. ``FUSION`` (k 5, keyword
1, semantic 0.1) was chosen on a development split of real queries (bench/search.py --relevance): on
remembered abstract fragments and Hugging Face keywords every larger semantic weight ranked worse, because
the static WordLlama embedding cannot pinpoint a paper by its words. So semantic results order what
keywords rank alike and fill the page when keywords find little (a semantic-only item scores at most
0.1 / 6, below a keyword item of rank 54 or better), and a query with no word in common with a paper
still finds it. The first weights (k 60, semantic 0.5, chosen before measuring) are ``FIRST_FUSION``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..storage import SearchDocument, SharedCache, Store
from .embed import Embedder
from .fulltext_pg import DatabaseKeywordIndex, open_keyword_index
from .indexer import IndexState, foreign_index, store_identity
from .keyword import day_number, topic_slug
from .query import ParsedQuery, QueryLimits, check_query
from .snippet import make_snippet, remembering
from .vectors import VectorIndex

MODES = ("keyword", "semantic", "hybrid")
RRF_K = 60


@dataclass(frozen=True, slots=True)
class Fusion:
    """Weighted reciprocal rank fusion of the keyword and the semantic ranking (see the module docstring)."""

    k: int = RRF_K
    keyword: float = 1.0
    semantic: float = 0.5


FUSION = Fusion(k=5, keyword=1.0, semantic=0.1)
FIRST_FUSION = Fusion(RRF_K, 1.0, 0.5)
"""The weights chosen before measuring (kept to measure against in bench/search.py)."""
SIMILAR_FUSION = Fusion(k=10, keyword=1.0, semantic=1.0)
"""Similar items (hybrid) fuse a query of the item's title with its nearest vectors: a topical likeness, where
the semantic ranking weighs as much as the keyword one (chosen on development items' neighbour coherence,
docs/benchmarks.md; the first fusion served them before)."""
SIMILAR_PROXIMITY = False
"""Whether similar items' title query is re-ranked by proximity (``KeywordIndex``'s phrase and near clauses).
A whole title rarely occurs as a phrase, or with its words near each other, in another paper: at 48,000 items
the re-rank of 500 candidates (3 tantivy searches) took 4.3 ms of CPU per call to 1.6 without (p50), and left
every top 8 of 300 listing papers as it was; on 300 short titles (2-4 words) hybrid neighbour coherence moved
+0.0003 (standard error 0.0013). See docs/benchmarks.md, "Similar items"; True is kept to measure against in
bench/search.py --similar."""
KEYWORD_WEIGHT, SEMANTIC_WEIGHT = FUSION.keyword, FUSION.semantic
# Each ranking contributes this many candidates to the fusion (or the page's end, if deeper).
FUSION_DEPTH = 50
# Semantic results are filtered after the nearest-neighbour search: fetch this many times more.
FILTER_OVERFETCH = 8


@dataclass(slots=True)
class SearchHit:
    """One result, in the shape of ``paperfeed search --json``."""

    id: int
    title: str
    score: float
    kind: str
    published: str | None
    authors: list[str]
    arxiv_id: str | None
    url: str | None
    snippet_html: str = ""
    snippet: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "score": round(self.score, 6), "kind": self.kind,
                "published": self.published, "authors": self.authors, "arxiv_id": self.arxiv_id,
                "url": self.url, "snippet": self.snippet, "snippet_html": self.snippet_html}


@dataclass(slots=True)
class SearchResults:
    query: str
    mode: str
    hits: list[SearchHit]
    behind: dict[str, int] = field(default_factory=dict)
    """Items changed in the store that an index has not applied yet (empty when all are current)."""
    milliseconds: float = 0.0
    note: str = ""
    """Why the mode used differs from the mode asked for, if it does."""
    total: int | None = None
    """How many items the query finds in all (keyword matches; in hybrid, with the semantic ones fused in);
    None for semantic search, whose nearest neighbours have no natural end."""
    coverage: dict[str, dict[str, int]] = field(default_factory=dict)
    """While the embeddings catch up (a large load): ``{"semantic": {"covered": N, "items": M}}``, the items
    semantic results can find of the store's; empty when the vectors are current or the mode is keyword."""
    derived: dict = field(default_factory=dict, repr=False, compare=False)
    """What a caller made from these results (the web app: the hits in their JSON shape), shared by every copy
    the result cache hands out, so a repeat does not make it again. Only ever added to, never changed."""

    @property
    def catching_up(self) -> str:
        """``coverage`` in words ("semantic results cover 1.2M of 2.7M papers; catching up"), or ""."""
        return "; ".join(f"{name} results cover {short_count(figures['covered'])} of {short_count(figures['items'])} "
                         "papers; catching up" for name, figures in self.coverage.items())


def short_count(count: int) -> str:
    """A count as people read it at a glance: 950, 12,400, 120k, 1.2M."""
    if count >= 1_000_000:
        return f"{count / 1_000_000:.1f}M"
    if count >= 100_000:
        return f"{count / 1000:.0f}k"
    return f"{count:,}"


class ResultCache:
    """Recent search results of this process, each valid while the store and its indexes are as they were.

    Under load the same queries repeat (a results page and its next page, a feed polled, popular words), and a
    hybrid query costs an embedding, two index searches, a store read and snippets; a repeat costs a version
    check. The version is the store's change-log position and how far each index has applied it, so a result is
    never served once an item changed or an index caught up. Shared by every ``SearchService`` of the process
    (a server keeps one per pooled connection); entries are read-only once stored. Its size is counted in hits
    (a hit with its snippet is about a kilobyte), so a few deep pages cannot hold more memory than many short ones.
    """

    def __init__(self, hits: int = 20_000) -> None:
        self.hits = hits
        self._held = 0
        self._results: OrderedDict[tuple, tuple[tuple, SearchResults]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, version: tuple) -> "SearchResults | None":
        with self._lock:
            found = self._results.get(key)
            if found is None or found[0] != version:
                return None
            self._results.move_to_end(key)
            return found[1]

    def put(self, key: tuple, version: tuple, results: "SearchResults") -> None:
        size = max(1, len(results.hits))
        if size > self.hits:
            return
        with self._lock:
            previous = self._results.pop(key, None)
            if previous is not None:
                self._held -= max(1, len(previous[1].hits))
            self._results[key] = (version, results)
            self._held += size
            while self._held > self.hits:
                _, (_, dropped) = self._results.popitem(last=False)
                self._held -= max(1, len(dropped.hits))


RESULTS = ResultCache()


def result_cache(hits: int) -> ResultCache | None:
    """The process's result cache holding at most ``hits`` hits (setting search_cache_hits); None for 0."""
    if hits <= 0:
        return None
    RESULTS.hits = hits
    return RESULTS


class SharedResults:
    """Search results shared by the processes that serve one index directory (a server's workers), under the
    ``ResultCache`` of each: a search one worker ran is not run again by another for the same store and indexes.

    Entries are keyed by a digest of the result cache's key and version together, so one made for an older store
    or index is never found (it ages out); values are the results as JSON (no pickle: the file is only data).
    Best effort, like its file (``storage.SharedCache``)."""

    def __init__(self, cache: SharedCache) -> None:
        self.cache = cache

    @staticmethod
    def _digest(key: tuple, version: tuple) -> bytes:
        return hashlib.blake2b(repr((key, version)).encode(), digest_size=16).digest()

    def get(self, key: tuple, version: tuple) -> "SearchResults | None":
        found = self.cache.get(self._digest(key, version))
        if found is None:
            return None
        try:
            data = orjson.loads(zlib.decompress(found))
            return SearchResults(data["query"], data["mode"], [SearchHit(*hit) for hit in data["hits"]],
                                 data["behind"], data["milliseconds"], data["note"], data["total"], data["coverage"])
        except (zlib.error, orjson.JSONDecodeError, KeyError, TypeError):  # written by another version of paperfeed
            return None

    def put(self, key: tuple, version: tuple, results: "SearchResults") -> None:
        # Compressed (zlib level 1: 16 KB of 20 hits in 5.5, 58 µs to compress, 24 to decompress): three times the
        # results in the same file.
        self.cache.put(self._digest(key, version), zlib.compress(orjson.dumps({
            "query": results.query, "mode": results.mode,
            "hits": [[getattr(hit, name) for name in _HIT_FIELDS] for hit in results.hits],
            "behind": results.behind, "milliseconds": results.milliseconds, "note": results.note,
            "total": results.total, "coverage": results.coverage}), 1))


_HIT_FIELDS = tuple(hit_field.name for hit_field in dataclasses.fields(SearchHit))
"""A hit's fields in order: a shared hit is a list of their values (``SearchHit(*values)`` reads it back)."""
SHARED_RESULTS_FILE = "shared-results.sqlite"
_shared: dict[Path, SharedResults] = {}
_shared_lock = threading.Lock()


def shared_results(directory: Path, hits: int) -> SharedResults | None:
    """The results shared by this host's processes serving the index in ``directory`` (None when the result
    cache is off, ``hits`` 0): about ``hits // 4`` results, each up to 20 hits in about 5.5 KB (27 MB at the default)."""
    if hits <= 0:
        return None
    with _shared_lock:
        found = _shared.get(directory)
        if found is None:
            found = _shared[directory] = SharedResults(SharedCache(directory / SHARED_RESULTS_FILE, max(1, hits // 4)))
        return found


def matches_filters(document: SearchDocument, parsed: ParsedQuery, analyze) -> bool:
    """Whether a document passes the query's filters and exclusions (for semantic candidates)."""
    for name, values in parsed.filters.items():
        if name == "author":
            haystack = [" ".join(analyze_name(author)) for author in document.authors]
            if not any(" ".join(analyze_name(value)) in author for value in values for author in haystack):
                return False
        elif name == "category":
            if not {value.lower() for value in values} & {c.lower() for c in document.categories}:
                return False
        elif name == "topic":
            if not {topic_slug(value) for value in values} & set(document.topics):
                return False
        elif name == "kind":
            if document.kind not in {value.lower() for value in values}:
                return False
        elif name == "source":
            sources = [" ".join(analyze_name(source)) for source in document.sources]
            if not any(" ".join(analyze_name(value)) in source for value in values for source in sources):
                return False
    day = day_number(document.published)
    if parsed.after and (day is None or day < day_number(parsed.after)):
        return False
    if parsed.before and (day is None or day > day_number(parsed.before)):
        return False
    if parsed.excluded:
        terms = set(analyze(f"{document.title} {document.abstract}"))
        if any(set(analyze(word)) & terms for word in parsed.excluded):
            return False
    return True


def analyze_name(text: str) -> list[str]:
    from unidecode import unidecode

    return unidecode(text).lower().replace(",", " ").split()


class SearchService:
    """Read side of the search indexes of one store."""

    def __init__(self, store: Store, directory: Path, embedder: Embedder | None = None,
                 limits: QueryLimits = QueryLimits(), fusion: Fusion = FUSION,
                 cache: ResultCache | None = RESULTS, shared: SharedResults | None = None) -> None:
        self.store = store
        self.fusion = fusion
        self.similar_fusion = SIMILAR_FUSION
        self.similar_proximity = SIMILAR_PROXIMITY
        self.cache = cache
        """Where results are kept for repeats (None: every search runs; bench/search.py times it so)."""
        self.shared = shared if cache is not None else None
        """Results shared with the other processes serving this index (the web app's workers), under ``cache``."""
        self.limits = limits
        """The most a query may hold (``search`` raises ``QueryTooLarge`` beyond it)."""
        self.directory = directory
        self._state_path = directory / "state.json"
        self.embedder = embedder
        self.keyword = open_keyword_index(store, directory)
        self._vectors: VectorIndex | None = None
        self._state_mtime: float | None = None
        self._state = IndexState()
        self._store_id: str | None = None
        self.foreign: str | None = None
        """Why the index files in ``directory`` are another store's (then they are not searched), or None."""
        self._item_count: tuple[int, int] | None = None
        """(store version, items) of the last ``coverage``."""

    def _refresh_state(self) -> IndexState:
        try:
            mtime = self._state_path.stat().st_mtime
        except FileNotFoundError:
            mtime = None
        if mtime != self._state_mtime:
            state = IndexState.load(self.directory)
            if self._store_id is None:
                self._store_id = store_identity(self.store)
            self.foreign = foreign_index(state, self.directory, self._store_id)
            # Another store's index has applied none of this store's changes: all of them are behind.
            self._state = IndexState() if self.foreign else state
            self._state_mtime = mtime
            if self.foreign and self._vectors is not None:
                self._vectors = None
        return self._state

    @property
    def vectors(self) -> VectorIndex | None:
        if self.embedder is None or self._refresh_state() is not None and self.foreign:
            return None
        path = self.directory / "vectors.usearch"
        if self._vectors is None:
            if not path.exists():
                return None
            self._vectors = VectorIndex(path, self.embedder.dim)
        else:
            self._vectors.refresh()
        return self._vectors

    def behind(self, mode: str, latest: int | None = None) -> dict[str, int]:
        """How many changed items each index used by ``mode`` has not applied yet (``latest``: the store version,
        when the caller has just read it)."""
        state = self._refresh_state()
        latest = self.store.store_version() if latest is None else latest
        # A keyword index in the database keeps its progress there (shared by every app server).
        keyword_seq = (self.keyword.applied_seq() if isinstance(self.keyword, DatabaseKeywordIndex)
                       else state.keyword_seq)
        result = {}
        if mode in ("keyword", "hybrid") and keyword_seq < latest:
            result["keyword"] = self.store.pending_search_changes(keyword_seq)
        if mode in ("semantic", "hybrid") and state.vector_seq < latest:
            result["semantic"] = self.store.pending_search_changes(state.vector_seq)
        return result

    def coverage(self, mode: str, latest: int | None = None) -> dict[str, dict[str, int]]:
        """How many of the store's items semantic results can find while the vectors catch up (see
        ``SearchResults.coverage``): the vectors in the graph searched against the items; {} when current."""
        if mode == "keyword" or self.embedder is None:
            return {}
        state = self._refresh_state()
        latest = self.store.store_version() if latest is None else latest
        if state.vector_seq >= latest:
            return {}
        if self._item_count is None or self._item_count[0] != latest:
            self._item_count = (latest, self.store.item_count())  # a count of 2.7M rows: once per store version
        items = self._item_count[1]
        vectors = self.vectors
        return {"semantic": {"covered": min(items, len(vectors)) if vectors is not None else 0, "items": items}}

    def search(self, text: str, mode: str = "hybrid", limit: int = 10, offset: int = 0) -> SearchResults:
        """Search for ``text``; ``mode`` is keyword, semantic or hybrid (semantic falls back to keyword
        when no embedder or vector index is available). A query over ``self.limits`` raises ``QueryTooLarge``."""
        started = time.perf_counter()
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}: choose one of {', '.join(MODES)}")
        parsed = check_query(text, self.limits)
        self._refresh_state()
        key = version = None
        if self.cache is not None:
            key, version = self._cache_key(text, mode, limit, offset)
            cached = self._kept(key, version)
            if cached is not None:
                return dataclasses.replace(cached, milliseconds=(time.perf_counter() - started) * 1000)
        # One store version for the answer: the one its cache entry is kept under (a miss read it just now).
        results = self._search(text, parsed, mode, limit, offset, started, version[0] if version else None)
        if self.cache is not None:
            self.cache.put(key, version, results)
            if self.shared is not None:
                self.shared.put(key, version, results)
        return results

    def _kept(self, key: tuple, version: tuple) -> "SearchResults | None":
        """This process's kept result, else the one another process serving the index shared (kept here from now)."""
        found = self.cache.get(key, version)
        if found is None and self.shared is not None:
            found = self.shared.get(key, version)
            if found is not None:
                self.cache.put(key, version, found)
        return found

    def cached(self, text: str, mode: str = "hybrid", limit: int = 10, offset: int = 0) -> SearchResults | None:
        """``search``'s answer if the result cache holds it for the store and indexes as they are now, else None.

        It runs no search: a version read and a lookup (the web app answers a repeat on its event loop with it,
        and hands a miss to a thread). A query over ``self.limits`` raises ``QueryTooLarge`` as ``search`` does.
        """
        if self.cache is None or mode not in MODES:
            return None
        started = time.perf_counter()
        check_query(text, self.limits)
        self._refresh_state()
        found = self._kept(*self._cache_key(text, mode, limit, offset))
        if found is None:
            return None
        return dataclasses.replace(found, milliseconds=(time.perf_counter() - started) * 1000)

    def _cache_key(self, text: str, mode: str, limit: int, offset: int) -> tuple[tuple, tuple]:
        """What a result depends on: the request and the ranking (key), the store and the indexes (version)."""
        key = (self.store.url, str(self.directory), self.embedder.name if self.embedder else None,
               getattr(self.keyword, "ranking", None), self.fusion, text, mode, limit, offset)
        keyword_seq = (self.keyword.applied_seq() if isinstance(self.keyword, DatabaseKeywordIndex)
                       else self._state.keyword_seq)
        version = (self.store.store_version(), keyword_seq, self._state.vector_seq, self._state_mtime, self.foreign)
        return key, version

    def _search(self, text: str, parsed: ParsedQuery, mode: str, limit: int, offset: int,
                started: float, latest: int | None = None) -> SearchResults:
        if self.foreign and not isinstance(self.keyword, DatabaseKeywordIndex):
            # Its hits are another store's item ids: say so rather than show them (or nothing, silently).
            return SearchResults(text, mode, [], self.behind(mode), (time.perf_counter() - started) * 1000,
                                 f"{self.foreign}: run `paperfeed index` to build it for this store")
        semantic_ready = self.vectors is not None and parsed.has_text
        effective = mode if (mode == "keyword" or semantic_ready) else "keyword"
        total: int | None = None
        if effective == "keyword":
            ranked = [(hit.item_id, hit.score) for hit in self.keyword.search(parsed, limit, offset)]
            total = self.keyword.count(parsed)
        elif effective == "semantic":
            ranked = self._semantic(parsed, limit + offset)[offset:offset + limit]
        else:
            depth = max(FUSION_DEPTH, limit + offset)
            keyword_ranked = [hit.item_id for hit in self.keyword.search(parsed, depth)]
            semantic_ranked = [item_id for item_id, _ in self._semantic(parsed, depth)]
            fused = fuse([keyword_ranked, semantic_ranked], [self.fusion.keyword, self.fusion.semantic],
                         self.fusion.k)
            # What the pages can show: every keyword match, or the fused list when the semantic neighbours
            # make it longer (when keywords find few, it is those few and the nearest FUSION_DEPTH neighbours).
            total = max(self.keyword.count(parsed), len(fused))
            ranked = fused[offset:offset + limit]
        hits = self._hits(ranked, parsed)
        note = ""
        if effective != mode:
            note = (f"{mode} search needs words to embed; ranked by date with filters only" if not parsed.has_text
                    else f"{mode} search needs a vector index (run `paperfeed index`); showing keyword results")
        return SearchResults(text, effective, hits, self.behind(effective, latest),
                             (time.perf_counter() - started) * 1000, note, total, coverage=self.coverage(mode, latest))

    def _semantic(self, parsed: ParsedQuery, count: int) -> list[tuple[int, float]]:
        assert self.embedder is not None and self.vectors is not None
        vector = self.embedder.embed([parsed.text()])[0]
        if not vector.any():
            return []
        filtered = bool(parsed.filters or parsed.after or parsed.before or parsed.excluded)
        candidates = self.vectors.search(vector, count * FILTER_OVERFETCH if filtered else count)
        if not filtered:
            return candidates
        documents = self.store.item_documents([item_id for item_id, _ in candidates])
        kept = [(item_id, score) for item_id, score in candidates
                if item_id in documents and matches_filters(documents[item_id], parsed, self.keyword.tokens)]
        return kept[:count]

    def _hits(self, ranked: list[tuple[int, float]], parsed: ParsedQuery) -> list[SearchHit]:
        # A hit shows its title, authors and a snippet: its categories, topics and sources are not read.
        documents = self.store.item_documents([item_id for item_id, _ in ranked], facets=False)
        terms = {token for part in parsed.terms + parsed.phrases for token in self.keyword.tokens(part)}
        prefixes = tuple(prefix.lower() for prefix in parsed.prefixes)
        # A snippet analyses each word that starts like a query term; the same words recur across the page's
        # abstracts ("models", "model"), and each analysis is a call into tantivy.
        analyze = remembering(self.keyword.tokens)
        hits = []
        for item_id, score in ranked:
            document = documents.get(item_id)
            if document is None:  # deleted since the index saw it
                continue
            snippet = make_snippet(document.abstract or document.title, terms, analyze, prefixes)
            hits.append(SearchHit(item_id, document.title, score, document.kind, document.published,
                                  document.authors, document.arxiv_id, document.url, snippet.html(),
                                  snippet.plain()))
        return hits

    def similar(self, item_id: int, limit: int = 10, mode: str = "semantic") -> list[SearchHit]:
        """Items most like ``item_id``: its nearest vectors (semantic), a keyword query of its title with
        any word allowed (keyword), or both fused (hybrid). Without vectors, keyword."""
        vector = self._item_vector(item_id) if mode != "keyword" else None
        semantic = self.vectors.search(vector, limit * 2, exclude=item_id) if vector is not None else []
        if mode == "semantic" and semantic:
            return self._hits(semantic[:limit], ParsedQuery())
        document = self.store.item_documents([item_id], facets=False).get(item_id)
        if document is None:
            return []
        parsed = ParsedQuery(terms=document.title.split())
        found = self.keyword.search(parsed, limit * 2 + 1, any_word=True, proximity=self.similar_proximity)
        keyword = [hit.item_id for hit in found if hit.item_id != item_id]
        if mode == "hybrid" and semantic:
            fusion = self.similar_fusion
            ranked = fuse([keyword, [i for i, _ in semantic]], [fusion.keyword, fusion.semantic], fusion.k)
        else:
            ranked = [(i, 0.0) for i in keyword]
        return self._hits(ranked[:limit], ParsedQuery())

    def _item_vector(self, item_id: int) -> np.ndarray | None:
        vectors = self.vectors
        if vectors is None:
            return None
        vector = vectors.vector(item_id)
        if vector is None:
            stored = self.store.item_vectors(self.embedder.name, [item_id]).get(item_id)
            vector = np.frombuffer(stored[1], dtype=np.float16).astype(np.float32) if stored else None
        return vector


def fuse(rankings: list[list[int]], weights: list[float] | None = None, k: int = RRF_K) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion of several rankings of item ids, best first."""
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings)):
        for rank, item_id in enumerate(ranking, start=1):
            scores[item_id] = scores.get(item_id, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))
