"""Daily pick: which papers of each arXiv listing day Hugging Face daily papers picked, ranked by
paperfeed's recommendation model against baselines, on real data.

Usage: python bench/daily_pick.py --listings PATH... --hf PATH... --train-until YYYY-MM-DD [--c 1.0]

PATHs are the .tar.xz archives, directories or single files of ../shared/data/arxiv-daily-listings and
../shared/data/hf-daily-papers, read with paperfeed's own parsers.
Labels: a paper of listing day D is a pick when Hugging Face picked it on a day in D-1 .. D+PICK_WINDOW
(HF picks a paper within days of its announcement; the -1 covers a pick made from the arXiv abstract
page the evening before the listing). Training: every listing day up to --train-until, each paper once
(its first listing day), labelled only with picks made up to --train-until, so nothing after the
training cut leaks in. Test: each listing day after --train-until that has at least one pick; that
day's distinct papers are ranked. Every test day comes after every training day.
Metrics per test day, then averaged: average precision (over the whole ranking), nDCG@20, P@20.
Rankers, in the same run: random (mean of 20 seeds), newest-first (highest arXiv id first),
TF-IDF + linear SVM on title + abstract + authors with arxiv-sanity-lite's settings (what small tools
do), and paperfeed.library.recommend.TagModel (the module the web app and digests use).
Also: the time to rank 100,000 candidates for one tag with features computed (the model's scoring and
top-k), and, separately, the time to compute those features.
Ends with one JSON line of figures. Exits 2 with a message when a data path is missing.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import numpy as np

PICK_WINDOW = 7
TOP = 20


def log(message: str) -> None:
    print(message, flush=True)


def read_records(paths: list[str], format_name: str):
    """Yield (file day, Record) of every record under ``paths`` parsed as ``format_name``."""
    from paperfeed.inputs import InputError, iter_inputs
    from paperfeed.records import ParseContext, ParseError
    from paperfeed.sources import get_format

    module = get_format(format_name)
    for entry in iter_inputs(paths):
        if isinstance(entry, InputError):
            log(f"skipped {entry.origin}: {entry.message}")
            continue
        try:
            for record in module.parse(entry.read(), ParseContext(entry.origin, date_hint=entry.date_hint)):
                yield entry.date_hint, record
        except ParseError as error:
            log(f"skipped {entry.origin}: {error}")


def id_key(arxiv_id: str) -> tuple:
    head, _, tail = arxiv_id.partition(".")
    return (int(head), int(tail)) if head.isdigit() and tail.isdigit() else (0, 0)


def average_precision(labels: list[int]) -> float:
    hits, total = 0, 0.0
    for position, label in enumerate(labels, 1):
        if label:
            hits += 1
            total += hits / position
    return total / hits if hits else 0.0


def ndcg(labels: list[int], k: int = TOP) -> float:
    gains = sum(label / math.log2(position + 1) for position, label in enumerate(labels[:k], 1))
    ideal = sum(1 / math.log2(position + 1) for position in range(1, min(k, sum(labels)) + 1))
    return gains / ideal if ideal else 0.0


def precision(labels: list[int], k: int = TOP) -> float:
    return sum(labels[:k]) / k


def evaluate(days: dict[str, list], scores_for) -> dict[str, float]:
    """Mean AP, nDCG@20 and P@20 over test days; ``scores_for(day, papers)`` returns one score per paper."""
    aps, ndcgs, precisions = [], [], []
    for day, papers in days.items():
        scores = np.asarray(scores_for(day, papers), dtype=np.float64)
        order = np.argsort(-scores, kind="stable")
        labels = [papers[i]["label"] for i in order]
        aps.append(average_precision(labels))
        ndcgs.append(ndcg(labels))
        precisions.append(precision(labels))
    return {"map": float(np.mean(aps)), "ndcg@20": float(np.mean(ndcgs)), "p@20": float(np.mean(precisions))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listings", nargs="+", required=True)
    parser.add_argument("--hf", nargs="+", required=True)
    parser.add_argument("--train-until", required=True, type=date.fromisoformat)
    parser.add_argument("--c", type=float, default=1.0, help="Inverse regularization of the tag model.")
    args = parser.parse_args()
    missing = [p for p in args.listings + args.hf if not Path(p).exists()]
    if missing:
        print(f"daily_pick: data not found: {', '.join(missing)} (see ../shared/data)", file=sys.stderr)
        return 2
    from paperfeed.library.recommend import Paper, TagModel
    from paperfeed.search.embed import WordLlamaEmbedder

    started = time.perf_counter()
    picks: dict[str, list[str]] = defaultdict(list)  # arXiv id -> days picked
    for file_day, record in read_records(args.hf, "hf-daily"):
        day = record.extra.get("picked_date") or file_day
        if record.arxiv_id and day:
            picks[record.arxiv_id].append(day)
    listing_days: dict[str, dict[str, dict]] = defaultdict(dict)
    first_seen: dict[str, str] = {}
    for file_day, record in read_records(args.listings, "jsonl"):
        if not record.arxiv_id or not file_day:
            continue
        listing_days[file_day].setdefault(record.arxiv_id, {
            "id": record.arxiv_id, "title": record.title, "abstract": record.abstract,
            "authors": record.authors, "categories": record.categories})
        first_seen[record.arxiv_id] = min(first_seen.get(record.arxiv_id, file_day), file_day)
    if not listing_days or not picks:
        print("daily_pick: no listing days or no Hugging Face picks were read", file=sys.stderr)
        return 2
    cut = args.train_until.isoformat()

    def picked(arxiv_id: str, day: str, until: str | None) -> int:
        low = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
        high = (date.fromisoformat(day) + timedelta(days=PICK_WINDOW)).isoformat()
        return int(any(low <= d <= high and (until is None or d <= until) for d in picks.get(arxiv_id, ())))

    train = [dict(paper, label=picked(paper["id"], day, cut))
             for day in sorted(listing_days) if day <= cut
             for arxiv_id, paper in listing_days[day].items() if first_seen[arxiv_id] == day]
    test_days = {}
    for day in sorted(listing_days):
        if day <= cut:
            continue
        papers = [dict(paper, label=picked(paper["id"], day, None)) for paper in listing_days[day].values()]
        if any(p["label"] for p in papers):
            test_days[day] = papers
    test_papers = [p for papers in test_days.values() for p in papers]
    positives = sum(p["label"] for p in train)
    log(f"read {len(listing_days)} listing days, {len(picks):,} picked papers in {time.perf_counter() - started:.1f} s")
    log(f"train: {len(train):,} papers ({positives:,} picked) on days <= {cut}; test: {len(test_days)} days, "
        f"{len(test_papers):,} papers ({sum(p['label'] for p in test_papers):,} picked)")
    if not train or not positives or not test_days:
        print("daily_pick: nothing to train on or test with for this --train-until", file=sys.stderr)
        return 2
    results: dict[str, dict] = {}

    # -- random and newest-first --------------------------------------------------------------
    runs = [evaluate(test_days, lambda day, papers, seed=seed: random.Random(f"{seed}{day}").sample(
        range(len(papers)), len(papers))) for seed in range(20)]
    results["random"] = {name: float(np.mean([run[name] for run in runs])) for name in runs[0]}
    results["newest_first"] = evaluate(test_days, lambda day, papers: [
        id_key(p["id"])[0] * 1e6 + id_key(p["id"])[1] for p in papers])

    # -- the small-tools baseline: TF-IDF + linear SVM (arxiv-sanity-lite's settings) ---------
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    def sanity_text(p: dict) -> str:
        return f"{p['title']} | {' '.join(p['authors'])} | {p['abstract']}"

    tick = time.perf_counter()
    vectorizer = TfidfVectorizer(strip_accents="unicode", lowercase=True, analyzer="word", stop_words="english",
                                 token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
                                 max_features=20000, norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=True,
                                 max_df=0.1, min_df=5, dtype=np.float32)
    vectorizer.fit([sanity_text(p) for p in train + test_papers])
    svm = LinearSVC(class_weight="balanced", max_iter=10000, tol=1e-6, C=0.01)
    svm.fit(vectorizer.transform([sanity_text(p) for p in train]), [p["label"] for p in train])
    results["tfidf_svm"] = evaluate(test_days, lambda day, papers: svm.decision_function(
        vectorizer.transform([sanity_text(p) for p in papers])))
    results["tfidf_svm"]["seconds"] = round(time.perf_counter() - tick, 1)
    log(f"baseline TF-IDF + SVM trained and ranked in {results['tfidf_svm']['seconds']} s")

    # -- paperfeed's tag model ---------------------------------------------------------------
    tick = time.perf_counter()
    embedder = WordLlamaEmbedder()

    def as_papers(rows: list[dict]) -> list[Paper]:
        return [Paper(0, p["title"], p["abstract"], p["authors"], p["categories"]) for p in rows]

    def embed(rows: list[dict]) -> np.ndarray:
        return embedder.embed([f"{p['title']}. {p['abstract']}" for p in rows])

    model = TagModel(c=args.c, min_df=2)
    model.fit_vocabulary(as_papers(train + test_papers))
    X_train = model.features(as_papers(train), embed(train))
    model.fit(X_train, np.asarray([p["label"] for p in train]))
    results["paperfeed"] = evaluate(test_days, lambda day, papers: model.scores(
        model.features(as_papers(papers), embed(papers))))
    results["paperfeed"]["seconds"] = round(time.perf_counter() - tick, 1)
    log(f"paperfeed tag model trained and ranked in {results['paperfeed']['seconds']} s")

    # -- 100,000 candidates for one tag --------------------------------------------------------
    from paperfeed.library.recommend import rank_candidates

    pool = [paper for day in sorted(listing_days) for paper in listing_days[day].values()]
    candidates = (pool * (100_000 // len(pool) + 1))[:100_000]
    tick = time.perf_counter()
    X_pool = model.features(as_papers(pool), embed(pool))
    featurize_per_paper = (time.perf_counter() - tick) / len(pool)
    from scipy.sparse import vstack

    X_candidates = vstack([X_pool] * (100_000 // len(pool) + 1), format="csr")[:100_000]
    timings = []
    for _ in range(5):
        tick = time.perf_counter()
        rank_candidates(model, X_candidates, 50)
        timings.append(time.perf_counter() - tick)
    results["rank_100k_seconds"] = round(float(np.median(timings)), 4)
    results["featurize_100k_seconds_estimate"] = round(featurize_per_paper * len(candidates), 1)

    log("")
    log(f"{'ranker':14} {'MAP':>8} {'nDCG@20':>8} {'P@20':>8}")
    for name in ("random", "newest_first", "tfidf_svm", "paperfeed"):
        figures = results[name]
        log(f"{name:14} {figures['map']:8.4f} {figures['ndcg@20']:8.4f} {figures['p@20']:8.4f}")
    log(f"rank 100,000 candidates (features ready): {results['rank_100k_seconds']} s (median of 5); "
        f"features for 100,000 papers: ~{results['featurize_100k_seconds_estimate']} s")
    beats = all(results["paperfeed"][m] > results["tfidf_svm"][m] for m in ("map", "ndcg@20", "p@20"))
    summary = {"bench": "daily_pick", "train_until": cut, "train_papers": len(train), "train_picks": positives,
               "test_days": len(test_days), "test_papers": len(test_papers),
               "test_picks": sum(p["label"] for p in test_papers), "beats_tfidf_svm": beats,
               "seconds": round(time.perf_counter() - started, 1),
               **{name: {k: round(v, 4) for k, v in results[name].items()}
                  for name in ("random", "newest_first", "tfidf_svm", "paperfeed")},
               "rank_100k_seconds": results["rank_100k_seconds"],
               "featurize_100k_seconds_estimate": results["featurize_100k_seconds_estimate"]}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
