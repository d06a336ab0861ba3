"""Search relevance on the real listings, against tuned standard baselines in the same run (used by bench/search.py).

Query sets, all seeded, split by time (development = papers / keywords first seen before the median day,
test = after; every weight is chosen on development and reported on test):
- known items: for listing papers, 3–6 and exactly 6 consecutive words of the abstract (as listed, before any
  normalisation the store applies), and a harder variant: 6 consecutive words with one inner word dropped (the
  phrase is remembered imperfectly). The paper is the one relevant item: recall@10 and MRR.
- judged queries: Hugging Face ``ai_keywords`` carried by 5–200 papers; an item is relevant when it carries the
  keyword. Only Hugging Face papers are judged, so rankings are scored condensed (Sakai 2007): unjudged items
  (listing papers without keywords) are removed before cutting at 10. nDCG@10 (binary gains) and P@10.
- neighbour coherence: share of an item's 10 nearest items that share its primary arXiv category.

Baselines, over title + abstract analysed exactly as the index does (same tantivy analyzer):
- BM25 (Lucene idf, any word may match) with k1 and b tuned on development over a grid;
- TF-IDF cosine (scikit-learn's TfidfVectorizer on the same tokens; sublinear tf tuned on development).
"""

from __future__ import annotations

import math
import random
import statistics
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DEPTH = 50  # judged queries are condensed from this many results


# -- data -----------------------------------------------------------------------------------------------------

def read_hf_papers(path: str) -> list[dict]:
    """Hugging Face daily papers: {"id", "day", "keywords"} per paper with ``ai_keywords`` (first sighting)."""
    import ast

    import orjson

    papers: dict[str, dict] = {}
    with tarfile.open(path, "r:*") as archive:
        for member in sorted((m for m in archive if m.isfile()), key=lambda m: m.name):
            data = archive.extractfile(member).read()
            try:
                days = orjson.loads(data)
            except orjson.JSONDecodeError:
                continue
            if isinstance(days, dict):
                days = next((value for value in days.values() if isinstance(value, list)), [])
            for entry in days if isinstance(days, list) else []:
                if isinstance(entry, str):
                    try:
                        entry = ast.literal_eval(entry)
                    except (ValueError, SyntaxError):
                        continue
                paper = entry.get("paper", entry) if isinstance(entry, dict) else {}
                keywords = {k.strip().lower() for k in paper.get("ai_keywords") or [] if isinstance(k, str)}
                keywords = {k for k in keywords if 2 < len(k) < 60}
                if paper.get("id") and keywords:
                    papers.setdefault(paper["id"], {"id": paper["id"], "day": Path(member.name).stem,
                                                    "keywords": keywords})
    return list(papers.values())


@dataclass
class QuerySets:
    known: dict[str, dict[str, list[tuple[str, int]]]] = field(default_factory=dict)
    """split -> variant -> [(query, item id)]"""
    judged: dict[str, list[tuple[str, set[int]]]] = field(default_factory=dict)
    """split -> [(keyword, relevant item ids)]"""
    judged_items: set[int] = field(default_factory=set)
    coherence: dict[str, list[int]] = field(default_factory=dict)
    cutoff_day: str = ""
    keyword_cutoff_day: str = ""


def _fragment(words: list[str], length: int, generator: random.Random) -> list[str]:
    start = generator.randrange(0, max(1, len(words) - length + 1))
    return words[start:start + length]


