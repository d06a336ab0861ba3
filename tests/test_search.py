"""Search on a real store: keyword (tantivy BM25 on SQLite, full text in PostgreSQL), semantic (WordLlama +
usearch), hybrid, similar items; storage-facing tests run on both backends."""

from __future__ import annotations

import dataclasses
import itertools
import json
import shutil
import random
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from paperfeed.cli import cli
from paperfeed.config import Settings
from paperfeed.ingest import Ingester
from paperfeed.search import QueryLimits, QueryTooLarge, fuse, index_directory, open_indexer, open_search, parse_query
from paperfeed.search.embed import WordLlamaEmbedder
from paperfeed.search.query import ParsedQuery
from paperfeed.storage import Store, open_store

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


# "postgres-database": the PostgreSQL corpus searched through the database's full text alone, as a host whose
# keyword copy is behind is ("postgres": the host's tantivy copy answers, being current).
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
            pytest.param("postgres-database", marks=pytest.mark.postgres)]
_databases = itertools.count(1)


@dataclass
class Corpus:
    store: Store
    service: object
    report: object
    settings: Settings

    def __iter__(self):
        return iter((self.store, self.service, self.report, self.settings))


@pytest.fixture(scope="module")
def corpora(tmp_path_factory, embedder):
    """``build(backend)``: a store holding a real arXiv listing day and a Guardian feed, indexed for search,
    built once per backend for the module (so a test can compare the two)."""
    built: dict[str, Corpus] = {}

    def build(backend: str, pg_server=None) -> Corpus:
        if backend == "postgres-database" and backend not in built:
            corpus = build("postgres", pg_server)
            # The same store and vector graph, without the keyword copy: its state still names it, but a copy
            # that is not there is never searched.
            directory = Path(corpus.settings.index_dir)
            without_copy = directory.with_name("index-without-keyword-copy")
            shutil.copytree(directory, without_copy, ignore=shutil.ignore_patterns("keyword"))
            settings = dataclasses.replace(corpus.settings, index_dir=str(without_copy))
            service = open_search(corpus.store, settings, embedder=embedder)
            assert service.keyword.serving == "database"
            built[backend] = Corpus(corpus.store, service, corpus.report, settings)
        if backend not in built:
            root = tmp_path_factory.mktemp(f"search-{backend}")
            if backend == "sqlite":
                url = str(root / "store.db")
                settings = Settings.load(db=url)
            else:
                url = pg_server.create_database(f"paperfeed_search_{next(_databases)}")
                settings = Settings.load(db=url, index_dir=str(root / "index"))
            store = open_store(url)
            Ingester(store).ingest_paths([LISTING, NEWS])
            report = open_indexer(store, settings).update()
            built[backend] = Corpus(store, open_search(store, settings, embedder=embedder), report, settings)
        return built[backend]

    yield build
    for backend, corpus in built.items():
        if backend != "postgres-database":  # the postgres corpus's store
            corpus.store.close()


