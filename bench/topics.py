"""Category prediction, conformal coverage and tagging throughput on the daily listings, time-ordered.

Usage: python bench/topics.py PATH_TO_LISTINGS.tar.xz [--test-share 0.2] [--alpha 0.1]

- Split: the listing days sorted by date; the first (1 - test_share) of the days are ingested into a
  fresh SQLite store (the training corpus); the test papers are the later days' records whose arXiv id
  never appeared on a training day (a re-listed paper would leak its categories).
- paperfeed: ``paperfeed topics tag`` trains the topic and category models from the store (proper training
  on the older 80 % of its items, conformal and decision thresholds on the newest 20 %), then predicts
  categories for the test records from title and abstract only.
- baseline, in the same run: scikit-learn ``TfidfVectorizer()`` with default settings and
  ``OneVsRestClassifier(LogisticRegression(solver="liblinear"))`` trained on *all* the store's labelled
  items (ours holds 20 % of them out to calibrate), predicting with its default 0.5 cut-off, over the
  same label set (arXiv categories with at least 20 training items).
- Coverage: per label, the share of test papers truly in a category whose conformal set holds it;
  at alpha = 0.1 every label with at least 50 test papers should reach 0.88.
- Throughput: the first tagging of the whole store after training (read items, vectorize, score both
  models, write topics, predicted categories and tag state), in items per second.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listings", help="arxiv_daily_listings_*.tar.xz")
    parser.add_argument("--test-share", type=float, default=0.2, help="share of the days (the latest) to test on")
    parser.add_argument("--alpha", type=float, default=0.1)
    args = parser.parse_args()
    bench_started = time.perf_counter()
    path = Path(args.listings)
    if not path.is_file():
        print(f"bench/topics.py: {path} not found (the listings live in ../shared/data/arxiv-daily-listings/)",
              file=sys.stderr)
        return 2

    from paperfeed.inputs import InputFile
    from paperfeed.ingest import Ingester
    from paperfeed.records import ParseContext
    from paperfeed.sources import get_format
    from paperfeed.storage import open_store
    from paperfeed.topics import tagger
    from paperfeed.topics.evaluate import evaluate_records, multilabel_metrics, truth_matrix

    with tarfile.open(path, "r:*") as archive:
        members = sorted(((m.name, archive.extractfile(m).read()) for m in archive if m.isfile()))
    cut = int(round(len(members) * (1 - args.test_share)))
    train_days, test_days = members[:cut], members[cut:]
    print(f"{len(members)} days: train {train_days[0][0]} .. {train_days[-1][0]} ({len(train_days)}), "
          f"test {test_days[0][0]} .. {test_days[-1][0]} ({len(test_days)})")

    with tempfile.TemporaryDirectory() as folder, open_store(Path(folder) / "bench.db") as store:
        started = time.perf_counter()
        entries = [InputFile(f"{path.name}!{name}", name, (lambda data=data: data), len(data))
                   for name, data in train_days]
        Ingester(store).ingest_inputs(entries)
        print(f"ingested {store.item_count():,} training items in {time.perf_counter() - started:.1f} s")

        stages: dict[str, float] = {}
        started = time.perf_counter()
        report = tagger.tag_store(store, alpha=args.alpha, refresh_authors=False,
                                  on_stage=lambda text: stages.setdefault(text.split()[0], time.perf_counter()))
        # Throughput: from the "tagging" stage (models loaded from the store) to the last write.
        tag_seconds = time.perf_counter() - stages["tagging"]
        tagged, train_seconds = report.tagged, report.train_seconds
        print(f"paperfeed: trained both models in {train_seconds:.1f} s, then tagged {tagged:,} items "
              f"(topics and categories, written to the store) in {tag_seconds:.1f} s = "
              f"{tagged / tag_seconds:,.0f} items/s")
        categories = tagger.load(store.load_model(tagger.CATEGORIES_MODEL))

        seen = set()
        parser_module = get_format("jsonl")
        test_records = []
        for name, data in test_days:
            for record in parser_module.parse(data, ParseContext(f"{path.name}!{name}", date_hint=name[:10])):
                if record.arxiv_id in seen or store.find_item(record.arxiv_id or "") is not None:
                    continue
                seen.add(record.arxiv_id)
                if record.categories:
                    test_records.append(record)
        train_items = [item for item in tagger.training_inputs(store) if item.categories]
    print(f"test: {len(test_records):,} papers not seen on a training day")

    ours = evaluate_records(categories, test_records)

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    labels = categories.labels
    started = time.perf_counter()
    vectorizer = TfidfVectorizer()
    train_x = vectorizer.fit_transform([f"{item.title} {item.abstract}" for item in train_items])
    train_y, _ = truth_matrix((item.categories for item in train_items), labels)
    # Two worker processes only spread the independent per-label fits over the two cores, as ours
    # does with threads; the fitted model is the same as a sequential fit's. max_nbytes=None sends each
    # worker its own copy of the matrix (liblinear refuses joblib's read-only memory maps).
    from joblib import parallel_config

    with parallel_config(backend="loky", n_jobs=2, max_nbytes=None):
        baseline = OneVsRestClassifier(LogisticRegression(solver="liblinear"), n_jobs=2).fit(train_x, train_y)
    baseline_seconds = time.perf_counter() - started
    test_x = vectorizer.transform([f"{r.title} {r.abstract}" for r in test_records])
    test_y, _ = truth_matrix((r.categories for r in test_records), labels)
    base = multilabel_metrics(test_y, baseline.predict(test_x).astype(bool), None, labels)
    print(f"baseline trained in {baseline_seconds:.1f} s on {len(train_items):,} items")

    print(f"\n{'':12} {'micro F1':>9} {'macro F1':>9}")
    print(f"{'paperfeed':12} {ours['micro_f1']:>9.4f} {ours['macro_f1']:>9.4f}")
    print(f"{'baseline':12} {base['micro_f1']:>9.4f} {base['macro_f1']:>9.4f}")
    print(f"\nconformal coverage at alpha={args.alpha} (labels with >= 50 test papers), "
          f"overall {ours['coverage']:.4f}, mean set size {ours['mean_set_size']}:")
    big = {label: figures for label, figures in ours["per_label"].items() if figures["support"] >= 50}
    for label, figures in sorted(big.items(), key=lambda kv: -kv[1]["support"]):
        mark = "" if figures["coverage"] >= 0.88 else "  < 0.88"
        print(f"  {label:10} {figures['support']:>6}  coverage {figures['coverage']:.3f}  "
              f"F1 {figures['f1']:.3f} (baseline {base['per_label'].get(label, {}).get('f1', 0):.3f}){mark}")
    min_coverage = min((figures["coverage"] for figures in big.values()), default=None)
    summary = {
        "bench": "topics", "train_days": len(train_days), "test_days": len(test_days),
        "train_items": len(train_items), "test_papers": len(test_records), "labels": len(labels),
        "micro_f1": ours["micro_f1"], "macro_f1": ours["macro_f1"],
        "baseline_micro_f1": base["micro_f1"], "baseline_macro_f1": base["macro_f1"],
        "alpha": args.alpha, "coverage": ours["coverage"], "mean_set_size": ours["mean_set_size"],
        "labels_50_plus": len(big), "min_coverage_50_plus": min_coverage,
        "labels_below_0_88": sorted(label for label, f in big.items() if f["coverage"] < 0.88),
        "train_seconds": round(train_seconds, 1), "baseline_train_seconds": round(baseline_seconds, 1),
        "tag_items_per_s": round(tagged / tag_seconds), "tagged_items": tagged,
        "bench_seconds": round(time.perf_counter() - bench_started),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