def build_query_sets(store, listings: list[dict], hf_papers: list[dict], known_per_split: int,
                     judged_per_split: int, coherence_per_split: int, seed: int = 19) -> QuerySets:
    generator = random.Random(seed)
    sets = QuerySets()
    days = sorted(paper["day"] for paper in listings)
    sets.cutoff_day = days[len(days) // 2]
    eligible = [p for p in listings if len(p["summary"].split()) >= 40]
    for split, members in (("dev", [p for p in eligible if p["day"] < sets.cutoff_day]),
                           ("test", [p for p in eligible if p["day"] >= sets.cutoff_day])):
        chosen = generator.sample(members, min(known_per_split, len(members)))
        variants: dict[str, list[tuple[str, int]]] = {"3-6 words": [], "6 words": [], "6 words, one dropped": []}
        for paper in chosen:
            item_id = store.find_item(paper["id"])
            if item_id is None:
                continue
            words = paper["summary"].split()
            variants["3-6 words"].append((" ".join(_fragment(words, generator.randint(3, 6), generator)), item_id))
            variants["6 words"].append((" ".join(_fragment(words, 6, generator)), item_id))
            six = _fragment(words, 6, generator)
            del six[generator.randint(1, 4)]
            variants["6 words, one dropped"].append((" ".join(six), item_id))
        sets.known[split] = variants
        sets.coherence[split] = [item_id for _, item_id in variants["6 words"][:coherence_per_split]]
    carriers: dict[str, set[int]] = {}
    first_day: dict[str, str] = {}
    for paper in hf_papers:
        item_id = store.find_item(paper["id"])
        if item_id is None:
            continue
        sets.judged_items.add(item_id)
        for keyword in paper["keywords"]:
            carriers.setdefault(keyword, set()).add(item_id)
            first_day[keyword] = min(first_day.get(keyword, paper["day"]), paper["day"])
    usable = sorted(k for k, items in carriers.items() if 5 <= len(items) <= 200)
    keyword_days = sorted(first_day[k] for k in usable)
    sets.keyword_cutoff_day = keyword_days[len(keyword_days) // 2]
    for split, members in (("dev", [k for k in usable if first_day[k] < sets.keyword_cutoff_day]),
                           ("test", [k for k in usable if first_day[k] >= sets.keyword_cutoff_day])):
        chosen = generator.sample(members, min(judged_per_split, len(members)))
        sets.judged[split] = [(keyword, carriers[keyword]) for keyword in chosen]
    return sets


# -- metrics --------------------------------------------------------------------------------------------------

def known_item_figures(rankings: list[list[int]], targets: list[int]) -> dict:
    found = [ranking[:10].index(t) + 1 if t in ranking[:10] else 0 for ranking, t in zip(rankings, targets)]
    return {"recall_at_10": round(sum(1 for r in found if r) / len(found), 4),
            "mrr": round(sum(1 / r for r in found if r) / len(found), 4)}


def judged_figures(rankings: list[list[int]], relevant: list[set[int]], judged: set[int]) -> dict:
    ndcgs, precisions = [], []
    for ranking, good in zip(rankings, relevant):
        condensed = [item for item in ranking if item in judged][:10]
        gains = [1.0 if item in good else 0.0 for item in condensed]
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
        ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(good))))
        ndcgs.append(dcg / ideal)
        precisions.append(sum(gains) / 10)
    return {"ndcg_at_10": round(statistics.fmean(ndcgs), 4), "p_at_10": round(statistics.fmean(precisions), 4)}


def objective(figures: dict) -> float:
    """What development choices maximise: mean known-item MRR over the variants, and judged nDCG@10, equally."""
    known = statistics.fmean(v["mrr"] for v in figures["known_item"].values())
    return 0.5 * known + 0.5 * figures["judged"]["ndcg_at_10"]


def evaluate(rank, sets: QuerySets, split: str) -> dict:
    """Figures of ``rank(query, depth) -> [item id]`` on one split."""
    known = {}
    for variant, pairs in sets.known[split].items():
        known[variant] = known_item_figures([rank(q, 10) for q, _ in pairs], [t for _, t in pairs])
    judged_pairs = sets.judged[split]
    judged = judged_figures([rank(q, DEPTH) for q, _ in judged_pairs], [good for _, good in judged_pairs],
                            sets.judged_items)
    return {"known_item": known, "judged": judged}


# -- baselines ------------------------------------------------------------------------------------------------