@pytest.fixture(scope="module", params=BACKENDS)
def indexed(request, corpora):
    """The indexed corpus on each backend in turn."""
    pg_server = request.getfixturevalue("pg_server") if request.param.startswith("postgres") else None
    return corpora(request.param, pg_server)


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """The user's data directory, where a PostgreSQL store's index files go by default, inside tmp_path."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def settings_for(data_home):
    """Settings of a store with the default index directory (beside a SQLite file, in ``data_home`` for PostgreSQL)."""
    return lambda url: Settings.load(db=str(url))


def execute(store, sql: str, params: tuple = ()) -> list[tuple]:
    """Run SQL written with ``?`` placeholders on either backend: for test set-up no storage method offers
    (deleting an item, writing rows by hand)."""
    if hasattr(store, "_db"):
        return store._db.execute(sql, params).fetchall()
    cursor = store._conn.execute(sql.replace("?", "%s"), params)
    return cursor.fetchall() if cursor.description else []


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


NASTY = ['"', '""', "-", "*", "a*", "AND OR NOT", "title:(", "author:", '"unbalanced phrase',
         "((()))", "^2~3", "\\", "\x00", "ünïcödé 数据", "a" * 500, "category:", "-\"x\"",
         "NEAR/3", "field:value:other", "[1 TO 5]", "{}", "'; DROP TABLE items; --",
         # tsquery syntax, which must never reach PostgreSQL as syntax
         "a & b | !c", "tensor & !quadrifocal", "<->", "a <-> b", "a <2> b", "x:*", ":*", "tensor:A", "tensor:*AB",
         "'", "''", "'tensor' & 'synchronization'", "!!", "(a|b)&!c", "\\'x", "e.g., (i.e.)", "-'", "author:'",
         'author:"\x00"', "source:&", "topic:!!", "category:'", "kind:|", "tens*:*", "-*", "\x00*", "-\x00"]


@pytest.mark.parametrize("text", NASTY)
def test_every_string_is_a_valid_query(indexed, text):
    _, service, _, _ = indexed
    for mode in ("keyword", "semantic", "hybrid"):
        results = service.search(text, mode=mode)
        assert isinstance(results.hits, list)
    assert isinstance(service.search(text, mode="keyword", offset=3).hits, list)


def test_random_strings_never_raise(indexed):
    _, service, _, _ = indexed
    alphabet = 'ab -*":()[]{}^~\\/!?&|+=.,;\'\x00é数<>:'
    generator = random.Random(7)
    for _ in range(200):
        text = "".join(generator.choice(alphabet) for _ in range(generator.randrange(1, 20)))
        service.search(text, mode="keyword")
    long_query = "".join(generator.choice(alphabet + "tensor ") for _ in range(20_000))
    many_words = " ".join(f"w{n} -x{n} p{n}* author:a{n}" for n in range(300))
    # Past the service's limits a query is refused, saying which limit (issue 17: cost) ...
    with pytest.raises(QueryTooLarge, match="search_max_chars"):
        service.search(long_query, mode="keyword")
    with pytest.raises(QueryTooLarge, match="search_max_prefixes"):
        service.search("w1 p1* " * 11, mode="keyword")
    with pytest.raises(QueryTooLarge, match="search_max_terms"):
        service.search("w1 " * 51, mode="keyword")
    # ... and with the limits lifted the index still answers anything.
    service.limits = QueryLimits(chars=10**8, terms=10**8, prefixes=10**8)
    try:
        assert isinstance(service.search(long_query, mode="keyword").hits, list)
        assert service.search(many_words, mode="keyword").hits == []
        # Deep enough to exhaust a recursive query walker, were it sent whole.
        for huge in ('"' + "word " * 20_000 + '"', "tensor " * 5_000, "a.b." * 5_000, f'author:"{"x " * 20_000}"',
                     "-a-b" * 5_000, " ".join(f"p{n}*" for n in range(3_000))):
            assert isinstance(service.search(huge, mode="keyword").hits, list)
    finally:
        service.limits = QueryLimits()


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


def test_snippet_word_finding_is_the_case_insensitive_pattern_s_on_real_abstracts():
    """The quick path (str.find in the lowercased ASCII text) finds exactly the words the case-insensitive
    alternation finds, on real abstracts with terms drawn from them, prefixes of each other, digits, underscores,
    other case, and non-ASCII text or terms (which take the pattern itself)."""
    from paperfeed.search.snippet import _candidates, _spans

    generator = random.Random(4)
    texts = [json.loads(line)["summary"] for line in LISTING.read_text().splitlines() if line.strip()][:200]
    texts += ["Learning to LEARN: learners learned_x 3d-learning l33t under_score (learn) learn.", "Ünïcödé learning",
              "K\u212aelvin kelvin", "learn"]
    checked = 0
    for text in texts:
        words = [word.strip(".,:;()[]") for word in text.split()]
        words = [word for word in words if word]
        for _ in range(5):
            picked = generator.sample(words, min(len(words), generator.randint(1, 4)))
            starts = {word[:generator.randint(1, len(word))] for word in picked} | {"learn", "learning", "3d", "k"}
            starts = tuple(sorted(starts, key=len, reverse=True))
            assert _spans(text, starts) == [match.span() for match in _candidates(starts).finditer(text)], (text, starts)
            checked += 1
    assert checked >= 1000


# Two papers with the same five rare words: one holds them as a phrase in its abstract, the other scattered
# through its (three times weighted) title and abstract. A reader who remembers the sentence means the first.
PROXIMITY_RECORDS = [
    {"id": "2603.90001", "categories": ["q-bio.PE"], "authors": ["Ada Phrase"],
     "title": "Fungal ecology on wind-swept ridges",
     "summary": "We study colonisation on exposed ridges. To explain the observed spread we present a model of "
                "acoustic dispersal of lichen spores in cold air, fitted to three seasons of field traps, and "
                "compare it with passive drift. The fitted rates agree with laboratory measurements."},
    {"id": "2603.90002", "categories": ["q-bio.PE"], "authors": ["Bo Scatter"],
     "title": "Spores, lichen and dispersal: an acoustic model",
     "summary": "Spores travel far. Lichen survive cold. Dispersal is studied in the field; an acoustic sensor "
                "records wind, and a model predicts growth."},
]


@pytest.fixture(scope="module")
def proximity_corpus(tmp_path_factory, embedder):
    """A real listing day plus the two papers above, indexed for search (SQLite: the proximity clauses are the
    tantivy index's; PostgreSQL's full text ranks by ts_rank_cd's cover density, see docs/benchmarks.md)."""
    root = tmp_path_factory.mktemp("proximity")
    listing = root / "2026-03-02.jsonl"
    listing.write_text("\n".join(json.dumps({**record, "comment": None, "pdf": f"https://arxiv.org/pdf/{record['id']}",
                                             "abs": f"https://arxiv.org/abs/{record['id']}"})
                                 for record in PROXIMITY_RECORDS) + "\n")
    url = str(root / "store.db")
    settings = Settings.load(db=url, index_dir=str(root / "index"))
    store = open_store(url)
    Ingester(store).ingest_paths([LISTING, listing])
    open_indexer(store, settings).update()
    yield store, open_search(store, settings, embedder=embedder)
    store.close()


@pytest.mark.parametrize("mode", ["keyword", "hybrid"])
def test_a_remembered_phrase_ranks_its_paper_above_one_with_the_words_scattered(proximity_corpus, mode):
    store, service = proximity_corpus
    phrase_paper, scattered_paper = (store.find_item(record["id"]) for record in PROXIMITY_RECORDS)
    ranked = ids_of(service.search("model of acoustic dispersal of lichen spores", mode=mode))
    assert ranked[0] == phrase_paper and scattered_paper in ranked, ranked
    # The words alone, in another order than the abstract's, keep the bag-of-words order: the title wins.
    ranked = ids_of(service.search("spores lichen dispersal acoustic model", mode=mode))
    assert ranked[0] == scattered_paper, ranked


def test_a_phrase_remembered_with_a_word_missing_still_ranks_its_paper_first(proximity_corpus):
    store, service = proximity_corpus
    phrase_paper = store.find_item(PROXIMITY_RECORDS[0]["id"])
    # "acoustic" left out: no exact phrase, but the remaining words stand close together in that abstract; the
    # other paper has them all too, in its title.
    assert ids_of(service.search("model of dispersal of lichen spores", mode="keyword"))[0] == phrase_paper


def test_keyword_search_without_proximity_ranks_by_the_bag_of_words_alone(proximity_corpus):
    # Similar items' title query is searched so (``SIMILAR_PROXIMITY``): the remembered phrase no longer lifts the
    # paper that holds it, and the scores are BM25's over the bag of words, as tantivy gives them.
    store, service = proximity_corpus
    keyword = service.keyword
    phrase_paper, scattered_paper = (store.find_item(record["id"]) for record in PROXIMITY_RECORDS)
    parsed = parse_query("model of acoustic dispersal of lichen spores")
    assert keyword.search(parsed, limit=5)[0].item_id == phrase_paper
    plain = keyword.search(parsed, limit=5, proximity=False)
    assert plain[0].item_id == scattered_paper and phrase_paper in [hit.item_id for hit in plain]
    searcher = keyword.searcher()
    found = searcher.search(keyword.build_query(parsed), 5, count=False).hits
    bag = zip(searcher.fast_field_values("id", [address for _, address in found]), [score for score, _ in found])
    assert [(hit.item_id, hit.score) for hit in plain] == sorted(bag, key=lambda hit: (-hit[1], hit[0]))


def test_pages_continue_without_repeats_or_gaps_past_the_proximity_reranked_top(indexed, monkeypatch):
    """Proximity re-ranks the bag of words' best RERANK_DEPTH; later pages continue in bag-of-words order."""
    from paperfeed.search import keyword

    _, service, _, _ = indexed
    monkeypatch.setattr(keyword, "RERANK_DEPTH", 7)
    query = "learning model data"
    whole = ids_of(service.search(query, mode="keyword", limit=100))
    assert 20 < len(whole) < 100
    pages = [ids_of(service.search(query, mode="keyword", limit=3, offset=offset)) for offset in range(0, 100, 3)]
    assert [item for page in pages for item in page] == whole


def test_known_item_retrieval_from_six_abstract_words_in_hybrid_search(indexed):
    """Six consecutive words of an abstract put that paper in the top 10 of hybrid search (the issue's measure)."""
    store, service, _, _ = indexed
    generator = random.Random(6)
    records = generator.sample(listing_records(), 80)
    found = 0
    for record in records:
        words = record["summary"].split()
        start = generator.randrange(0, max(1, len(words) - 6))
        found += item_by_arxiv(store, record["id"]) in ids_of(
            service.search(" ".join(words[start:start + 6]), mode="hybrid", limit=10))
    assert found >= 78, found


@pytest.mark.postgres
def test_keyword_results_agree_across_backends(corpora, pg_server):
    """BM25 (tantivy) and ts_rank_cd (PostgreSQL's full text) score differently but agree where it matters:
    every title finds its paper first on both, and five words of an abstract find nearly the same top 10.
    A PostgreSQL host's tantivy copy, when it answers, ranks exactly as SQLite's index."""
    sqlite, postgres = corpora("sqlite"), corpora("postgres-database", pg_server)
    copy = corpora("postgres", pg_server)
    records = listing_records()
    for record in records:
        for corpus in (sqlite, postgres):
            hits = corpus.service.search(record["title"], mode="keyword").hits
            assert hits[0].id == corpus.store.find_item(record["id"]), (record["title"], corpus.store.url)
    generator = random.Random(5)
    overlaps = []
    for record in generator.sample(records, 60):
        words = record["summary"].split()
        start = generator.randrange(0, max(1, len(words) - 5))
        query = " ".join(words[start:start + 5])
        found = [{hit.title for hit in corpus.service.search(query, mode="keyword").hits} for corpus in (sqlite, postgres)]
        overlaps.append(len(found[0] & found[1]) / max(1, len(found[0] | found[1])))
        in_order = [[hit.title for hit in corpus.service.search(query, mode="keyword").hits] for corpus in (sqlite, copy)]
        assert in_order[0] == in_order[1], query
    assert sum(overlaps) / len(overlaps) >= 0.9, overlaps


# -- semantic and hybrid --------------------------------------------------------------------

def test_every_item_has_a_stored_unit_vector(indexed, embedder):
    store, _, report, _ = indexed
    assert report.embedded == store.item_count() == LISTING_UNIQUE + 55
    stored = store.item_vectors(embedder.name, store.item_ids_after(0, 10_000))
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


def test_similar_items_by_keyword_are_the_title_words_ranked_without_proximity(indexed):
    # The item page's similar items: its title as a query, any word allowed, ranked as a bag of words (the
    # proximity re-rank cost most of the call and changed no top 8 of 300 real items), equal scores by item id.
    store, service, _, _ = indexed
    papers = sorted(row[0] for row in execute(store, "SELECT id FROM items WHERE kind = 'paper'"))
    assert service.similar_proximity is False
    local = getattr(service.keyword, "serving", "local") == "local"  # (else the database's full text answers)
    ties = 0
    for target in papers[:60]:
        parsed = ParsedQuery(terms=store.item_documents([target], facets=False)[target].title.split())
        if local:
            # BM25 over the bag of words as tantivy scores every match, ordered here by score, then item id.
            keyword = service.keyword if hasattr(service.keyword, "searcher") else service.keyword._serving()[0]
            searcher = keyword.searcher()
            found = searcher.search(keyword.build_query(parsed, conjunction=False), 200, count=False).hits
            scored = sorted(zip(searcher.fast_field_values("id", [address for _, address in found]),
                                [score for score, _ in found]), key=lambda hit: (-hit[1], hit[0]))
            expected = [item_id for item_id, _ in scored if item_id != target][:10]
            scores = [score for item_id, score in scored if item_id != target][:10]
            ties += len(scores) - len(set(scores))
        else:
            expected = [hit.item_id for hit in service.keyword.search(parsed, 21, any_word=True, proximity=False)
                        if hit.item_id != target][:10]
        assert [hit.id for hit in service.similar(target, limit=10, mode="keyword")] == expected, target
    assert ties > 0 or not local  # (some of these rank equal scores, where the order by id shows)
    target = papers[0]
    hybrid = service.similar(target, limit=10, mode="hybrid")
    assert len(hybrid) == 10 and target not in [hit.id for hit in hybrid]
    keyword_ranked = [hit.id for hit in service.similar(target, limit=10, mode="keyword")]
    assert set(keyword_ranked[:3]) <= {hit.id for hit in hybrid}
    # The ranking before (kept to measure against): the title query re-ranked by proximity.
    parsed = ParsedQuery(terms=store.item_documents([target], facets=False)[target].title.split())
    before = [hit.item_id for hit in service.keyword.search(parsed, 21, any_word=True) if hit.item_id != target][:10]
    service.similar_proximity = True
    try:
        assert [hit.id for hit in service.similar(target, limit=10, mode="keyword")] == before
    finally:
        service.similar_proximity = False


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

def test_the_change_log_bumps_an_item_on_every_change(store):
    """One row per item, its sequence bumped by every insert, update, delete and retag."""
    Ingester(store).ingest_paths([NEWS])
    changes = store.search_changes(0, 1000)
    assert len(changes) == store.pending_search_changes(0) == 55
    assert store.store_version() == changes[-1][0]
    assert [seq for seq, _ in changes] == sorted(seq for seq, _ in changes)
    retitled, retagged = changes[0][1], changes[1][1]

    def changed_since(last: int) -> list[int]:
        return [item_id for _, item_id in store.search_changes(last, 100)]

    last = store.store_version()
    execute(store, "UPDATE items SET title = title || '!' WHERE id = ?", (retitled,))
    assert changed_since(last) == [retitled] and store.pending_search_changes(0) == 55
    last = store.store_version()
    execute(store, "INSERT INTO topics (name, slug) VALUES ('Agents', 'agents')")
    topic = execute(store, "SELECT id FROM topics WHERE slug = 'agents'")[0][0]
    execute(store, "INSERT INTO item_topics (item_id, topic_id, assigned_by, confidence) VALUES (?, ?, 'user', 1.0)",
            (retagged, topic))
    assert changed_since(last) == [retagged]
    last = store.store_version()
    execute(store, "DELETE FROM item_topics WHERE item_id = ?", (retagged,))
    assert changed_since(last) == [retagged]
    last = store.store_version()
    execute(store, "DELETE FROM items WHERE id = ?", (retitled,))
    assert changed_since(last) == [retitled] and store.pending_search_changes(0) == 55
    assert store.item_documents([retitled, retagged]).keys() == {retagged}

def test_index_follows_new_changed_and_reingested_items(backend_url, settings_for, embedder):
    settings = settings_for(backend_url)
    with open_store(backend_url) as store:
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


def test_a_repeated_search_is_shared_by_the_process_until_the_store_or_an_index_changes(backend_url, settings_for,
                                                                                        embedder):
    settings = settings_for(backend_url)
    with open_store(backend_url) as store:
        Ingester(store).ingest_paths([LISTING])
        open_indexer(store, settings).update()
        assert open_search(store, settings, embedder=embedder).cached("quadrifocal tensor", mode="hybrid") is None
        first = open_search(store, settings, embedder=embedder).search("quadrifocal tensor", mode="hybrid")
        # `cached` answers a repeat without searching (the web app's event loop uses it), and only a repeat.
        quick = open_search(store, settings, embedder=embedder).cached("quadrifocal tensor", mode="hybrid")
        assert quick.hits[0] is first.hits[0] and quick.total == first.total
        assert open_search(store, settings, embedder=embedder).cached("quadrifocal tensor", mode="keyword") is None
        # Another service of the process (a server keeps one per pooled connection) reuses the result itself.
        again = open_search(store, settings, embedder=embedder).search("quadrifocal tensor", mode="hybrid")
        assert first.hits and again.hits[0] is first.hits[0]
        assert open_search(store, settings, embedder=embedder).search("quadrifocal tensor", mode="keyword",
                                                                      limit=3).hits[0] is not first.hits[0]

        Ingester(store).ingest_paths([NEWS])  # the store moves on: no result from before it is served
        service = open_search(store, settings, embedder=embedder)
        assert service.cached("quadrifocal tensor", mode="hybrid") is None
        moved = service.search("quadrifocal tensor", mode="hybrid")
        assert moved.hits[0] is not first.hits[0] and moved.behind == {"keyword": 55, "semantic": 55}
        assert service.search("trump", mode="keyword").hits == []
        open_indexer(store, settings).update()  # and so does the index: the same query now finds the news
        assert service.search("trump", mode="keyword").hits
        assert service.search("quadrifocal tensor", mode="hybrid").behind == {}


def test_the_result_cache_holds_at_most_its_hits_most_recently_used_first():
    from paperfeed.search.service import ResultCache, SearchHit, SearchResults

    def results(name: str, hits: int) -> SearchResults:
        return SearchResults(name, "keyword", [SearchHit(i, "t", 0.0, "paper", None, [], None, None)
                                               for i in range(hits)])

    cache = ResultCache(hits=10)
    for number in range(3):
        cache.put(("q", number), (1,), results(str(number), 4))
    assert cache.get(("q", 0), (1,)) is None and cache.get(("q", 2), (1,)).query == "2"
    assert cache.get(("q", 1), (1,)) is not None
    assert cache.get(("q", 2), (2,)) is None  # another version of the store: not this result
    cache.put(("deep",), (1,), results("deep", 11))  # more than the cache holds: not kept, nothing evicted
    assert cache.get(("deep",), (1,)) is None and cache.get(("q", 1), (1,)) is not None


def test_a_deleted_item_leaves_both_indexes(backend_url, settings_for, embedder):
    settings = settings_for(backend_url)
    with open_store(backend_url) as store:
        Ingester(store).ingest_paths([LISTING])
        open_indexer(store, settings).update()
        target = store.find_item("2602.22639")
        execute(store, "DELETE FROM items WHERE id = ?", (target,))
        report = open_indexer(store, settings).update()
        assert report.deleted == 1
        service = open_search(store, settings, embedder=embedder)
        assert target not in ids_of(service.search("quadrifocal tensor synchronization", mode="keyword"))
        assert target not in ids_of(service.search("quadrifocal tensor synchronization", mode="semantic", limit=50))


# -- the command line -----------------------------------------------------------------------

def invoke(*args, env=None):
    return CliRunner().invoke(cli, list(args), env={"CI": "1", **(env or {})}, catch_exceptions=False)


def test_cli_ingest_indexes_and_search_prints_json(backend_url, data_home):
    db = backend_url
    result = invoke("--db", db, "ingest", str(LISTING))
    assert result.exit_code == 0, result.output
    assert f"search index: {LISTING_UNIQUE} indexed" in result.output
    found = invoke("--db", db, "search", "--json", "--limit", "3", "quadrifocal", "tensor")
    hits = json.loads(found.stdout)
    assert len(hits) >= 1 and {"id", "title", "score", "snippet"} <= hits[0].keys()
    assert hits[0]["title"].startswith("QuadSync")
    similar = invoke("--db", db, "similar", "2602.22639", "--json", "--limit", "5")
    assert len(json.loads(similar.stdout)) == 5


def test_cli_reports_an_index_behind_the_store_and_catches_up(backend_url, data_home):
    db = backend_url
    assert invoke("--db", db, "ingest", "--no-index", str(NEWS)).exit_code == 0
    behind = invoke("--db", db, "search", "trump")
    assert "55 changed items behind" in behind.stderr
    assert invoke("--db", db, "index", "--no-vectors").exit_code == 0
    keyword_only = invoke("--db", db, "search", "--mode", "keyword", "trump")
    assert "behind" not in keyword_only.stderr and "Trump" in keyword_only.stdout
    assert invoke("--db", db, "index").exit_code == 0
    assert "behind" not in invoke("--db", db, "search", "trump").stderr


def test_cli_usage_errors(backend_url, data_home):
    db = backend_url
    assert invoke("--db", db, "search", "--mode", "fuzzy", "x").exit_code == 2
    unknown = invoke("--db", db, "search", "x", env={"PAPERFEED_EMBEDDER": "bert-huge"})
    assert unknown.exit_code == 1 and "unknown embedder 'bert-huge'" in unknown.stderr
    missing = invoke("--db", db, "similar", "2401.99999")
    assert missing.exit_code == 1 and "no item matches" in missing.stderr


def test_a_sync_leaves_the_search_indexes_current(backend_url, data_home):
    """Records a sync stores are searchable at once: sync applies the change log as ingest does."""
    from replay_server import ReplayServer, Reply

    db = backend_url
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


# -- PostgreSQL: full text in the database, a change log in commit order ----------------------------------

def _insert_item(conn, title: str) -> int:
    return conn.execute("INSERT INTO items (kind, title, abstract, created_at, updated_at) "
                        "VALUES ('paper', %s, '', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z') RETURNING id",
                        (title,)).fetchone()[0]


@pytest.mark.postgres
def test_a_change_committed_after_a_later_one_is_never_skipped(pg_url):
    """Two writers: the one that changes an item first commits last. An indexer that caught up in between
    still gets the slow writer's change afterwards: the log numbers changes in commit order."""
    import psycopg

    with open_store(pg_url) as store, psycopg.connect(pg_url) as slow, psycopg.connect(pg_url) as fast:
        slow_id = _insert_item(slow, "Ptolemaic epicycles, slowly committed")  # its transaction stays open
        fast_id = _insert_item(fast, "Keplerian ellipses, quickly committed")
        fast.commit()
        assert [item_id for _, item_id in store.search_changes(0, 100)] == [fast_id]
        caught_up = store.apply_fulltext_changes(100)
        assert (caught_up.changes, caught_up.indexed) == (1, 1)
        slow.commit()
        assert [item_id for _, item_id in store.search_changes(caught_up.seq, 100)] == [slow_id]
        assert store.apply_fulltext_changes(100).indexed == 1
        query = parse_query("epicycles")
        from paperfeed.search.fulltext_pg import DatabaseKeywordIndex

        assert [hit.item_id for hit in DatabaseKeywordIndex(store).search(query)] == [slow_id]


@pytest.mark.postgres
def test_concurrent_writers_and_an_indexer_lose_no_change(pg_url):
    """Writers commit in every order while an indexer keeps applying what it sees: at the end every item is
    in the full text, none was passed over."""
    import time

    import psycopg

    writers, per_writer = 3, 25
    done = threading.Event()

    def write(number: int) -> None:
        generator = random.Random(number)
        with psycopg.connect(pg_url) as conn:
            for n in range(per_writer):
                _insert_item(conn, f"writer {number} paper {n}")
                time.sleep(generator.random() / 200)  # hold the transaction open a little, out of step
                conn.commit()

    with open_store(pg_url) as store:
        def index() -> None:
            with open_store(pg_url, migrate=False) as indexer_store:
                while not done.is_set():
                    indexer_store.apply_fulltext_changes(7)

        threads = [threading.Thread(target=write, args=(number,)) for number in range(writers)]
        applier = threading.Thread(target=index)
        applier.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done.set()
        applier.join()
        while store.apply_fulltext_changes(100).changes:
            pass
        assert store.fulltext_count() == store.item_count() == writers * per_writer
        assert store.fulltext_progress() == store.store_version()


@pytest.mark.postgres
def test_app_servers_share_the_keyword_index_and_keep_their_own_vectors(pg_url, tmp_path, embedder):
    with open_store(pg_url) as store:
        Ingester(store).ingest_paths([NEWS])
        one = Settings.load(db=pg_url, index_dir=str(tmp_path / "one"))
        two = Settings.load(db=pg_url, index_dir=str(tmp_path / "two"))
        first = open_indexer(store, one).update()
        assert (first.indexed, first.embedded) == (55, 55)
        # The second server has run nothing yet: its keyword search is current (the database's full text
        # answers), its vectors and its own keyword copy are not built.
        elsewhere = open_search(store, two, embedder=embedder)
        results = elsewhere.search("trump", mode="keyword")
        assert results.behind == {} and results.hits and elsewhere.keyword.serving == "database"
        assert open_indexer(store, two).pending() == {"keyword": 0, "semantic": 55}
        second = open_indexer(store, two).update()
        # It builds its keyword copy from the change log and reuses the stored vectors.
        assert (second.indexed, second.embedded, second.reused_vectors) == (55, 0, 55)
        assert elsewhere.search("trump", mode="hybrid").behind == {} and elsewhere.keyword.serving == "local"


@pytest.mark.postgres
def test_a_host_whose_keyword_copy_is_behind_searches_the_database_until_it_catches_up(pg_url, tmp_path):
    """Another host ingests (the database's full text is current, this host's tantivy copy is not): this host's
    searches find the new items at once, from the database; once its indexer runs, its copy answers again,
    ranking as SQLite's tantivy index does."""
    here = Settings.load(db=pg_url, index_dir=str(tmp_path / "here"), embedder="none")
    there = Settings.load(db=pg_url, index_dir=str(tmp_path / "there"), embedder="none")
    with open_store(pg_url) as store:
        Ingester(store).ingest_paths([LISTING])
        open_indexer(store, here).update()
        service = open_search(store, here)
        assert service.keyword.serving == "local"
        assert ids_of(service.search("trump", mode="keyword")) == []
        Ingester(store).ingest_paths([NEWS])
        open_indexer(store, there).update()  # the other host: the database's full text and its own copy
        assert service.keyword.serving == "database"
        fresh = service.search("trump", mode="keyword", limit=100)
        assert fresh.behind == {} and len(fresh.hits) == fresh.total > 0
        assert all(hit.kind == "news" for hit in fresh.hits)
        report = open_indexer(store, here).update()
        assert (report.indexed, service.keyword.serving) == (55, "local")
        served = service.search("trump", mode="keyword", limit=100)
        assert {hit.id for hit in served.hits} == {hit.id for hit in fresh.hits} and served.total == fresh.total
        # A copy of another store in the directory is never searched: the database answers.
        shutil.copytree(tmp_path / "here", tmp_path / "other")
        other = Settings.load(db=pg_url, index_dir=str(tmp_path / "other"), embedder="none")
        state = json.loads((tmp_path / "other" / "state.json").read_text())
        (tmp_path / "other" / "state.json").write_text(json.dumps({**state, "store_id": "another store"}))
        assert open_search(store, other).keyword.serving == "database"
        assert open_search(store, other).search("trump", mode="keyword").hits


@pytest.mark.postgres
def test_a_postgres_store_keeps_its_index_files_per_database_in_the_user_data_dir(pg_url, data_home, tmp_path):
    from urllib.parse import urlsplit

    with open_store(pg_url) as store:
        directory = index_directory(store)
        parts = urlsplit(pg_url)
        assert directory == data_home / "paperfeed" / "index" / f"{parts.hostname}-{parts.port}-{parts.path[1:]}"
        assert index_directory(store, str(tmp_path / "chosen")) == tmp_path / "chosen"
        assert store.path is None and store.free_disk_bytes() is None  # no file here: a server's
        Ingester(store).ingest_paths([NEWS])
        open_indexer(store, Settings.load(db=pg_url)).update()
        assert sorted(path.name for path in directory.iterdir()) == ["keyword", "state.json", "vectors.usearch"]


@pytest.mark.postgres
def test_accents_fold_with_unaccent_and_search_works_without_it(pg_server, tmp_path):
    """Where the unaccent extension can be created, 'erdos' finds 'Erdős' in the database's full text; where
    the role may not create it (no CREATE on the database), the migration goes on without folding and search
    still works. The host's tantivy copy, which answers while current, folds either way."""
    import psycopg

    from paperfeed.search.fulltext_pg import DatabaseKeywordIndex

    record = {"id": "2601.00001", "categories": ["math.CO"], "authors": ["Paul Erdős", "Alfréd Rényi"],
              "title": "Über zufällige Graphen", "summary": "Erdős–Rényi graphs, revisited.",
              "abs": "https://arxiv.org/abs/2601.00001", "pdf": "https://arxiv.org/pdf/2601.00001"}
    path = tmp_path / "accents.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n")
    folding = pg_server.create_database(f"paperfeed_search_{next(_databases)}")
    restricted = pg_server.create_database(f"paperfeed_search_{next(_databases)}")
    role = f"paperfeed_plain_{next(_databases)}"
    with psycopg.connect(restricted, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"ALTER SCHEMA public OWNER TO {role}")
    restricted = restricted.replace("//paperfeed@", f"//{role}@")
    for url, folds in ((folding, True), (restricted, False)):
        with open_store(url) as store:
            Ingester(store).ingest_paths([path])
            settings = Settings.load(db=url, index_dir=str(tmp_path / str(folds)), embedder="none")
            open_indexer(store, settings).update()
            service = open_search(store, settings)
            item = store.find_item("2601.00001")

            database = DatabaseKeywordIndex(store)  # the full text alone, without this host's copy

            def found(query: str) -> bool:
                return [hit.item_id for hit in database.search(parse_query(query))] == [item]

            assert found("Erdős Rényi") and found('author:"Alfréd Rényi"') and found("zufällige")
            assert found("erdos renyi") is folds and found("author:renyi") is folds and found("uber") is folds
            assert service.keyword.serving == "local"
            for query in ("Erdős Rényi", "erdos renyi", "author:renyi", "uber"):
                assert ids_of(service.search(query, mode="keyword")) == [item], query


