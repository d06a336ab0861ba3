"""Search on a real store: keyword (tantivy BM25), semantic (WordLlama + usearch), hybrid, similar items."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from click.testing import CliRunner

from paperfeed.cli import cli
from paperfeed.config import Settings
from paperfeed.ingest import Ingester
from paperfeed.search import fuse, open_indexer, open_search, parse_query
from paperfeed.search.embed import WordLlamaEmbedder
from paperfeed.storage import open_store

from datafiles import DATA, LISTING, LISTING_UNIQUE

NEWS = DATA / "news" / "guardian_us_2018-01-31.rss"


def listing_records() -> list[dict]:
    records = {}
    for line in LISTING.read_text().splitlines():
        record = json.loads(line)
        records[record["id"]] = record
    return list(records.values())


@pytest.fixture(scope="module")
def embedder():
    return WordLlamaEmbedder()


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder):
    """A store holding a real arXiv listing day and a Guardian feed, indexed for search."""
    db = tmp_path_factory.mktemp("search") / "store.db"
    settings = Settings.load(db=str(db))
    store = open_store(db)
    Ingester(store).ingest_paths([LISTING, NEWS])
    report = open_indexer(store, settings).update()
    service = open_search(store, settings, embedder=embedder)
    yield store, service, report, settings
    store.close()


def ids_of(results) -> list[int]:
    return [hit.id for hit in results.hits]


def item_by_arxiv(store, arxiv_id: str) -> int:
    return store.find_item(arxiv_id)


# -- the query language ---------------------------------------------------------------------

def test_query_parser_splits_terms_phrases_prefixes_exclusions_and_filters():
    parsed = parse_query('diffusion "large language models" transform* -survey author:"Yann LeCun" '
                         'category:cs.LG kind:paper after:2025-03 before:2025 source:guardian topic:agents')
    assert parsed.terms == ["diffusion"]
    assert parsed.phrases == ["large language models"]
    assert parsed.prefixes == ["transform"]
    assert parsed.excluded == ["survey"]
    assert parsed.filters == {"author": ["Yann LeCun"], "category": ["cs.LG"], "kind": ["paper"],
                              "source": ["guardian"], "topic": ["agents"]}
    assert (parsed.after, parsed.before) == ("2025-03-01", "2025-12-31")


def test_year_filter_covers_the_whole_year_and_a_bad_date_is_searched_as_text():
    assert (parse_query("year:2024").after, parse_query("year:2024").before) == ("2024-01-01", "2024-12-31")
    parsed = parse_query("after:2025-13-40 http://example.org")
    assert parsed.after is None
    assert parsed.terms == ["after:2025-13-40", "http://example.org"]


@pytest.mark.parametrize("text", ['"', '""', "-", "*", "a*", "AND OR NOT", "title:(", "author:", '"unbalanced phrase',
                                  "((()))", "^2~3", "\\", "\x00", "ünïcödé 数据", "a" * 500, "category:", "-\"x\"",
                                  "NEAR/3", "field:value:other", "[1 TO 5]", "{}", "'; DROP TABLE items; --"])
def test_every_string_is_a_valid_query(indexed, text):
    _, service, _, _ = indexed
    for mode in ("keyword", "semantic", "hybrid"):
        results = service.search(text, mode=mode)
        assert isinstance(results.hits, list)


def test_random_strings_never_raise(indexed):
    _, service, _, _ = indexed
    alphabet = 'ab -*":()[]{}^~\\/!?&|+=.,;\'\x00é数'
    generator = random.Random(7)
    for _ in range(200):
        text = "".join(generator.choice(alphabet) for _ in range(generator.randrange(1, 20)))
        service.search(text, mode="keyword")


# -- keyword ranking ------------------------------------------------------------------------

def test_a_title_query_ranks_its_paper_first(indexed):
    store, service, _, _ = indexed
    record = next(r for r in listing_records() if r["id"] == "2602.22639")
    results = service.search(record["title"], mode="keyword")
    assert results.hits[0].id == item_by_arxiv(store, "2602.22639")
    assert results.hits[0].title.startswith("QuadSync")


def test_known_item_retrieval_from_five_abstract_words(indexed):
    """Five consecutive words from an abstract find that paper in the top 10 (keyword and hybrid)."""
    store, service, _, _ = indexed
    generator = random.Random(3)
    records = generator.sample(listing_records(), 40)
    found = {"keyword": 0, "hybrid": 0}
    for record in records:
        words = record["summary"].split()
        start = generator.randrange(0, max(1, len(words) - 5))
        query = " ".join(words[start:start + 5])
        target = item_by_arxiv(store, record["id"])
        for mode in found:
            found[mode] += target in ids_of(service.search(query, mode=mode, limit=10))
    assert found["keyword"] >= 36, found
    assert found["hybrid"] >= found["keyword"] - 2, found


def test_title_words_outrank_the_same_words_in_an_abstract(indexed):
    _, service, _, _ = indexed
    hits = service.search("synchronization", mode="keyword", limit=20).hits
    assert hits, "the listing has a paper titled with Synchronization"
    in_title = [hit for hit in hits if "synchroniz" in hit.title.lower()]
    assert in_title and hits[0] in in_title


def test_phrase_prefix_and_exclusion(indexed):
    _, service, _, _ = indexed
    phrase = service.search('"tensor synchronization"', mode="keyword").hits
    assert phrase and all("tensor synchronization" in (h.title + " " + h.snippet).lower().replace("[", "").replace("]", "")
                          for h in phrase)
    prefix = service.search("quadrif*", mode="keyword").hits
    assert any(h.title.startswith("QuadSync") for h in prefix)
    with_word = {h.id for h in service.search("tensor", mode="keyword", limit=100).hits}
    without = {h.id for h in service.search("tensor -synchronization", mode="keyword", limit=100).hits}
    assert without < with_word
    assert all("synchroniz" not in h.title.lower() for h in service.search("tensor -synchronization", mode="keyword",
                                                                           limit=100).hits)


def test_filters_author_category_kind_source_and_dates(indexed):
    _, service, _, _ = indexed
    by_author = service.search('author:"Gilad Lerman"', mode="keyword").hits
    assert by_author and all("Gilad Lerman" in hit.authors for hit in by_author)
    lowercase_folded = service.search("author:lerman", mode="keyword").hits
    assert {h.id for h in lowercase_folded} >= {h.id for h in by_author}
    news = service.search("kind:news", mode="keyword", limit=100).hits
    assert len(news) == 55 and all(hit.kind == "news" for hit in news)
    guardian = service.search("source:guardian trump", mode="keyword").hits
    assert guardian and all(hit.kind == "news" for hit in guardian)
    papers_2018 = service.search("year:2018", mode="keyword", limit=100).hits
    assert papers_2018 and all(hit.published.startswith("2018") for hit in papers_2018)
    category = service.search("category:math.NA tensor", mode="keyword").hits
    assert any(hit.title.startswith("QuadSync") for hit in category)
    assert not service.search("category:astro-ph.GA tensor synchronization quadrifocal", mode="keyword").hits


def test_pagination_returns_the_next_results_without_overlap(indexed):
    _, service, _, _ = indexed
    first = ids_of(service.search("learning", mode="keyword", limit=10))
    second = ids_of(service.search("learning", mode="keyword", limit=10, offset=10))
    both = ids_of(service.search("learning", mode="keyword", limit=20))
    assert len(first) == len(second) == 10
    assert first + second == both


def test_snippets_mark_matches_and_escape_html(indexed):
    _, service, _, _ = indexed
    hit = service.search("quadrifocal tensors", mode="keyword").hits[0]
    assert "<mark>quadrifocal</mark>" in hit.snippet_html.lower()
    assert "<mark>tensors</mark>" in hit.snippet_html.lower()


# -- semantic and hybrid --------------------------------------------------------------------

def test_every_item_has_a_stored_unit_vector(indexed, embedder):
    store, _, report, _ = indexed
    assert report.embedded == store.item_count() == LISTING_UNIQUE + 55
    stored = store.item_vectors(embedder.name, list(range(1, store.item_count() + 1)))
    assert len(stored) == store.item_count()
    vector = np.frombuffer(next(iter(stored.values()))[1], dtype=np.float16).astype(np.float32)
    assert vector.shape == (embedder.dim,) and abs(np.linalg.norm(vector) - 1) < 1e-2


def test_semantic_search_finds_a_paper_by_meaning_not_words(indexed):
    store, service, _, _ = indexed
    # The QuadSync abstract speaks of structure from motion and quadrifocal tensors, not of "camera geometry".
    hits = service.search("recovering camera poses from multi-view geometry", mode="semantic", limit=10).hits
    assert hits and all(hit.kind == "paper" for hit in hits[:5])
    news = service.search("president speech congress", mode="semantic", limit=5).hits
    assert all(hit.kind == "news" for hit in news)


def test_semantic_results_respect_filters(indexed):
    _, service, _, _ = indexed
    hits = service.search("kind:news election", mode="semantic", limit=10).hits
    assert hits and all(hit.kind == "news" for hit in hits)
    papers = service.search("category:cs.CV image segmentation", mode="hybrid", limit=10).hits
    assert papers and all(hit.kind == "paper" for hit in papers)


def test_hybrid_keeps_the_exact_title_match_on_top(indexed):
    store, service, _, _ = indexed
    hits = service.search("QuadSync: Quadrifocal Tensor Synchronization via Tucker Decomposition", mode="hybrid").hits
    assert hits[0].id == item_by_arxiv(store, "2602.22639")


def test_fuse_is_reciprocal_rank_fusion():
    fused = fuse([[1, 2, 3], [3, 1, 4]])
    assert [item for item, _ in fused] == [1, 3, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    weighted = fuse([[1, 2], [3, 2]], [1.0, 0.5])
    assert [item for item, _ in weighted] == [2, 1, 3]


def test_similar_items_exclude_the_item_and_share_its_field(indexed):
    store, service, _, _ = indexed
    target = item_by_arxiv(store, "2602.22639")
    similar = service.similar(target, limit=10)
    assert len(similar) == 10 and target not in [hit.id for hit in similar]
    assert all(hit.kind == "paper" for hit in similar)


def test_wordllama_pooling_matches_the_library(embedder):
    from wordllama import WordLlama  # noqa: F401 - the reference implementation

    texts = ["Large language models are few-shot learners", "Denoising diffusion probabilistic models"]
    reference = embedder_reference(texts)
    ours = embedder.embed(texts)
    assert np.allclose((reference * ours).sum(axis=1), 1.0, atol=1e-4)


def embedder_reference(texts):
    from pathlib import Path

    import wordllama
    from wordllama import WordLlama

    model = WordLlama.load(config="l2_supercat", dim=256, cache_dir=Path(wordllama.__file__).parent,
                           disable_download=True)
    return model.embed(texts, norm=True)


# -- staying in step with the store ---------------------------------------------------------

def test_index_follows_new_changed_and_reingested_items(tmp_path, embedder):
    db = tmp_path / "store.db"
    settings = Settings.load(db=str(db))
    with open_store(db) as store:
        Ingester(store).ingest_paths([NEWS])
        service = open_search(store, settings, embedder=embedder)
        assert service.search("trump", mode="keyword").behind == {"keyword": 55}
        first = open_indexer(store, settings).update()
        assert (first.indexed, first.embedded) == (55, 55)
        assert service.search("trump", mode="hybrid").behind == {}
        assert service.search("quadrifocal", mode="keyword").hits == []

        Ingester(store).ingest_paths([LISTING])
        assert service.search("quadrifocal", mode="hybrid").behind == {"keyword": LISTING_UNIQUE,
                                                                       "semantic": LISTING_UNIQUE}
        second = open_indexer(store, settings).update()
        assert (second.indexed, second.embedded) == (LISTING_UNIQUE, LISTING_UNIQUE)
        assert service.search("quadrifocal", mode="keyword").hits

        Ingester(store).ingest_paths([LISTING, NEWS])  # unchanged input: nothing to index
        third = open_indexer(store, settings).update()
        assert (third.indexed, third.embedded) == (0, 0)

        rebuilt = open_indexer(store, settings).rebuild()
        assert rebuilt.indexed == LISTING_UNIQUE + 55
        assert rebuilt.embedded == 0 and rebuilt.reused_vectors == LISTING_UNIQUE + 55
        assert service.keyword.document_count() == store.item_count()


def test_a_deleted_item_leaves_both_indexes(tmp_path, embedder):
    db = tmp_path / "store.db"
    settings = Settings.load(db=str(db))
    with open_store(db) as store:
        Ingester(store).ingest_paths([LISTING])
        open_indexer(store, settings).update()
        target = store.find_item("2602.22639")
        store._db.execute("DELETE FROM items WHERE id = ?", (target,))
        report = open_indexer(store, settings).update()
        assert report.deleted == 1
        service = open_search(store, settings, embedder=embedder)
        assert target not in ids_of(service.search("quadrifocal tensor synchronization", mode="keyword"))
        assert target not in ids_of(service.search("quadrifocal tensor synchronization", mode="semantic", limit=50))


# -- the command line -----------------------------------------------------------------------

def invoke(*args, env=None):
    return CliRunner().invoke(cli, list(args), env={"CI": "1", **(env or {})}, catch_exceptions=False)


def test_cli_ingest_indexes_and_search_prints_json(tmp_path):
    db = str(tmp_path / "store.db")
    result = invoke("--db", db, "ingest", str(LISTING))
    assert result.exit_code == 0, result.output
    assert f"search index: {LISTING_UNIQUE} indexed" in result.output
    found = invoke("--db", db, "search", "--json", "--limit", "3", "quadrifocal", "tensor")
    hits = json.loads(found.stdout)
    assert len(hits) >= 1 and {"id", "title", "score", "snippet"} <= hits[0].keys()
    assert hits[0]["title"].startswith("QuadSync")
    similar = invoke("--db", db, "similar", "2602.22639", "--json", "--limit", "5")
    assert len(json.loads(similar.stdout)) == 5


def test_cli_reports_an_index_behind_the_store_and_catches_up(tmp_path):
    db = str(tmp_path / "store.db")
    assert invoke("--db", db, "ingest", "--no-index", str(NEWS)).exit_code == 0
    behind = invoke("--db", db, "search", "trump")
    assert "55 changed items behind" in behind.stderr
    assert invoke("--db", db, "index", "--no-vectors").exit_code == 0
    keyword_only = invoke("--db", db, "search", "--mode", "keyword", "trump")
    assert "behind" not in keyword_only.stderr and "Trump" in keyword_only.stdout
    assert invoke("--db", db, "index").exit_code == 0
    assert "behind" not in invoke("--db", db, "search", "trump").stderr


def test_cli_usage_errors(tmp_path):
    db = str(tmp_path / "store.db")
    assert invoke("--db", db, "search", "--mode", "fuzzy", "x").exit_code == 2
    unknown = invoke("--db", db, "search", "x", env={"PAPERFEED_EMBEDDER": "bert-huge"})
    assert unknown.exit_code == 1 and "unknown embedder 'bert-huge'" in unknown.stderr
    missing = invoke("--db", db, "similar", "2401.99999")
    assert missing.exit_code == 1 and "no item matches" in missing.stderr


def test_a_sync_leaves_the_search_indexes_current(tmp_path):
    """Records a sync stores are searchable at once: sync applies the change log as ingest does."""
    from replay_server import ReplayServer, Reply

    db = str(tmp_path / "store.db")
    env = {"PAPERFEED_ALLOW_PRIVATE_URLS": "1", "PAPERFEED_HOST_INTERVAL": "0"}
    with ReplayServer() as server:
        server.route("/guardian.rss", Reply(200, NEWS.read_bytes(), {"Content-Type": "application/rss+xml"}))
        assert invoke("--db", db, "sources", "add", "guardian", "--kind", "feed",
                      "--url", server.url("/guardian.rss"), env=env).exit_code == 0
        synced = invoke("--db", db, "sync", env=env)
    assert synced.exit_code == 0, synced.output
    found = invoke("--db", db, "search", "--mode", "keyword", "trump")
    assert "Trump" in found.stdout and "behind" not in found.stderr


def test_loading_the_embedder_leaves_logging_alone():
    import logging
    import subprocess
    import sys

    code = ("import logging; from paperfeed.search.embed import WordLlamaEmbedder; WordLlamaEmbedder(); "
            "root = logging.getLogger(); print(len(root.handlers), root.level)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.stdout.split() == ["0", str(logging.WARNING)], run.stderr
