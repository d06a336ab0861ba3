"""Development harness for the category model's second stage and conformal sets: cache the text stage, iterate fast.

Usage: python bench/topics_dev.py LISTINGS.tar.xz --work-dir /work/tmp/conformal [--split 2025-09-01]
       [--until 2025-11-01] [--only logistic,mlp64]

A full ``bench/topics.py`` run retrains everything (minutes to half an hour). The expensive part, the
text model cross-fitted over 4 contiguous blocks of time, does not change while the second stage, the
scoring and the calibration are being chosen, so it runs once and is cached in ``--work-dir`` (one
``.npz`` per split; delete it to recompute):

- the training days (before ``--split``) are ingested into a fresh SQLite store exactly as the bench
  does, the features and the cross-fit are those of ``tagger.train_models`` / ``model.train_stacked``;
- kept: the out-of-fold text scores of every training paper, their truth, blocks, days, primary
  categories, the online author features; for the evaluation papers (``--split`` <= day < ``--until``,
  ids never seen on a training day) the fold-mean text scores, author features and truth.

Then every variant is rebuilt from the cache in seconds and printed as one table row, the shipped design
(``model._calibrate`` with ``recent``: label-wise on the newest block, a claim with >= 50 positives there,
else the F1 cut-off) and the previous one (clustered) among them. Each second stage (``--only``) is
computed once and cached in ``--work-dir`` too (the logistic one, ``stacking.fit``, takes minutes). Choose on the
development split only (the default: fit before 2025-09-01, evaluate Sep-Oct 2025); the test split
is ``bench/topics.py``'s, run once.

Rows: micro/macro F1 of the point predictions over the labels with >= 50 training papers, the
label-wise coverage of the conformal sets (labels with >= 50 evaluation papers: the minimum, how many
are below 1 - alpha - 0.02), the mean set size (every label the model keeps) and the singleton share.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from topics import new_category_papers, split_days  # bench/topics.py: the same split


def build_cache(listings: Path, split: str, until: str, cache: Path) -> None:
    """Ingest the training days, cross-fit the text model, score the evaluation papers; save to ``cache``."""
    from paperfeed.ingest import Ingester
    from paperfeed.inputs import InputFile
    from paperfeed.storage import open_store
    from paperfeed.topics import model as label_model
    from paperfeed.topics import stacking, tagger
    from paperfeed.topics.evaluate import truth_matrix
    from paperfeed.topics.taxonomy import is_category

    train_days, eval_days, _ = split_days(listings, split, until)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder, open_store(Path(folder) / "dev.db") as store:
        Ingester(store).ingest_inputs([InputFile(f"{listings.name}!{name}", name, (lambda data=data: data), len(data))
                                       for name, data in train_days])
        inputs = tagger.training_inputs(store)
        records = new_category_papers(store, eval_days, listings.name)
    print(f"ingested {len(inputs):,} training items, {len(records):,} evaluation papers "
          f"({time.perf_counter() - started:.0f} s)", flush=True)
    texts = [label_model.document(item.title, item.abstract) for item in inputs]
    features = label_model.featurize(texts, tagger.calibration_mask(len(inputs)))
    rows = np.array([row for row, item in enumerate(inputs) if any(is_category(c) for c in item.categories)])
    chosen = [inputs[row] for row in rows]
    names = tagger.category_labels(chosen)
    started = time.perf_counter()
    alpha = 0.1
    text = label_model.cross_fit_text(features, [item.categories for item in chosen], names, alpha, rows=rows)
    print(f"cross-fitted the text model in {time.perf_counter() - started:.0f} s", flush=True)
    labels = [names[j] for j in text.keep]
    authors = [item.authors for item in chosen]
    days = [item.published or "" for item in chosen]
    priors = stacking.online_author_features(authors, days, text.truth)
    model = label_model.LabelModel(labels=labels, terms=features.terms, idf=features.idf, weights=text.weights,
                                   bias=text.bias, conformal=np.zeros(len(labels)), decide=np.zeros(len(labels)),
                                   platt_a=np.ones(len(labels)), platt_b=np.zeros(len(labels)), alpha=alpha)
    documents = [label_model.document(r.title, r.abstract) for r in records]
    eval_text = np.vstack([model.scores(documents[i:i + 4000]) for i in range(0, len(documents), 4000)])
    eval_priors = stacking.AuthorPriors.from_truth(authors, text.truth).features([r.authors for r in records],
                                                                                 len(labels))
    eval_truth, _ = truth_matrix((r.categories for r in records), labels)
    counts = Counter(c for item in chosen for c in set(item.categories) if is_category(c))
    index = {label: j for j, label in enumerate(labels)}
    primary = lambda categories: index.get(next((c for c in categories if is_category(c)), ""), -1)  # noqa: E731
    block_of = np.zeros(len(rows), dtype=np.int64)
    for number, block in enumerate(text.blocks):
        block_of[block] = number
    np.savez_compressed(
        cache, labels=np.array(labels), train_papers=np.array([counts[label] for label in labels]),
        held_out=text.held_out, truth=text.truth, block_of=block_of, days=np.array(days), priors=priors,
        primary=np.array([primary(item.categories) for item in chosen]),
        eval_text=eval_text, eval_priors=eval_priors, eval_truth=eval_truth,
        eval_primary=np.array([primary(r.categories) for r in records]),
        eval_days=np.array([r.published or "" for r in records]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listings", help="arxiv_daily_listings_*.tar.xz")
    parser.add_argument("--work-dir", required=True, help="folder for the cached text stage (never committed)")
    parser.add_argument("--split", default="2025-09-01", help="first evaluation day")
    parser.add_argument("--until", default="2025-11-01", help="first day after the evaluation days")
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--only", default="logistic",
                        help="comma-separated second stages: logistic (shipped), mlp64, mlp256 (slow here)")
    args = parser.parse_args()
    listings = Path(args.listings)
    if not listings.is_file():
        print(f"bench/topics_dev.py: {listings} not found", file=sys.stderr)
        return 2
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    cache = work / f"text-stage-{args.split}-{args.until}.npz"
    if not cache.is_file():
        build_cache(listings, args.split, args.until, cache)
    data = dict(np.load(cache))
    from topics_dev_variants import run_variants

    run_variants(data, args.alpha, work, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