@pytest.mark.parametrize("query", ["learning", "kind:news trump", "category:cs.CV", "quadrifocal tensor zzzunknown"])
def test_the_total_counts_every_match(indexed, query):
    _, service, _, _ = indexed
    everything = service.search(query, mode="keyword", limit=1000)
    assert everything.total == len(everything.hits) > 0  # the any-word fallback counts as it searches
    page = service.search(query, mode="keyword", limit=5, offset=5)
    assert page.total == everything.total
    hybrid = service.search(query, mode="hybrid", limit=5)
    assert hybrid.total >= everything.total
    semantic = service.search(query, mode="semantic", limit=5)  # filters alone: it says so and runs keyword
    assert semantic.total == (everything.total if semantic.mode == "keyword" else None)


def test_the_total_is_the_same_on_both_backends(corpora, pg_server):
    sqlite = corpora("sqlite")
    for postgres in (corpora("postgres", pg_server), corpora("postgres-database", pg_server)):
        for query in ("learning", "model -language", "author:lerman"):
            assert (sqlite.service.search(query, mode="keyword").total
                    == postgres.service.search(query, mode="keyword").total), query


# -- PostgreSQL: which matches are ranked -----------------------------------------------------------------

def _ranked_by_rule(store, query, cap: int, limit: int, offset: int) -> list[tuple[int, float]]:
    """The rank cap's rule, computed in Python over every match: the ``cap`` matches with the text in their
    title first, then the newest (day, then item id, descending; no day last), ranked by score, then id."""
    from paperfeed.storage.postgres_fulltext import _NORMALIZATION, _WEIGHTS

    built = store._conditions(query)
    if built is None:  # only stop words: nothing to search for
        return []
    text, match, where, _, params = built
    assert text, query
    rows = store.db.rows(f"SELECT item_id, title @@ {match}, day, "
                         f"ts_rank_cd({params.add(_WEIGHTS, '::float4[]')}, document, {match}, {_NORMALIZATION}) "
                         f"FROM item_fulltext WHERE {where}", params)
    rows.sort(key=lambda row: row[0], reverse=True)
    rows.sort(key=lambda row: row[2] or "", reverse=True)  # stable: ties keep the id order
    rows.sort(key=lambda row: row[1], reverse=True)
    candidates = rows[:cap]
    candidates.sort(key=lambda row: row[0])
    candidates.sort(key=lambda row: row[3], reverse=True)
    return [(item_id, float(score)) for item_id, _, _, score in candidates[offset:offset + limit]]


