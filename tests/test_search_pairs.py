"""Kept first passes of the commonest word pairs (search/pairs.py): the same hits, scores and totals as the tantivy
search they stand for, and never used for segments they were not made from. A real listing day in a real tantivy
index of several segments; the thresholds lowered so that 300 documents have common pairs."""

from __future__ import annotations

import itertools
import json

import pytest

from paperfeed.search import keyword, pairs
from paperfeed.search.keyword import KeywordIndex
from paperfeed.search.query import parse_query
from paperfeed.storage import SearchDocument

from datafiles import LISTING


def listing_documents() -> list[SearchDocument]:
    records = {}
    for line in LISTING.read_text().splitlines():
        record = json.loads(line)
        records[record["id"]] = record
    return [SearchDocument(id=number, kind="preprint", title=record["title"], abstract=record["summary"],
                           published="2026-02-27", arxiv_id=record["id"], authors=record["authors"],
                           categories=record["categories"])
            for number, record in enumerate(records.values(), start=1)]


@pytest.fixture
def lowered(monkeypatch):
    """Lists kept from 1 document on, for words in a fifth of them."""
    monkeypatch.setattr(pairs, "PAIR_MIN_DOCS", 1)
    monkeypatch.setattr(pairs, "PAIR_SHARE", 0.2)


