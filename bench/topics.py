"""Category prediction, conformal sets and tagging throughput on the daily listings, split by time.

Usage: python bench/topics.py PATH_TO_LISTINGS.tar.xz [--split 2025-11-01] [--until DAY] [--alpha 0.1] [--ablation]

- Split: listing days before ``--split`` are ingested into a fresh SQLite store (the training corpus);
  the test papers are the later days' records whose arXiv id never appeared on a training day (a
  re-listed paper would leak its categories). Nothing is chosen on the test part: paperfeed's
  thresholds (conformal, Platt, per-label F1 cut-offs) and its second stage are fitted on
  out-of-fold scores of the training days (4 contiguous blocks of time), its C values are fixed.
- paperfeed: ``tagger.tag_store`` trains the topic and category models from the store, then the
  category model predicts the test records from title, abstract and authors (author priors come
  from the training papers only).
- baseline, in the same run: the tuned standard one of issue 19, ``TfidfVectorizer(ngram_range=(1, 2),
  sublinear_tf=True, min_df=3, max_features=200_000)`` and one-vs-rest ``LogisticRegression(C=4)``
  trained on every training paper, predicting at 0.5.
- Labels: the arXiv categories with at least 50 training papers; both are scored on exactly these
  (a label paperfeed does not learn counts as never predicted). Macro F1 is over labels with test papers.
- Conformal: per label, the share of its test papers whose set holds it; at alpha = 0.1 every label
  with at least 50 test papers should reach 0.88. Set size counts every label paperfeed predicts. The
  labels that make no coverage claim (< 50 positives in the newest training block; in sets at their F1
  cut-off) are listed, and those of them with >= 50 test papers named.
- ``--ablation``: the category model retrained on the same store with parts switched off (one shared
  cross-fit of the text model), and the previous design (text model, 20 % newest held out to calibrate).
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

MIN_TRAINING_PAPERS = 50


def split_days(path: Path, split: str, until: str) -> tuple[list, list, int]:
    """The listing tarball's days as (member name, bytes): those before ``split``, those in [split, until), and
    how many days it holds."""
    with tarfile.open(path, "r:*") as archive:
        members = sorted(((m.name, archive.extractfile(m).read()) for m in archive if m.isfile()))
    return ([(name, data) for name, data in members if name[:10] < split],
            [(name, data) for name, data in members if split <= name[:10] < until], len(members))


def new_category_papers(store, days: list, archive: str) -> list:
    """The records of ``days`` that carry an arXiv category and are neither in ``store`` nor repeated (a
    cross-listed paper is announced again): the papers a model trained on the store has never seen."""
    from paperfeed.records import ParseContext
    from paperfeed.sources import get_format
    from paperfeed.topics.taxonomy import is_category

    seen = set()
    records = []
    for name, data in days:
        for record in get_format("jsonl").parse(data, ParseContext(f"{archive}!{name}", date_hint=name[:10])):
            if record.arxiv_id in seen or store.find_item(record.arxiv_id or "") is not None:
                continue
            seen.add(record.arxiv_id)
            if any(is_category(c) for c in record.categories):
                records.append(record)
    return records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listings", help="arxiv_daily_listings_*.tar.xz")
    parser.add_argument("--split", default="2025-11-01", help="first test day (YYYY-MM-DD)")
    parser.add_argument("--until", default="9999-12-31",
                        help="first day after the test days (a development split: --split 2025-09-01 --until 2025-11-01)")
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--ablation", action="store_true", help="also measure each part of the category model")
    args = parser.parse_args()
    bench_started = time.perf_counter()
    path = Path(args.listings)
    if not path.is_file():
        print(f"bench/topics.py: {path} not found (the listings live in ../shared/data/arxiv-daily-listings/)",
              file=sys.stderr)
        return 2

    from paperfeed.inputs import InputFile
    from paperfeed.ingest import Ingester
    from paperfeed.storage import open_store
    from paperfeed.topics import model as label_model
    from paperfeed.topics import tagger
    from paperfeed.topics.taxonomy import is_category

    train_days, test_days, day_count = split_days(path, args.split, args.until)
    print(f"{day_count} days: train {train_days[0][0][:10]} .. {train_days[-1][0][:10]} ({len(train_days)}), "
          f"test {test_days[0][0][:10]} .. {test_days[-1][0][:10]} ({len(test_days)})")

    ablation: list[tuple[str, object, float]] = []
    with tempfile.TemporaryDirectory() as folder, open_store(Path(folder) / "bench.db") as store:
        started = time.perf_counter()
        entries = [InputFile(f"{path.name}!{name}", name, (lambda data=data: data), len(data))
                   for name, data in train_days]
        Ingester(store).ingest_inputs(entries)
        print(f"ingested {store.item_count():,} training items in {time.perf_counter() - started:.1f} s")

        stages: dict[str, float] = {}
        report = tagger.tag_store(store, alpha=args.alpha, refresh_authors=False,
                                  on_stage=lambda text: stages.setdefault(text.split()[0], time.perf_counter()))
        # Throughput: from the "tagging" stage (models loaded from the store) to the last write.
        tag_seconds = time.perf_counter() - stages["tagging"]
        tagged, train_seconds = report.tagged, report.train_seconds
        print(f"paperfeed: trained both models in {train_seconds:.1f} s, then tagged {tagged:,} items "
              f"(topics and categories, written to the store) in {tag_seconds:.1f} s = "
              f"{tagged / tag_seconds:,.0f} items/s")
        categories = tagger.load(store.load_model(tagger.CATEGORIES_MODEL))

        test_records = new_category_papers(store, test_days, path.name)
        inputs = tagger.training_inputs(store)
        if args.ablation:
            ablation = _ablation(inputs, args.alpha, label_model, tagger, is_category)
    train_items = [item for item in inputs if any(is_category(c) for c in item.categories)]
    counts = Counter(c for item in train_items for c in set(item.categories) if is_category(c))
    labels = sorted(c for c, n in counts.items() if n >= MIN_TRAINING_PAPERS)
    print(f"test: {len(test_records):,} papers not seen on a training day; {len(labels)} categories with "
          f">= {MIN_TRAINING_PAPERS} training papers")

    from paperfeed.topics.evaluate import truth_matrix

    test_y, _ = truth_matrix((r.categories for r in test_records), labels)
    ours = _score(categories, test_records, labels, test_y)

    from joblib import parallel_config
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    started = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=3, max_features=200_000)
    train_x = vectorizer.fit_transform([f"{item.title} {item.abstract}" for item in train_items])
    train_y, _ = truth_matrix((item.categories for item in train_items), labels)
    # Two worker processes spread the independent per-label fits over two cores; the fitted model is the
    # same as a sequential fit's. max_nbytes=None: liblinear refuses joblib's read-only memory maps.
    with parallel_config(backend="loky", n_jobs=2, max_nbytes=None):
        baseline = OneVsRestClassifier(LogisticRegression(C=4, solver="liblinear"), n_jobs=2).fit(train_x, train_y)
    baseline_seconds = time.perf_counter() - started
    test_x = vectorizer.transform([f"{r.title} {r.abstract}" for r in test_records])
    from paperfeed.topics.evaluate import multilabel_metrics

    base = multilabel_metrics(test_y, baseline.predict(test_x).astype(bool), None, labels)
    print(f"baseline trained in {baseline_seconds:.1f} s on {len(train_items):,} items")

    print(f"\n{'':34} {'micro F1':>9} {'macro F1':>9} {'min cov':>8} {'set size':>9} {'singletons':>11} {'train s':>8}")
    print(f"{'paperfeed (text + co-occ. + authors)':34} {ours['micro_f1']:>9.4f} {ours['macro_f1']:>9.4f} "
          f"{ours['min_coverage']:>8.3f} {ours['mean_set_size']:>9.2f} {ours['singletons']:>11.3f} {train_seconds:>8.0f}")
    for name, model, seconds in ablation:
        row = _score(model, test_records, labels, test_y)
        print(f"{'  ' + name:34} {row['micro_f1']:>9.4f} {row['macro_f1']:>9.4f} {row['min_coverage']:>8.3f} "
              f"{row['mean_set_size']:>9.2f} {row['singletons']:>11.3f} {seconds:>8.0f}")
    print(f"{'baseline (TF-IDF 1-2, LR C=4)':34} {base['micro_f1']:>9.4f} {base['macro_f1']:>9.4f} "
          f"{'':>8} {'':>9} {'':>11} {baseline_seconds:>8.0f}")
    print(f"\nconformal coverage at alpha={args.alpha}, labels with >= 50 test papers "
          f"(min {ours['min_coverage']:.3f}, median {ours['median_coverage']:.3f}):")
    for label, figures in sorted(ours["big"].items(), key=lambda kv: -kv[1]["support"]):
        mark = "" if figures["coverage"] >= 0.88 else "  < 0.88"
        print(f"  {label:10} {figures['support']:>6}  coverage {figures['coverage']:.3f}  "
              f"F1 {figures['f1']:.3f} (baseline {base['per_label'].get(label, {}).get('f1', 0):.3f}){mark}")
    unclaimed = categories.meta.get("no_coverage_claim", [])
    print(f"\nno coverage claim (fewer than {label_model.COVERAGE_MIN_POSITIVES} calibration positives; in sets at "
          f"their F1 cut-off): {len(unclaimed)} of {len(categories.labels)} labels: {', '.join(unclaimed)}")
    unclaimed_big = sorted(set(unclaimed) & set(ours["big"]))
    if unclaimed_big:
        print(f"  of them with >= 50 test papers: {', '.join(unclaimed_big)}")
    print("\ntrade-off on the test days, the conformal thresholds of other miss rates (labels with >= 50 test papers):")
    for row in ours["trade_off"]:
        print(f"  alpha {row['alpha']:<5} mean set {row['mean_set_size']:>6.2f}  singletons {row['singletons']:.3f}  "
              f"min coverage {row['min_coverage']:.3f} ({row['worst_label']}), {row['labels_below_0_88']} below 0.88")
    summary = {
        "bench": "topics", "split": args.split, "train_days": len(train_days), "test_days": len(test_days),
        "train_items": len(train_items), "test_papers": len(test_records), "labels": len(labels),
        "micro_f1": ours["micro_f1"], "macro_f1": ours["macro_f1"],
        "baseline_micro_f1": base["micro_f1"], "baseline_macro_f1": base["macro_f1"],
        "alpha": args.alpha, "coverage": ours["coverage"], "mean_set_size": ours["mean_set_size"],
        "singleton_share": ours["singletons"], "labels_50_plus": len(ours["big"]),
        "min_coverage_50_plus": ours["min_coverage"], "median_coverage_50_plus": ours["median_coverage"],
        "labels_below_0_88": sorted(label for label, f in ours["big"].items() if f["coverage"] < 0.88),
        "train_seconds": round(train_seconds, 1), "baseline_train_seconds": round(baseline_seconds, 1),
        "tag_items_per_s": round(tagged / tag_seconds), "tagged_items": tagged,
        "bench_seconds": round(time.perf_counter() - bench_started),
        "no_coverage_claim": unclaimed, "no_coverage_claim_50_plus": unclaimed_big,
        "trade_off": [[row["alpha"], row["mean_set_size"], row["min_coverage"]] for row in ours["trade_off"]],
    }
    print(json.dumps(summary))
    return 0


def _score(model, records, labels: list[str], truth: np.ndarray) -> dict:
    """F1 over ``labels`` (a label the model lacks is never predicted), coverage and set sizes over its own."""
    from paperfeed.topics import model as label_model
    from paperfeed.topics.evaluate import multilabel_metrics

    scores = np.vstack([model.scores([label_model.document(r.title, r.abstract) for r in records[i:i + 4000]],
                                     [r.authors for r in records[i:i + 4000]])
                        for i in range(0, len(records), 4000)])
    predicted, sets = model.predict(scores), model.conformal_sets(scores)
    columns = {label: j for j, label in enumerate(model.labels)}
    on_labels = np.zeros_like(truth)
    covered = np.zeros_like(truth)
    for j, label in enumerate(labels):
        if label in columns:
            on_labels[:, j] = predicted[:, columns[label]]
            covered[:, j] = sets[:, columns[label]]
    figures = multilabel_metrics(truth, on_labels, covered, labels)
    big = {label: f for label, f in figures["per_label"].items() if f["support"] >= 50}
    coverages = [f["coverage"] for f in big.values()]
    sizes = sets.sum(axis=1)
    return {**figures, "big": big, "min_coverage": min(coverages), "median_coverage": float(np.median(coverages)),
            "mean_set_size": float(sizes.mean()), "singletons": float((sizes == 1).mean()),
            "trade_off": _trade_off(model, scores, labels, truth)}


def _trade_off(model, scores: np.ndarray, labels: list[str], truth: np.ndarray) -> list[dict]:
    """Per miss rate kept in the model (``conformal_by_alpha``): mean set size, singletons, min coverage (>= 50 papers)."""
    from paperfeed.topics import model as label_model

    columns = {label: j for j, label in enumerate(model.labels)}
    big = [j for j in range(len(labels)) if truth[:, j].sum() >= 50 and labels[j] in columns]
    rows = []
    for level, thresholds in model.meta.get("conformal_by_alpha", {}).items():
        cut = np.array([-np.inf if t is None else np.inf if t >= label_model.NEVER_SCORE else t for t in thresholds])
        sets = scores >= cut
        sizes = sets.sum(axis=1)
        coverage = {labels[j]: float(sets[truth[:, j], columns[labels[j]]].mean()) for j in big}
        worst = min(coverage, key=coverage.get)
        rows.append({"alpha": float(level), "mean_set_size": round(float(sizes.mean()), 2),
                     "singletons": round(float((sizes == 1).mean()), 4),
                     "min_coverage": round(coverage[worst], 3), "worst_label": worst,
                     "labels_below_0_88": sum(value < 0.88 for value in coverage.values())})
    return rows


def _ablation(inputs, alpha: float, label_model, tagger, is_category) -> list[tuple[str, object, float]]:
    """The category model with parts switched off, trained on the same items and features as the tagger's."""
    texts = [label_model.document(item.title, item.abstract) for item in inputs]
    features = label_model.featurize(texts, tagger.calibration_mask(len(inputs)))
    rows = np.array([row for row, item in enumerate(inputs) if any(is_category(c) for c in item.categories)])
    chosen = [inputs[row] for row in rows]
    names = tagger.category_labels(chosen)
    categories = [item.categories for item in chosen]
    authors, days = [item.authors for item in chosen], [item.published or "" for item in chosen]
    found = []
    started = time.perf_counter()
    previous = label_model.train(features, categories, names, alpha, rows=rows)
    found.append(("previous: text, 20 % held out", previous, time.perf_counter() - started))
    started = time.perf_counter()
    text = label_model.cross_fit_text(features, categories, names, alpha, rows=rows)
    text_seconds = time.perf_counter() - started
    for name, cooccurrence, with_authors in (("cross-fitted text only", False, False),
                                             ("+ label co-occurrence", True, False),
                                             ("+ co-occurrence and author priors", True, True)):
        started = time.perf_counter()
        model = label_model.train_stacked(features, categories, names, alpha, rows=rows, authors=authors, days=days,
                                          use_cooccurrence=cooccurrence, use_authors=with_authors, text=text)
        found.append((name, model, text_seconds + time.perf_counter() - started))
    return found


if __name__ == "__main__":
    sys.exit(main())