# Common and rare words, several words, phrases, prefixes, exclusions, each filter, no match at all.
CAP_QUERIES = ["model", "learning", "the", "tensor", "neural network", '"neural network"', '"of the"', "optim*",
               "learn* model", "model -language", "model after:2026-02-27", "model before:2026-02-26",
               "model category:cs.LG", "network topic:geometry", "learning author:wang", "data source:arxiv",
               "trump", "kind:paper model", "zzqxv", "model zzqxv"]


@pytest.mark.postgres
def test_title_matches_that_fill_the_rank_cap_are_the_candidates_they_always_were(pg_url, monkeypatch):
    """Under the cap the title matches come from the title's own index when they alone fill it; the page is
    what ranking the cap's candidates chosen from every match gives, whichever way they were found."""
    from paperfeed.search.fulltext_pg import fulltext_query
    from paperfeed.storage import TopicRow, postgres_fulltext
    from paperfeed.storage.topics import TagResult

    with open_store(pg_url) as store:
        Ingester(store).ingest_paths([LISTING, NEWS])
        topic = store.save_topics([TopicRow("Geometry")])["Geometry"]
        store.write_tags("test", [TagResult(item_id, "x", [(topic, 0.9)])
                                  for item_id in store.item_ids_after(0, 10_000)[::3]])
        while store.apply_fulltext_changes(500).changes:
            pass
        branches = set()
        for cap in (1, 3, 10, 40, 2_000):
            monkeypatch.setattr(postgres_fulltext, "RANK_CANDIDATES", cap)
            for text in CAP_QUERIES:
                for any_word in (False, True):
                    query = fulltext_query(parse_query(text), any_word)
                    expected = _ranked_by_rule(store, query, cap, 10, 0)
                    assert store.fulltext_search(query, 10) == expected, (cap, text, any_word)
                    assert store.fulltext_search(query, 4, 3) == _ranked_by_rule(store, query, cap, 4, 3)
                    if store._conditions(query) is None:
                        branches.add("nothing to search for")
                        continue
                    _, match, _, titled, params = store._conditions(query)
                    titles = store.db.value(f"SELECT count(*) FROM item_fulltext WHERE {titled}", params)
                    branches.add("titles" if titles >= cap else "all matches")
                    branches.add("found" if expected else "none found")
        assert branches == {"titles", "all matches", "found", "none found", "nothing to search for"}
        assert store.fulltext_search(fulltext_query(parse_query("zzqxv")), 10) == []
        # The planner settings of a search stay inside its own transaction.
        assert store.db.value("SELECT current_setting('enable_seqscan')") == "on"
        with store.db.transaction():
            assert store.fulltext_search(fulltext_query(parse_query("model")), 3)
            assert store.db.value("SELECT current_setting('enable_seqscan')") == "on"


