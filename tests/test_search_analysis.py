"""The keyword index's text analysed once per distinct word (search/analysis.py): an index written that way holds the
very terms, positions and field lengths tantivy's own chain gives the whole text, so searches score alike; and a large
build's second process gives the same analysis, and the build goes on when that process dies."""

from __future__ import annotations

import json
import os
import signal

import pytest
import tantivy

from paperfeed.search import analysis, indexer as indexer_module
from paperfeed.search.analysis import GAP, AnalysisAhead, IndexedText, text_analyzer
from paperfeed.search.indexer import Indexer
from paperfeed.search.keyword import KeywordIndex, _schema, document_texts
from paperfeed.search.query import parse_query
from paperfeed.storage import SearchDocument, open_store
from paperfeed.ingest import Ingester

from datafiles import DATA, LISTING

HARD = [  # what real records also hold, beyond an English abstract
    ("Über die Größe der Bäume: Schätzung", "Die Größe der Bäume wird geschätzt. Straße, Maß und Fuß."),
    ("Ελληνικά και Русский текст", "Μοντέλα γλώσσας и языковые модели; 日本語の文章 and 中文 words."),
    ("½ of the ⅓ ligatures ﬁ ﬂ and ① ②", "Fractions ¼, superscripts x² y³, roman Ⅻ, full-width ＡＢＣ １２３."),
    ("The of and", "a an the of to in is it"),  # stop words only
    ("", ""),
    ("x" * 39 + " " + "y" * 40 + " " + "é" * 20 + " " + "é" * 19, "Long words: " + "z" * 80 + " end."),
    ("Models_with_underscores and CamelCase2Vec", "snake_case words, e-mail, C++, O(n log n), 3.14 and 1e-9."),
    ("Tabs\tand\nnewlines\r\nin  text", "Non-breaking\u00a0space, thin\u2009space, zero\u200bwidth, ideographic\u3000space."),
]


def documents() -> list[SearchDocument]:
    records = {}
    for line in LISTING.read_text().splitlines():
        record = json.loads(line)
        records[record["id"]] = record
    found = [SearchDocument(id=number, kind="preprint", title=record["title"], abstract=record["summary"],
                            published="2026-02-27", authors=record["authors"], categories=record["categories"])
             for number, record in enumerate(records.values(), start=1)]
    for title, abstract in HARD:
        found.append(SearchDocument(id=len(found) + 1, kind="preprint", title=title, abstract=abstract,
                                    published=None, authors=["José García-Márquez", "李 小龍"]))
    return found


def chain_index(path, docs: list[SearchDocument]) -> KeywordIndex:
    """The index as tantivy's own chain writes it (an update of a few changes; every index before this change)."""
    index = KeywordIndex(path)
    index.update(docs, [], [])
    assert not index._writes_analysed
    index.commit()
    index.writer().wait_merging_threads()
    return KeywordIndex(path)


def analysed_index(path, docs: list[SearchDocument]) -> KeywordIndex:
    """The index as a large build writes it, the text analysed by ``IndexedText``."""
    index = KeywordIndex(path)
    index.update(docs, [], [], analysed=IndexedText().all([document_texts(doc) for doc in docs]))
    assert index._writes_analysed
    index.commit()
    index.writer(analysed=True).wait_merging_threads()
    return KeywordIndex(path)


def scored(index: KeywordIndex, query: tantivy.Query) -> list[tuple[int, float]]:
    searcher = index.searcher()
    hits = searcher.search(query, 500).hits
    return sorted((searcher.doc(address)["id"][0], round(score, 5)) for score, address in hits)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    docs = documents()
    folder = tmp_path_factory.mktemp("analysis")
    return docs, chain_index(folder / "chain", docs), analysed_index(folder / "analysed", docs)


def test_the_same_terms_in_the_same_documents_with_the_same_scores(both):
    docs, chain, analysed = both
    terms = chain.searcher().terms_with_prefix("text", "")
    assert len(terms) > 3000
    assert analysed.searcher().terms_with_prefix("text", "") == terms
    assert GAP not in dict(terms)
    schema = _schema()
    for term, _ in terms:  # BM25 of each term: its frequency in each document and each document's field length
        query = tantivy.Query.term_query(schema, "text", term)
        assert scored(analysed, query) == scored(chain, query), term


def test_the_same_positions_stop_words_and_long_words_leaving_their_gaps(both):
    docs, chain, analysed = both
    words, terms_of = analysis.IndexedText()._words, text_analyzer()
    schema = _schema()
    compared = 0
    for doc in docs:
        for text in (doc.title, doc.abstract):
            found = [terms_of.analyze(word) for word in words.analyze(text)]
            for start in range(0, max(len(found) - 4, 0), 3):  # windows of five words, gaps included
                phrase = [(offset, terms[0]) for offset, terms in enumerate(found[start:start + 5]) if terms]
                if len(phrase) < 2:
                    continue
                query = tantivy.Query.phrase_query(schema, "text", phrase)
                hits = scored(chain, query)
                assert doc.id in {item for item, _ in hits}, (doc.title, phrase)
                assert scored(analysed, query) == hits
                compared += 1
    assert compared > 5000


