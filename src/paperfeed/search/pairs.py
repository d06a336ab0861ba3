"""Kept first passes of the commonest word pairs: the keyword searches tantivy cannot make fast.

A query of two common words ("language models": 492,936 matches at 1,000,000 items) is an intersection that tantivy
scores match by match: 10-13 ms of CPU for its best ``RERANK_DEPTH`` and their count, whatever the collector
(tantivy-py always collects through a MultiCollector, so tantivy's block-max pruning never runs; and it prunes
single lists and unions, not intersections). So the writer, once its last commit is merged (``KeywordIndex.close``),
runs that same search for every pair of words that each occur in at least ``PAIR_SHARE`` of the documents and keeps
the result beside the index: the best ``depth`` (item id, score as tantivy computed it, document address) and the
number of matches. A search of exactly such a pair (``KeywordIndex._run``) takes them instead of searching: the
same hits, scores, order and total, because they are the output of the same tantivy query on the same segments.

The lists are valid for one set of segments (the ``segments`` of the index's meta.json, which fix every document
address, deletion and BM25 statistic): any commit or merge after them makes the searcher ignore them until the
next ``close`` keeps new ones, and searches meanwhile run as before. Below ``PAIR_MIN_DOCS`` documents no list is
kept (each of these searches costs about a millisecond there).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tantivy

PAIR_SHARE = 0.3
"""A word is common when this share of the documents holds it: 50 words, 1,225 pairs at 1,000,000 items
(real-word statistics, docs/benchmarks.md "Search at 1M"). A pair of rarer words costs less than the pairs kept:
a conjunction's cost follows its rarest word's list."""
PAIR_MIN_DOCS = 100_000
SEARCH_THREADS = min(4, os.cpu_count() or 1)
"""Threads that search the pairs at once when their lists are kept."""
MANIFEST = "pairs.json"


def pairs_directory(index_path: Path) -> Path:
    """Where the lists of the index at ``index_path`` are kept (beside it: tantivy owns its own folder)."""
    return index_path.with_name(index_path.name + ".pairs")


def segments_key(meta: bytes) -> str | None:
    """What the lists depend on, from the bytes of the index's meta.json: its segments in order (ids, sizes,
    deletions), which fix document addresses and the statistics of every score. None for an unreadable file."""
    try:
        segments = json.loads(meta)["segments"]
    except (ValueError, KeyError, TypeError):
        return None
    return hashlib.blake2b(json.dumps(segments, sort_keys=True).encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class KeptPass:
    """One pair's first pass: its best hits in tantivy's order and its number of matches."""

    item_ids: list[int]
    scores: list[float]
    places: list[tuple[int, int]]
    """(segment ordinal, document) of each hit."""
    count: int


class PairLists:
    """The kept lists of one set of segments, read from their files (memory-mapped)."""

    def __init__(self, key: str, depth: int, rows: dict[str, list[int]], ids: np.ndarray, scores: np.ndarray,
                 places: np.ndarray) -> None:
        self.key, self.depth, self._rows = key, depth, rows
        self._ids, self._scores, self._places = ids, scores, places

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, first: str, second: str, limit: int) -> KeptPass | None:
        """The best ``limit`` (at most ``depth``) of the conjunction of two index terms (either order), or None.
        (tantivy orders hits by score, then by address: the best ``limit`` are the first of the best ``depth``.)"""
        row = self._rows.get(" ".join(sorted((first, second))))
        if row is None or limit > self.depth:
            return None
        number, length, count = row
        length = min(length, limit)
        return KeptPass(self._ids[number, :length].tolist(), self._scores[number, :length].tolist(),
                        [tuple(place) for place in self._places[number, :length].tolist()], count)


def load(index_path: Path, meta: bytes) -> PairLists | None:
    """The lists kept for the segments of ``meta`` (the bytes of the meta.json the searcher was opened from), or
    None when there are none for them (never built, made for other segments, or being replaced)."""
    folder = pairs_directory(index_path)
    key = segments_key(meta)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        if key is None or manifest.get("segments") != key:
            return None
        stem = folder / manifest["files"]
        arrays = [np.load(f"{stem}.{name}.npy", mmap_mode="r") for name in ("ids", "scores", "places")]
    except (OSError, ValueError, KeyError):
        return None
    return PairLists(key, int(manifest["depth"]), manifest["rows"], *arrays)


def common_terms(searcher: tantivy.Searcher, share: float = PAIR_SHARE) -> list[str]:
    """The index terms of the text field held by at least ``share`` of the documents, sorted."""
    floor = share * searcher.num_docs
    return sorted(term for term, documents in searcher.terms_with_prefix("text", "") if documents >= floor)


def keep(index_path: Path, index: tantivy.Index, schema: tantivy.Schema, depth: int) -> dict:
    """Keep the first passes of the common pairs for the index's segments as they are now (the caller holds the
    writer, so no commit comes between); the old lists go. Returns what was done."""
    share, min_docs = PAIR_SHARE, PAIR_MIN_DOCS
    folder = pairs_directory(index_path)
    meta_path = index_path / "meta.json"
    meta = meta_path.read_bytes()
    index.reload()
    searcher = index.searcher()
    key = segments_key(meta)
    if key is None or meta_path.read_bytes() != meta:
        return {"kept": 0, "why": "the index changed while it was read"}
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        if manifest.get("segments") == key and manifest.get("depth") == depth:
            return {"kept": len(manifest["rows"]), "why": "current"}
    except (OSError, ValueError):
        pass
    if searcher.num_docs < min_docs:
        shutil.rmtree(folder, ignore_errors=True)
        return {"kept": 0, "why": f"fewer than {min_docs:,} documents"}
    started = time.perf_counter()
    terms = common_terms(searcher, share)
    pairs = list(itertools.combinations(terms, 2))
    ids = np.zeros((len(pairs), depth), dtype=np.int64)
    scores = np.zeros((len(pairs), depth), dtype=np.float32)
    places = np.zeros((len(pairs), depth, 2), dtype=np.uint32)
    found: list[list[int]] = [[] for _ in pairs]  # (row, hits kept, matches) of each pair, by its number
    must = tantivy.Occur.Must

    def first_pass(number: int) -> None:
        first, second = pairs[number]
        # The query KeywordIndex.build_query makes of the two words (its clauses in either order score alike:
        # tantivy adds the two terms' scores, and a sum of two floats does not depend on their order).
        query = tantivy.Query.boolean_query([(must, tantivy.Query.term_query(schema, "text", first)),
                                             (must, tantivy.Query.term_query(schema, "text", second))])
        result = searcher.search(query, depth, count=True)
        hits = result.hits
        length = len(hits)
        if length:
            ids[number, :length] = searcher.fast_field_values("id", [address for _, address in hits])
            scores[number, :length] = [score for score, _ in hits]
            places[number, :length] = [(address.segment_ord, address.doc) for _, address in hits]
        found[number] = [number, length, result.count]

    # tantivy lets go of the GIL while it searches: the merges are done, so the searches have the cores (1,035
    # pairs at 400,000 documents: 5.7 s in one thread; 300 of them took 1.3 s in one and 0.7 s in two).
    with ThreadPoolExecutor(max_workers=SEARCH_THREADS) as pool:
        list(pool.map(first_pass, range(len(pairs))))
    rows = {f"{first} {second}": found[number] for number, (first, second) in enumerate(pairs)}
    folder.mkdir(parents=True, exist_ok=True)
    files = f"lists-{uuid.uuid4().hex[:12]}"
    for name, array in (("ids", ids), ("scores", scores), ("places", places)):
        np.save(folder / f"{files}.{name}.npy", array)
    manifest_text = json.dumps({"segments": key, "depth": depth, "share": share, "files": files, "rows": rows})
    temporary = folder / f"{MANIFEST}.{files}"
    temporary.write_text(manifest_text)
    os.replace(temporary, folder / MANIFEST)  # readers see the old lists or the new, never a part
    for path in folder.iterdir():
        # Older lists: a reader that mapped them keeps its mapping (the files live on until it lets go).
        if path.name.startswith("lists-") and not path.name.startswith(files):
            path.unlink(missing_ok=True)
    return {"kept": len(rows), "terms": len(terms), "seconds": round(time.perf_counter() - started, 1)}