class Corpus:
    """Every item of a store as index tokens of title + abstract, for the baselines."""

    def __init__(self, store, analyze) -> None:
        self.analyze = analyze
        ids, last = [], 0
        while True:
            batch = store.item_ids_after(last, 5000)
            if not batch:
                break
            ids += batch
            last = batch[-1]
        self.ids = np.asarray(ids, dtype=np.int64)
        self.position = {item_id: row for row, item_id in enumerate(ids)}
        self.tokens: list[list[str]] = []
        for start in range(0, len(ids), 5000):
            documents = store.item_documents(ids[start:start + 5000])
            for item_id in ids[start:start + 5000]:
                document = documents[item_id]
                self.tokens.append(analyze(f"{document.title} {document.abstract}"))

    def top(self, scores: np.ndarray, depth: int, exclude: int | None = None) -> list[int]:
        if exclude is not None:
            scores[exclude] = 0.0
        nonzero = np.flatnonzero(scores > 0)
        if len(nonzero) > depth:
            nonzero = nonzero[np.argpartition(-scores[nonzero], depth)[:depth]]
        order = nonzero[np.lexsort((nonzero, -scores[nonzero]))]
        return [int(self.ids[row]) for row in order[:depth]]


class Bm25:
    """Okapi BM25 over the corpus tokens, any query word may match."""

    def __init__(self, corpus: Corpus) -> None:
        from sklearn.feature_extraction.text import CountVectorizer

        self.corpus = corpus
        self.vectorizer = CountVectorizer(analyzer=lambda tokens: tokens)
        counts = self.vectorizer.fit_transform(corpus.tokens).tocsc()
        self.counts = counts
        self.lengths = np.asarray(counts.sum(axis=1)).ravel().astype(np.float64)
        df = np.diff(counts.indptr)
        n = counts.shape[0]
        self.idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        self.k1, self.b = 1.2, 0.75
        self._norm_key, self._norm = None, None

    def rank(self, query: str, depth: int) -> list[int]:
        if self._norm_key != (self.k1, self.b):
            self._norm = self.k1 * (1 - self.b + self.b * self.lengths / self.lengths.mean())
            self._norm_key = (self.k1, self.b)
        scores = np.zeros(self.counts.shape[0])
        vocabulary = self.vectorizer.vocabulary_
        for term in set(self.corpus.analyze(query)):
            column = vocabulary.get(term)
            if column is None:
                continue
            start, end = self.counts.indptr[column], self.counts.indptr[column + 1]
            rows, tf = self.counts.indices[start:end], self.counts.data[start:end]
            scores[rows] += self.idf[column] * tf * (self.k1 + 1) / (tf + self._norm[rows])
        return self.corpus.top(scores, depth)


class TfidfCosine:
    """TF-IDF cosine similarity (also the baseline for similar items: the nearest documents by cosine)."""

    def __init__(self, corpus: Corpus, sublinear: bool = True) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.corpus = corpus
        self.vectorizer = TfidfVectorizer(analyzer=lambda tokens: tokens, sublinear_tf=sublinear)
        self.matrix = self.vectorizer.fit_transform(corpus.tokens).tocsr()

    def rank(self, query: str, depth: int) -> list[int]:
        vector = self.vectorizer.transform([self.corpus.analyze(query)])
        return self.corpus.top(np.asarray((self.matrix @ vector.T).todense()).ravel(), depth)

    def neighbours(self, item_id: int, count: int) -> list[int]:
        row = self.corpus.position[item_id]
        scores = np.asarray((self.matrix @ self.matrix[row].T).todense()).ravel()
        return self.corpus.top(scores, count, exclude=row)


def tune_bm25(bm25: Bm25, sets: QuerySets) -> tuple[dict, list[dict]]:
    """Grid over k1 and b on development; leaves ``bm25`` at the best and returns it with the grid."""
    grid = []
    for k1 in (0.6, 0.9, 1.2, 1.6, 2.0):
        for b in (0.3, 0.5, 0.75, 0.9):
            bm25.k1, bm25.b = k1, b
            grid.append({"k1": k1, "b": b, "objective": round(objective(evaluate(bm25.rank, sets, "dev")), 4)})
    best = max(grid, key=lambda row: row["objective"])
    bm25.k1, bm25.b = best["k1"], best["b"]
    return best, grid