def test_a_kept_keyword_searcher_sees_another_writers_commit_at_once(tmp_path):
    from paperfeed.search.keyword import KeywordIndex
    from paperfeed.storage import SearchDocument

    def paper(item_id: int, title: str) -> SearchDocument:
        return SearchDocument(id=item_id, kind="paper", title=title, abstract="", published=None)

    reader, writer = KeywordIndex(tmp_path / "keyword"), KeywordIndex(tmp_path / "keyword")
    writer.update([paper(1, "Quadrifocal tensors")], [], [])
    writer.commit()
    assert [hit.item_id for hit in reader.search(parse_query("quadrifocal"))] == [1]
    kept = reader.searcher()
    assert reader.searcher() is kept  # nothing committed since: the searcher is reused, not reloaded
    writer.update([paper(2, "Quadrifocal synchronization"), paper(3, "Trifocal tensors")], [], [])
    writer.commit()
    assert sorted(hit.item_id for hit in reader.search(parse_query("quadrifocal"), limit=5)) == [1, 2]
    assert reader.count(parse_query("quadrifocal")) == 2 and reader.count(parse_query("tensors")) == 2
    writer.update([], [1], [])
    writer.close()
    assert [hit.item_id for hit in reader.search(parse_query("quadrifocal"))] == [2]
    assert reader.count(parse_query("quadrifocal")) == 1