def test_searches_as_typed_rank_alike(both):
    docs, chain, analysed = both
    queries = ["large language models", "the of", "Größe der Bäume", "½", "snake_case", "diffusion model for images",
               "reinforcement learning from human feedback", "title:\"vision transformer\"", "Μοντέλα γλώσσας"]
    queries += [" ".join(doc.abstract.split()[3:9]) for doc in docs[:60]]  # remembered fragments, stop words kept
    for text in queries:
        parsed = parse_query(text)
        expected = [(hit.item_id, round(hit.score, 4)) for hit in chain.search(parsed, limit=20)]
        assert [(hit.item_id, round(hit.score, 4)) for hit in analysed.search(parsed, limit=20)] == expected, text


def test_no_word_becomes_the_gap_or_holds_whitespace():
    """The text field splits the analysed text at whitespace and drops ``GAP``: no character that can be a word
    (any of the Basic Multilingual Plane) may analyse to either."""
    words, chain = IndexedText()._words, text_analyzer()
    characters = "".join(chr(code) for code in range(0x20, 0x10000) if not 0xD800 <= code < 0xE000)
    kept = 0
    for start in range(0, len(characters), 2000):
        for word in words.analyze(" ".join(characters[start:start + 2000])):
            for term in chain.analyze(word):
                assert term != GAP and not any(c.isspace() for c in term), (word, term)
                kept += 1
    assert kept > 40_000


def test_the_second_process_analyses_as_this_one_and_its_death_loses_nothing():
    docs = documents()
    batches = [[document_texts(doc) for doc in docs[start:start + 100]] for start in range(0, len(docs), 100)]
    expected = [IndexedText().all(batch) for batch in batches]
    ahead = AnalysisAhead.start()
    assert ahead is not None
    try:
        for batch in batches:
            ahead.submit(batch)
        assert ahead.take() == expected[0]
        assert not ahead.broken
        os.kill(ahead._process.pid, signal.SIGKILL)
        ahead._process.wait()
        assert [ahead.take() for _ in batches[1:]] == expected[1:]  # what it had: analysed here instead
        assert ahead.broken
        ahead.submit(batches[0])  # and from then on, here
        assert ahead.take() == expected[0]
    finally:
        ahead.close()


def test_a_large_build_through_the_second_process_equals_one_analysed_here(tmp_path, monkeypatch):
    store = open_store(tmp_path / "store.db")
    Ingester(store).ingest_paths([LISTING, DATA / "daily" / "2026-02-26.jsonl"])
    started: list[AnalysisAhead] = []
    original_start = AnalysisAhead.start.__func__

    def start(cls):
        found = original_start(cls)
        started.append(found)
        return found

    monkeypatch.setattr(AnalysisAhead, "start", classmethod(start))
    small = Indexer(store, tmp_path / "small", None).update()
    assert started == []  # a few hundred changes: analysed here
    monkeypatch.setattr(indexer_module, "ANALYSE_APART_FROM", 1)
    monkeypatch.setattr(indexer_module, "BATCH", 37)  # many batches, several in flight
    large = Indexer(store, tmp_path / "large", None).update()
    assert len(started) == 1 and started[0] is not None and not started[0].broken
    assert started[0]._process.poll() is not None  # ended with the build
    assert large.indexed == small.indexed > 250
    one, other = KeywordIndex(tmp_path / "small" / "keyword"), KeywordIndex(tmp_path / "large" / "keyword")
    assert one.searcher().terms_with_prefix("text", "") == other.searcher().terms_with_prefix("text", "")
    for text in ["language models", "graph neural network", "robot", "benchmark for agents"]:
        parsed = parse_query(text)
        assert ([(h.item_id, round(h.score, 4)) for h in one.search(parsed, limit=30)]
                == [(h.item_id, round(h.score, 4)) for h in other.search(parsed, limit=30)])
    store.close()


def test_one_writer_takes_analysed_text_or_text_as_it_is_not_both(tmp_path):
    docs = documents()
    index = KeywordIndex(tmp_path / "keyword")
    index.update(docs[:5], [], [], analysed=IndexedText().all([document_texts(doc) for doc in docs[:5]]))
    with pytest.raises(ValueError):
        index.update(docs[5:10], [], [])
    index.close()


def test_without_a_second_process_the_build_goes_as_a_small_one(tmp_path, monkeypatch):
    store = open_store(tmp_path / "store.db")
    Ingester(store).ingest_paths([LISTING])
    monkeypatch.setattr(indexer_module, "ANALYSE_APART_FROM", 1)
    monkeypatch.setattr(analysis, "can_start", lambda: False)
    report = Indexer(store, tmp_path / "index", None).update()
    assert report.indexed > 200
    assert KeywordIndex(tmp_path / "index" / "keyword").search(parse_query("language models"), limit=5)
    store.close()