# -- paperfeed's search, before and after ---------------------------------------------------------------------

class Systems:
    """Rankings of a ``SearchService`` under a given keyword ranking and fusion, cached for the grids."""

    def __init__(self, service) -> None:
        from paperfeed.search import check_query

        self.service = service
        self.parse = lambda query: check_query(query, service.limits)
        self._semantic: dict[str, list[int]] = {}
        self._keyword: dict[tuple, list[int]] = {}

    def keyword(self, ranking, query: str, depth: int) -> list[int]:
        key = (ranking, query)
        if key not in self._keyword:
            self.service.keyword.ranking = ranking
            self._keyword[key] = [hit.item_id for hit in self.service.keyword.search(self.parse(query), DEPTH)]
        return self._keyword[key][:depth]

    def semantic(self, query: str, depth: int) -> list[int]:
        if query not in self._semantic:
            self._semantic[query] = [item for item, _ in self.service._semantic(self.parse(query), DEPTH)]
        return self._semantic[query][:depth]

    def hybrid(self, ranking, fusion, query: str, depth: int) -> list[int]:
        from paperfeed.search import fuse

        fused = fuse([self.keyword(ranking, query, DEPTH), self.semantic(query, DEPTH)],
                     [fusion.keyword, fusion.semantic], fusion.k)
        return [item for item, _ in fused[:depth]]

    def shipped(self, mode: str, ranking, fusion):
        """The whole ``SearchService.search`` path (snippets and all) under ``ranking`` and ``fusion``."""
        def rank(query: str, depth: int) -> list[int]:
            self.service.keyword.ranking, self.service.fusion = ranking, fusion
            return [hit.id for hit in self.service.search(query, mode=mode, limit=depth).hits]
        return rank


def tune_keyword(systems: Systems, sets: QuerySets, log) -> tuple:
    from paperfeed.search.keyword import KeywordRanking

    grid = []
    def score(ranking) -> float:
        value = objective(evaluate(lambda q, d: systems.keyword(ranking, q, d), sets, "dev"))
        grid.append({"phrase_boost": ranking.phrase_boost, "near_boost": ranking.near_boost,
                     "near_slop": ranking.near_slop, "objective": round(value, 4)})
        return value
    candidates = [KeywordRanking(p, n, 4) for p in (0.0, 0.5, 1.0, 2.0, 4.0, 8.0) for n in (0.0, 1.0, 2.0)]
    best = max(candidates, key=score)
    if best.near_boost:
        best = max([best] + [KeywordRanking(best.phrase_boost, best.near_boost, s) for s in (2, 8)], key=score)
    log(f"keyword ranking chosen on development: {best}")
    return best, grid


def tune_fusion(systems: Systems, sets: QuerySets, ranking, log) -> tuple:
    from paperfeed.search.service import Fusion

    grid = []
    def score(fusion) -> float:
        value = objective(evaluate(lambda q, d: systems.hybrid(ranking, fusion, q, d), sets, "dev"))
        grid.append({"k": fusion.k, "keyword": fusion.keyword, "semantic": fusion.semantic,
                     "objective": round(value, 4)})
        return value
    # Weight 0 is left out: semantic-only items (the fill when keywords find few) would then come in id order.
    best = max([Fusion(k, 1.0, w) for k in (5, 10, 20, 40, 60, 100) for w in (0.1, 0.25, 0.5, 0.75, 1.0)],
               key=score)
    log(f"fusion chosen on development: {best}")
    return best, grid