def test_the_search_services_of_a_process_share_each_index_and_search_it_from_many_threads(corpora, embedder):
    corpus = corpora("sqlite")
    settings = Settings.load(db=str(corpus.store.path), search_cache_hits="0")  # every call searches
    # A web server keeps one service per pooled connection: they map each index file once between them.
    services = [open_search(open_store(corpus.store.url), settings, embedder=embedder) for _ in range(4)]
    assert len({id(service.keyword.index) for service in services + [corpus.service]}) == 1
    assert len({id(service.vectors.index) for service in services + [corpus.service]}) == 1
    queries = ["quadrifocal tensor", "language models", "trump", "image segmentation", "category:cs.CV"]
    expected = {(query, mode): ids_of(corpus.service.search(query, mode=mode, limit=10))
                for query in queries for mode in ("keyword", "semantic", "hybrid")}
    found, errors = {}, []

    def run(service) -> None:
        try:
            for _ in range(5):
                for (query, mode) in expected:
                    found.setdefault((query, mode), []).append(ids_of(service.search(query, mode=mode, limit=10)))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(service,)) for service in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert all(result == expected[key] for key, results in found.items() for result in results)


def test_a_sqlite_connection_keeps_a_small_page_cache_except_while_it_writes(tmp_path):
    # A web process keeps 16 pooled connections that mostly read (searches): a write-sized page cache each held
    # 200 MB of its memory at 1,000,000 items; writes (ingest's random-key index inserts) need the larger one.
    from paperfeed.storage.sqlite import READING_CACHE_KB, WRITING_CACHE_KB

    def cache_kb(store) -> int:
        return -store._db.execute("PRAGMA cache_size").fetchone()[0]

    assert READING_CACHE_KB < WRITING_CACHE_KB
    with open_store(tmp_path / "store.db") as store:
        assert cache_kb(store) == READING_CACHE_KB
        with store.db.transaction():
            assert cache_kb(store) == WRITING_CACHE_KB
            with store.db.transaction():  # a savepoint inside keeps it
                assert cache_kb(store) == WRITING_CACHE_KB
            assert cache_kb(store) == WRITING_CACHE_KB
        assert cache_kb(store) == READING_CACHE_KB
        with store.write_group() as commit_now:
            assert cache_kb(store) == WRITING_CACHE_KB
            commit_now()
            assert cache_kb(store) == WRITING_CACHE_KB
        assert cache_kb(store) == READING_CACHE_KB
        with pytest.raises(RuntimeError):
            with store.db.transaction():
                raise RuntimeError("a failed write")
        assert cache_kb(store) == READING_CACHE_KB
        Ingester(store).ingest_paths([LISTING])
        assert store.item_count() > 0 and cache_kb(store) == READING_CACHE_KB