def build(path, documents, chunks: int = 3) -> tuple[KeywordIndex, dict | None]:
    """An index of ``documents`` committed in ``chunks`` parts (several segments), closed as the indexer closes it."""
    index = KeywordIndex(path)
    size = -(-len(documents) // chunks)
    for start in range(0, len(documents), size):
        index.update(documents[start:start + size], [], [])
        index.commit()
    return index, index.close()


def answers(index: KeywordIndex, query: str) -> list:
    parsed = parse_query(query)
    pages = [[(hit.item_id, repr(hit.score)) for hit in index.search(parsed, 10, offset)] for offset in (0, 5, 10, 495)]
    return pages + [index.count(parsed)]


def without_lists(index: KeywordIndex, query: str, monkeypatch) -> list:
    with monkeypatch.context() as patch:
        patch.setattr(KeywordIndex, "_kept_pass", lambda *arguments: None)
        return answers(KeywordIndex(index.path), query)


def pair_queries(index: KeywordIndex, count: int) -> list[str]:
    terms = pairs.common_terms(index.searcher(), 0.2)
    assert len(terms) >= 8, terms
    return [f"{first} {second}" for first, second in itertools.combinations(terms, 2)][:count]


@pytest.mark.parametrize("depth", [500, 7])
def test_kept_pairs_give_the_hits_scores_and_totals_of_the_search_they_stand_for(tmp_path, lowered, monkeypatch,
                                                                                  depth):
    # Depth 7: pages past the re-ranked depth continue from tantivy, and the kept list is longer than what is asked.
    monkeypatch.setattr(keyword, "RERANK_DEPTH", depth)
    index, kept = build(tmp_path / "keyword", listing_documents())
    assert kept["kept"] > 20 and index.searcher().num_segments > 1
    searcher = index.searcher()
    # Stemmed index terms and the words as typed ("models", "Learning", "for" a stop word) find the same list.
    queries = pair_queries(index, 60) + ["language models", "Models for Language", "learning model"]
    used = 0
    for query in queries:
        if index._kept_pass(searcher, parse_query(query), True) is not None:
            used += 1
        assert answers(index, query) == without_lists(index, query, monkeypatch), query
    assert used >= 60
    # Not for other queries: three words, a phrase, a filter, an exclusion.
    for query in ["language models learning", '"language models"', "language models category:cs.CL",
                  "language models -vision", "Learning-Models"]:
        assert index._kept_pass(searcher, parse_query(query), True) is None, query


def test_lists_of_other_segments_are_not_used_until_the_writer_keeps_new_ones(tmp_path, lowered, monkeypatch):
    documents = listing_documents()
    index, _ = build(tmp_path / "keyword", documents[:200])
    query = pair_queries(index, 1)[0]
    assert index._kept_pass(index.searcher(), parse_query(query), True) is not None
    # A new paper that both words describe best: after a plain commit the old lists must not hide it.
    first, second = query.split()
    newcomer = SearchDocument(id=1000, kind="preprint", title=f"{first} {second} {first} {second}",
                              abstract=f"{first} {second}", published="2026-02-28")
    index.update(documents[200:] + [newcomer], [], [])
    index.commit()
    searcher = index.searcher()
    assert index._opened.kept_pairs(searcher) is None
    assert index.search(parse_query(query), 1)[0].item_id == 1000
    assert answers(index, query) == without_lists(index, query, monkeypatch)
    # Closing keeps lists for the segments as they now are.
    assert index.close()["kept"] > 0
    searcher = index.searcher()
    assert index._opened.kept_pairs(searcher) is not None
    assert index._kept_pass(searcher, parse_query(query), True).item_ids[0] == 1000
    assert answers(index, query) == without_lists(index, query, monkeypatch)
    # A deletion is a change of the segments too.
    index.update([], [1000], [])
    index.commit()
    assert index._opened.kept_pairs(index.searcher()) is None
    assert 1000 not in [hit.item_id for hit in index.search(parse_query(query), 10)]


def test_a_manifest_of_other_segments_or_missing_files_is_ignored(tmp_path, lowered, monkeypatch):
    index, _ = build(tmp_path / "keyword", listing_documents())
    folder = pairs.pairs_directory(index.path)
    manifest = json.loads((folder / pairs.MANIFEST).read_text())
    meta = (index.path / "meta.json").read_bytes()
    assert pairs.load(index.path, meta) is not None
    (folder / pairs.MANIFEST).write_text(json.dumps({**manifest, "segments": "another"}))
    assert pairs.load(index.path, meta) is None
    (folder / pairs.MANIFEST).write_text(json.dumps(manifest))
    for path in folder.glob("lists-*.scores.npy"):
        path.unlink()
    assert pairs.load(index.path, meta) is None


def test_no_lists_for_a_small_index_and_none_left_by_a_rebuild(tmp_path, monkeypatch):
    index, kept = build(tmp_path / "keyword", listing_documents())
    assert kept["kept"] == 0 and not pairs.pairs_directory(index.path).exists()  # fewer than PAIR_MIN_DOCS
    monkeypatch.setattr(pairs, "PAIR_MIN_DOCS", 1)
    index.update(listing_documents()[:1], [], [1])
    assert index.close()["kept"] > 0 and pairs.pairs_directory(index.path).exists()
    KeywordIndex.remove(index.path)
    assert not pairs.pairs_directory(index.path).exists() and not index.path.exists()


def test_the_indexer_keeps_lists_and_searches_on_either_backend_take_them(backend_url, tmp_path, lowered, monkeypatch):
    from paperfeed.config import Settings
    from paperfeed.ingest import Ingester
    from paperfeed.search import open_indexer, open_search
    from paperfeed.storage import open_store

    settings = Settings.load(db=backend_url, index_dir=str(tmp_path / "index"), search_cache_hits="0")
    with open_store(backend_url) as store:
        Ingester(store).ingest_paths([LISTING])
        open_indexer(store, settings).update()
        local = KeywordIndex(tmp_path / "index" / "keyword")
        assert local._opened.kept_pairs(local.searcher()) is not None
        service = open_search(store, settings, vectors=False)
        queries = pair_queries(local, 30) + ["Language Models"]

        def results() -> list:
            return [[(hit.id, hit.score) for hit in found.hits] + [found.total]
                    for query in queries for offset in (0, 10)
                    for found in [service.search(query, "keyword", limit=10, offset=offset)]]

        taken = []
        original = KeywordIndex._kept_pass

        def counted(*arguments):
            kept = original(*arguments)
            taken.append(kept is not None)
            return kept

        monkeypatch.setattr(KeywordIndex, "_kept_pass", counted)
        with_lists = results()
        assert sum(taken) >= 30  # the searches took the lists (on PostgreSQL too: its host's tantivy copy answers)
        monkeypatch.setattr(KeywordIndex, "_kept_pass", lambda *arguments: None)
        assert with_lists == results()