def tune_similar(service, sets: QuerySets, primary: dict[int, str], log) -> tuple:
    """The fusion of ``similar(mode="hybrid")`` with the best neighbour coherence on development items."""
    from paperfeed.search.service import Fusion

    grid = []
    def score(fusion) -> float:
        service.similar_fusion = fusion
        value = coherence(lambda i: [hit.id for hit in service.similar(i, 10, mode="hybrid")],
                          sets.coherence["dev"], primary)
        grid.append({"k": fusion.k, "keyword": fusion.keyword, "semantic": fusion.semantic, "coherence": value})
        return value
    best = max([Fusion(k, 1.0, w) for k in (10, 60) for w in (0.5, 1.0, 2.0, 4.0)], key=score)
    log(f"similar-items fusion chosen on development: {best}")
    return best, grid


def coherence(neighbours, items: list[int], primary: dict[int, str]) -> float:
    shares = []
    for item_id in items:
        found = neighbours(item_id)
        if found:
            shares.append(np.mean([primary.get(n) == primary.get(item_id) for n in found]))
    return round(float(np.mean(shares)), 4)


def latency(systems: Systems, queries: list[str], configurations: dict) -> dict:
    """p50 / p99 of whole ``search`` calls, the configurations interleaved query by query (same load)."""
    import time

    times: dict[str, list[float]] = {name: [] for name in configurations}
    cpu: dict[str, list[float]] = {name: [] for name in configurations}
    for query in queries[:20]:
        for rank in configurations.values():
            rank(query, 10)
    names = list(configurations)
    for number, query in enumerate(queries):
        # Each query runs in every configuration, the first in turn: none always finds the caches warm.
        for name in names[number % len(names):] + names[:number % len(names)]:
            rank = configurations[name]
            started, started_cpu = time.perf_counter(), time.thread_time()
            rank(query, 10)
            cpu[name].append((time.thread_time() - started_cpu) * 1000)
            times[name].append((time.perf_counter() - started) * 1000)
    # CPU time of the calling thread as well: on a shared, loaded machine wall-clock percentiles are mostly
    # the time the process waited for a core.
    return {name: {"p50_ms": round(float(np.percentile(values, 50)), 2),
                   "p99_ms": round(float(np.percentile(values, 99)), 2),
                   "cpu_p50_ms": round(float(np.percentile(cpu[name], 50)), 2),
                   "cpu_p99_ms": round(float(np.percentile(cpu[name], 99)), 2)} for name, values in times.items()}