@pytest.mark.parametrize("query", ["acoustic dispersal lichen spores", "language models", "learning models",
                                   "neural networks", "large language models", "vision-language model"])
def test_proximity_rescoring_gives_the_scores_of_one_query_with_the_proximity_clauses_optional(proximity_corpus,
                                                                                                 query):
    # The proximity clauses are searched one by one beside the candidates and their scores added in single
    # precision; the reference is the one tantivy query that holds them as optional clauses (slower: it walks
    # every match of the words between two candidates), computed here from tantivy's own parts.
    import tantivy

    from paperfeed.search.keyword import RANKING, RERANK_DEPTH

    _, service = proximity_corpus
    keyword = service.keyword
    parsed = parse_query(query)
    bag = keyword.build_query(parsed)
    searcher = keyword.searcher()
    candidates = searcher.search(bag, RERANK_DEPTH, count=False).hits
    assert len(candidates) > 1
    item_ids = searcher.fast_field_values("id", [address for _, address in candidates])
    positions = list(enumerate(keyword.tokens(query.replace("-", " "))))
    near = tantivy.Query.boost_query(
        tantivy.Query.phrase_query(keyword.schema, "text", positions, RANKING.near_slop), RANKING.near_boost)
    phrase = tantivy.Query.boost_query(tantivy.Query.phrase_query(keyword.schema, "text", positions),
                                       RANKING.phrase_boost)
    only_candidates = tantivy.Query.boolean_query(
        [(tantivy.Occur.Should, tantivy.Query.term_query(keyword.schema, "id", item_id)) for item_id in item_ids])
    one_query = tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, bag), (tantivy.Occur.Must, tantivy.Query.const_score_query(only_candidates, 0.0)),
         (tantivy.Occur.Should, tantivy.Query.boolean_query([(tantivy.Occur.Must, near),
                                                             (tantivy.Occur.Should, phrase)]))])
    found = searcher.search(one_query, RERANK_DEPTH, count=False).hits
    expected = sorted(zip(searcher.fast_field_values("id", [address for _, address in found]),
                          [score for score, _ in found]), key=lambda hit: (-hit[1], hit[0]))
    bag_scores = dict(zip(item_ids, [score for score, _ in candidates]))
    assert any(score > bag_scores[item_id] for item_id, score in expected)  # the words stand together somewhere
    assert [(hit.item_id, hit.score) for hit in keyword.search(parsed, limit=RERANK_DEPTH)] == expected


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_record_that_adds_only_a_source_reaches_the_source_filter(backend, tmp_path, data_home, settings_for,
                                                                    request):
    """A second record of a paper under another label whose fields change nothing (a re-listing): the item's row
    is not rewritten, but its document's sources are, so the change log must carry it to the keyword index."""
    if backend == "postgres":
        url = request.getfixturevalue("pg_server").create_database(f"paperfeed_search_{next(_databases)}")
    else:
        url = tmp_path / "store.db"
    line = json.loads((DATA / "daily" / "2026-02-26.jsonl").read_text(encoding="utf-8").splitlines()[0])
    first, again = tmp_path / "first.jsonl", tmp_path / "again.jsonl"
    first.write_text(json.dumps(line) + "\n", encoding="utf-8")
    again.write_text(json.dumps({**line, "comment": "13 pages, 3 figures"}) + "\n", encoding="utf-8")
    settings = settings_for(url)
    with open_store(url) as store:
        assert Ingester(store, label="Listing North").ingest_paths([first]).files[0].new == 1
        open_indexer(store, settings, vectors=False).update()
        item = store.find_item(line["id"])
        updated = execute(store, "SELECT updated_at FROM items WHERE id = ?", (item,))
        assert Ingester(store, label="Listing South").ingest_paths([again]).files[0].merged == 1
        indexer = open_indexer(store, settings, vectors=False)
        assert indexer.pending()["keyword"] == 1
        indexer.update()
        assert execute(store, "SELECT updated_at FROM items WHERE id = ?", (item,)) == updated  # fields unchanged
        service = open_search(store, settings, vectors=False)
        for label in ("north", "south"):
            assert ids_of(service.search(f"source:{label} filter", mode="keyword")) == [item], label


