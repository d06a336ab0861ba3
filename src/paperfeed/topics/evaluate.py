"""Evaluate category prediction on labelled records: predict as if they had no categories, compare with theirs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..inputs import InputError, iter_inputs
from ..records import ParseContext, ParseError, Record
from ..sources import detect_format, get_format
from ..storage import Store
from . import model as label_model
from .taxonomy import is_category
from .tagger import CATEGORIES_MODEL, TaggerError, all_topics, definitions_digest, load, train_models, training_inputs


@dataclass(slots=True)
class LabelledRecords:
    """Distinct records that carry arXiv categories, and the inputs that could not be read."""

    records: list[Record] = field(default_factory=list)
    unlabelled: int = 0
    duplicates: int = 0
    failures: list[str] = field(default_factory=list)


def read_labelled(paths: Sequence[str | Path], format_name: str | None = None) -> LabelledRecords:
    """Parse every input under ``paths`` (nothing is stored); keep the first record of each paper with categories."""
    found = LabelledRecords()
    seen: set[str] = set()
    for entry in iter_inputs(list(paths)):
        if isinstance(entry, InputError):
            found.failures.append(_failure(entry.origin, entry.message, entry.place))
            continue
        context = ParseContext(entry.origin, date_hint=entry.date_hint)
        try:
            data = entry.read()
            module = get_format(format_name) if format_name else detect_format(data, context.name)
            for record in module.parse(data, context):
                key = record.arxiv_id or f"{record.format}:{record.record_id}"
                if key in seen:
                    found.duplicates += 1
                    continue
                seen.add(key)
                if any(is_category(c) for c in record.categories):
                    found.records.append(record)
                else:
                    found.unlabelled += 1
        except ParseError as error:
            found.failures.append(_failure(entry.origin, error.message, error.place))
        except OSError as error:
            found.failures.append(_failure(entry.origin, f"cannot read: {error.strerror or error}", None))
    return found


def _failure(origin: str, message: str, place: str | None) -> str:
    return f"{origin}{f' at {place}' if place else ''}: {message}"


def category_model(store: Store, alpha: float) -> label_model.LabelModel:
    """Return the store's category model, training (and storing) one when there is none or ``alpha`` changed."""
    stored = store.load_model(CATEGORIES_MODEL)
    if stored is None or stored.meta.get("alpha") != alpha:
        topics = all_topics(store)
        topic_model, stored, notes = train_models(training_inputs(store), topics, alpha,
                                                  definitions_digest(topics, alpha))
        if stored is None:
            raise TaggerError("; ".join(notes))
        store.save_model(topic_model)
        store.save_model(stored)
    return load(stored)


def multilabel_metrics(truth: np.ndarray, predicted: np.ndarray, covered: np.ndarray | None,
                       labels: Sequence[str]) -> dict[str, Any]:
    """Return micro F1, macro F1 (over labels with at least one true item), coverage and per-label figures. Pure.

    ``truth``, ``predicted`` and ``covered`` (the conformal sets) are boolean (items, labels) arrays.
    Coverage is the share of true (item, label) pairs whose label is in the item's conformal set.
    """
    truth, predicted = np.asarray(truth, dtype=bool), np.asarray(predicted, dtype=bool)
    tp = (truth & predicted).sum(axis=0)
    fp = (~truth & predicted).sum(axis=0)
    fn = (truth & ~predicted).sum(axis=0)
    support = truth.sum(axis=0)
    present = support > 0
    f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros(len(labels)), where=(2 * tp + fp + fn) > 0)
    micro_den = 2 * tp.sum() + fp.sum() + fn.sum()
    result: dict[str, Any] = {
        "micro_f1": round(float(2 * tp.sum() / micro_den), 4) if micro_den else 0.0,
        "macro_f1": round(float(f1[present].mean()), 4) if present.any() else 0.0,
    }
    per_label = {labels[j]: {"support": int(support[j]), "f1": round(float(f1[j]), 4)}
                 for j in range(len(labels)) if present[j]}
    if covered is not None:
        covered = np.asarray(covered, dtype=bool)
        hits = (truth & covered).sum(axis=0)
        result["coverage"] = round(float(hits.sum() / support.sum()), 4) if support.sum() else 0.0
        result["mean_set_size"] = round(float(covered.sum(axis=1).mean()), 3) if len(covered) else 0.0
        for j in np.flatnonzero(present):
            per_label[labels[j]]["coverage"] = round(float(hits[j] / support[j]), 4)
    result["per_label"] = per_label
    return result


def truth_matrix(category_lists: Iterable[Sequence[str]], labels: Sequence[str]) -> tuple[np.ndarray, int]:
    """Return the (items, labels) truth array and how many true categories fall outside ``labels``."""
    index = {label: j for j, label in enumerate(labels)}
    rows = list(category_lists)
    truth = np.zeros((len(rows), len(labels)), dtype=bool)
    outside = 0
    for row, categories in enumerate(rows):
        for category in set(categories):
            if category in index:
                truth[row, index[category]] = True
            elif is_category(category):
                outside += 1
    return truth, outside


def evaluate_records(model: label_model.LabelModel, records: Sequence[Record], batch_size: int = 4000) -> dict[str, Any]:
    """Predict categories for labelled records from title, abstract and authors; score against their own."""
    predicted, covered = [], []
    for start in range(0, len(records), batch_size):
        chunk = records[start:start + batch_size]
        scores = model.scores([label_model.document(r.title, r.abstract) for r in chunk], [r.authors for r in chunk])
        predicted.append(model.predict(scores))
        covered.append(model.conformal_sets(scores))
    empty = np.zeros((0, len(model.labels)), dtype=bool)
    truth, outside = truth_matrix((r.categories for r in records), model.labels)
    figures = multilabel_metrics(truth, np.vstack(predicted) if predicted else empty,
                                 np.vstack(covered) if covered else empty, model.labels)
    unclaimed = set(model.meta.get("no_coverage_claim", []))
    claimed = [j for j, label in enumerate(model.labels) if label not in unclaimed]
    true_claimed = truth[:, claimed].sum()
    hits = (truth[:, claimed] & np.vstack(covered)[:, claimed]).sum() if covered else 0
    return {"records": len(records), **{k: v for k, v in figures.items() if k != "per_label"},
            # Coverage over the labels that make a conformal claim (enough recent calibration positives);
            # the others enter sets at their F1 cut-off and are named here.
            "coverage_claimed_labels": round(float(hits / true_claimed), 4) if true_claimed else 0.0,
            "no_coverage_claim": sorted(unclaimed),
            "alpha": model.alpha, "labels": len(model.labels), "true_categories_outside_labels": outside,
            "per_label": figures["per_label"]}