def run(db: str, listings: list[dict], hf_path: str, queries: list[str], known_per_split: int,
        judged_per_split: int, coherence_per_split: int, log) -> dict:
    from paperfeed.config import Settings
    from paperfeed.search import open_search
    from paperfeed.search.keyword import PLAIN_BM25, RANKING
    from paperfeed.search.service import FIRST_FUSION, FUSION, SIMILAR_FUSION
    from paperfeed.storage import open_store

    store = open_store(db)
    service = open_search(store, Settings.load(db=db))
    service.cache = None  # every query runs: what is timed is search, not the process's result cache
    sets = build_query_sets(store, listings, read_hf_papers(hf_path), known_per_split, judged_per_split,
                            coherence_per_split)
    log(f"split at {sets.cutoff_day} (papers) / {sets.keyword_cutoff_day} (keywords): "
        + ", ".join(f"{split}: {len(sets.known[split]['6 words'])} known items, {len(sets.judged[split])} keywords"
                    for split in ("dev", "test")) + f"; {len(sets.judged_items):,} judged items")
    corpus = Corpus(store, service.keyword.tokens)
    bm25 = Bm25(corpus)
    bm25_best, bm25_grid = tune_bm25(bm25, sets)
    log(f"BM25 tuned on development: k1 {bm25_best['k1']}, b {bm25_best['b']}")
    tfidf = {sublinear: TfidfCosine(corpus, sublinear) for sublinear in (True, False)}
    tfidf_dev = {s: objective(evaluate(t.rank, sets, "dev")) for s, t in tfidf.items()}
    tfidf_best = tfidf[max(tfidf_dev, key=tfidf_dev.get)]
    systems = Systems(service)
    ranking, keyword_grid = tune_keyword(systems, sets, log)
    fusion, fusion_grid = tune_fusion(systems, sets, ranking, log)

    rankers = {
        "BM25 tuned (baseline)": bm25.rank,
        "TF-IDF cosine tuned (baseline)": tfidf_best.rank,
        "keyword before": systems.shipped("keyword", PLAIN_BM25, FIRST_FUSION),
        "keyword shipped": systems.shipped("keyword", RANKING, FUSION),
        "semantic": systems.shipped("semantic", RANKING, FUSION),
        "hybrid before": systems.shipped("hybrid", PLAIN_BM25, FIRST_FUSION),
        "hybrid shipped": systems.shipped("hybrid", RANKING, FUSION),
    }
    if (ranking, fusion) != (RANKING, FUSION):
        rankers["hybrid as chosen on dev"] = lambda q, d: systems.hybrid(ranking, fusion, q, d)
    test = {}
    for name, rank in rankers.items():
        test[name] = evaluate(rank, sets, "test")
        log(f"test {name}: {test[name]}")

    primary = dict(store._db.execute(  # bench-only read of each item's primary category
        "SELECT item_id, category FROM item_categories WHERE position = 0").fetchall())
    items = sets.coherence["test"]
    service.keyword.ranking = RANKING
    similar_fusion, similar_grid = tune_similar(service, sets, primary, log)
    def similar(mode, ranking, fusion=SIMILAR_FUSION):
        def neighbours(item_id):
            service.keyword.ranking, service.similar_fusion = ranking, fusion
            return [hit.id for hit in service.similar(item_id, 10, mode=mode)]
        return neighbours
    neighbour = {"TF-IDF cosine (baseline)": coherence(lambda i: tfidf_best.neighbours(i, 10), items, primary),
                 "keyword before": coherence(similar("keyword", PLAIN_BM25), items, primary),
                 "keyword shipped": coherence(similar("keyword", RANKING), items, primary),
                 "semantic": coherence(similar("semantic", RANKING), items, primary),
                 "hybrid before": coherence(similar("hybrid", PLAIN_BM25, FIRST_FUSION), items, primary),
                 "hybrid shipped": coherence(similar("hybrid", RANKING), items, primary)}
    if similar_fusion != SIMILAR_FUSION:
        neighbour["hybrid as chosen on dev"] = coherence(similar("hybrid", RANKING, similar_fusion), items, primary)
    log(f"neighbour coherence ({len(items)} test items): {neighbour}")
    timings = latency(systems, queries, {
        "keyword before": systems.shipped("keyword", PLAIN_BM25, FIRST_FUSION),
        "keyword shipped": systems.shipped("keyword", RANKING, FUSION),
        "hybrid before": systems.shipped("hybrid", PLAIN_BM25, FIRST_FUSION),
        "hybrid shipped": systems.shipped("hybrid", RANKING, FUSION)})
    log(f"latency ({len(queries)} queries, interleaved): {timings}")
    store.close()
    return {"items": len(corpus.ids), "cutoff_day": sets.cutoff_day, "keyword_cutoff_day": sets.keyword_cutoff_day,
            "bm25_tuned": bm25_best, "tfidf_sublinear": tfidf_best.vectorizer.sublinear_tf,
            "keyword_chosen": {"phrase_boost": ranking.phrase_boost, "near_boost": ranking.near_boost,
                               "near_slop": ranking.near_slop},
            "fusion_chosen": {"k": fusion.k, "keyword": fusion.keyword, "semantic": fusion.semantic},
            "test": test, "neighbour_coherence": neighbour, "latency": timings,
            "similar_fusion_chosen": {"k": similar_fusion.k, "keyword": similar_fusion.keyword,
                                      "semantic": similar_fusion.semantic},
            "grids": {"bm25": bm25_grid, "keyword": keyword_grid, "fusion": fusion_grid, "similar": similar_grid}}