def test_a_large_keyword_build_reads_with_a_larger_cache_and_fewer_collections_then_gives_both_back(sqlite_store,
                                                                                                   tmp_path,
                                                                                                   monkeypatch):
    import gc

    from paperfeed.collector import BULK_GC_THRESHOLDS
    from paperfeed.search import indexer as indexer_module
    from paperfeed.storage.sqlite import READING_MUCH_CACHE_KB

    Ingester(sqlite_store).ingest_paths([LISTING])
    settings = Settings(index_dir=str(tmp_path / "index"))
    before = (gc.get_threshold(), sqlite_store.db.value("PRAGMA cache_size"))
    seen: list[tuple] = []

    def advance(count):
        seen.append((gc.get_threshold(), sqlite_store.db.value("PRAGMA cache_size")))

    monkeypatch.setattr(indexer_module, "BULK_FROM_CHANGES", 10 ** 9)  # a few changes: as they come
    open_indexer(sqlite_store, settings, vectors=False).update(advance)
    assert seen and set(seen) == {before}
    seen.clear()
    monkeypatch.setattr(indexer_module, "BULK_FROM_CHANGES", 100)  # a bulk read: the larger cache, the bulk thresholds
    report = open_indexer(sqlite_store, settings, vectors=False).rebuild(advance)
    assert report.indexed == sqlite_store.item_count() and seen
    assert set(seen) == {(BULK_GC_THRESHOLDS, -READING_MUCH_CACHE_KB)}
    assert (gc.get_threshold(), sqlite_store.db.value("PRAGMA cache_size")) == before


@pytest.fixture
def listed(tmp_path, monkeypatch):
    """A store of one listing day, not indexed yet, its settings and keyword folder; pair lists kept from 1 document
    on, for words in a fifth of them (so that the listing has common pairs)."""
    from paperfeed.search import pairs

    monkeypatch.setattr(pairs, "PAIR_MIN_DOCS", 1)
    monkeypatch.setattr(pairs, "PAIR_SHARE", 0.2)
    url = str(tmp_path / "store.db")
    settings = Settings.load(db=url, index_dir=str(tmp_path / "index"))
    with open_store(url) as store:
        Ingester(store).ingest_paths([LISTING])
        yield store, settings, tmp_path / "index" / "keyword"


def test_keyword_search_is_recorded_complete_at_the_last_commit_before_the_merges_and_pair_lists(listed, monkeypatch):
    # A bootstrap's first searches wait for state.json; the merges' tail and the pair lists come after it.
    from paperfeed.search import keyword as keyword_module
    from paperfeed.search.indexer import IndexState

    store, settings, keyword_dir = listed
    seen: dict = {}
    real_keep = keyword_module.pairs.keep

    def keep(path, index, schema, depth):
        seen["state"] = IndexState.load(keyword_dir.parent)
        seen["documents"] = keyword_module.KeywordIndex(path).document_count()  # what a search sees then
        return real_keep(path, index, schema, depth)

    monkeypatch.setattr(keyword_module.pairs, "keep", keep)
    indexer = open_indexer(store, settings)
    pending = indexer.pending()["keyword"]
    report = indexer.update()
    assert pending and report.indexed == seen["documents"] == store.item_count()
    assert seen["state"].keyword_seq == store.search_changes(0, 10_000)[-1][0]  # recorded before the lists were made


def test_an_update_with_nothing_to_index_keeps_the_pair_lists_a_stopped_run_left_unmade(listed):
    # The state is recorded at the last commit, before the lists: a run stopped between the two leaves none, and
    # the next update (nothing pending) makes them.
    from paperfeed.search import pairs

    store, settings, keyword_dir = listed
    open_indexer(store, settings).update()
    manifest = pairs.pairs_directory(keyword_dir) / pairs.MANIFEST
    kept = json.loads(manifest.read_text())
    assert kept["rows"]
    shutil.rmtree(pairs.pairs_directory(keyword_dir))  # as if stopped after the commit
    assert open_indexer(store, settings).update().indexed == 0
    again = json.loads(manifest.read_text())
    assert again["segments"] == kept["segments"] and again["rows"] == kept["rows"]
    modified = manifest.stat().st_mtime_ns
    open_indexer(store, settings).update()  # lists current: left as they are
    assert manifest.stat().st_mtime_ns == modified


def test_an_update_with_nothing_to_index_leaves_the_lists_to_an_indexer_writing_meanwhile(listed):
    # Between another indexer's commit and its lists, the lists are missing for the segments a reader sees; an
    # update with nothing pending then finds the writer held and leaves them to it, without an error.
    from paperfeed.search import pairs
    from paperfeed.search.keyword import KeywordIndex

    store, settings, keyword_dir = listed
    open_indexer(store, settings).update()
    shutil.rmtree(pairs.pairs_directory(keyword_dir))
    other = KeywordIndex(keyword_dir)
    other.writer()  # another indexer holds the writer
    try:
        report = open_indexer(store, settings).update()
        assert report.indexed == 0 and not (pairs.pairs_directory(keyword_dir) / pairs.MANIFEST).exists()
    finally:
        assert other.close()["kept"] > 0  # it keeps them as it closes
