"""A second stage over the text model's scores: author priors and (optionally) label co-occurrence.

Authors keep to their fields, and arXiv categories are not independent (a cs.CL paper is often
cross-listed to cs.AI, a cs.CV one to cs.LG). So each label gets a small logistic regression whose
inputs are its text score, the text scores of *every* label (co-occurrence: on in the tagger, chosen
on a development split), and what the item's authors published before: the share of their earlier papers carrying the label, the highest such share
among them, and how many earlier papers they have. It is fitted on out-of-fold text scores, so it
learns how far to trust text scores the text model did not see in training.

The author table is plain arrays (names, a sparse count matrix), stored with the model like the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

EXTRA = 4
"""Author inputs per label after the label scores: share, highest share, log(1 + papers), has history."""


def author_key(name: str) -> str:
    """The table's key of an author name: case and surrounding space do not make another author."""
    return " ".join(name.split()).casefold()


@dataclass
class AuthorPriors:
    """Per author, how many earlier papers carried each label, and how many papers in all (the last column)."""

    names: list[str]
    counts: "object"
    """CSR (authors, labels + 1) float32."""

    def __post_init__(self) -> None:
        self._index = {name: row for row, name in enumerate(self.names)}

    @classmethod
    def from_truth(cls, author_lists: Sequence[Sequence[str]], truth: np.ndarray) -> "AuthorPriors":
        """Count every item's labels for each of its authors."""
        from scipy import sparse

        index: dict[str, int] = {}
        rows, columns = [], []
        with_total = np.hstack([truth, np.ones((truth.shape[0], 1), dtype=bool)])
        for item, authors in enumerate(author_lists):
            labels = np.flatnonzero(with_total[item])
            for key in {author_key(name) for name in authors}:
                row = index.setdefault(key, len(index))
                rows += [row] * len(labels)
                columns += labels.tolist()
        counts = sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, columns)),
                                   shape=(len(index), with_total.shape[1]))
        counts.sum_duplicates()
        return cls(names=list(index), counts=counts)

    def features(self, author_lists: Sequence[Sequence[str] | None], labels: int) -> np.ndarray:
        """Return (items, 2 * labels + 2): shares, highest shares, log(1 + papers), has history."""
        out = np.zeros((len(author_lists), 2 * labels + 2), dtype=np.float64)
        for item, authors in enumerate(author_lists):
            found = sorted({self._index[key] for key in map(author_key, authors or ()) if key in self._index})
            if found:
                out[item] = _author_row(self.counts[found].toarray(), labels)
        return out


def _author_row(counts: np.ndarray, labels: int) -> np.ndarray:
    totals = counts[:, labels]
    share = counts[:, :labels].sum(axis=0) / (totals.sum() + 1)
    highest = (counts[:, :labels] / (totals[:, None] + 1)).max(axis=0)
    return np.concatenate([share, highest, [np.log1p(totals.sum()), 1.0]])


def online_author_features(author_lists: Sequence[Sequence[str]], days: Sequence[str], truth: np.ndarray) -> np.ndarray:
    """Author features of time-ordered training items from strictly earlier days only, as new items will see them."""
    labels = truth.shape[1]
    tallies: dict[str, np.ndarray] = {}
    out = np.zeros((len(author_lists), 2 * labels + 2), dtype=np.float64)
    pending: list[int] = []
    day = None
    for item, authors in enumerate(author_lists):
        if days[item] != day:
            for done in pending:
                for key in {author_key(name) for name in author_lists[done]}:
                    tally = tallies.setdefault(key, np.zeros(labels + 1))
                    tally[:labels] += truth[done]
                    tally[labels] += 1
            pending, day = [], days[item]
        found = [tallies[key] for key in {author_key(name) for name in authors} if key in tallies]
        if found:
            out[item] = _author_row(np.vstack(found), labels)
        pending.append(item)
    return out


def inputs(scores: np.ndarray, authors: np.ndarray, label: int, cooccurrence: bool = True) -> np.ndarray:
    """The second stage's inputs for one label: its own score, every label's score, its author figures.

    Without ``cooccurrence`` the other labels' scores are zeros (so they get zero weight), as are the
    author figures of a model trained without authors.
    """
    labels = scores.shape[1]
    return np.hstack([scores[:, [label]], scores if cooccurrence else np.zeros_like(scores),
                      authors[:, [label, labels + label]], authors[:, -2:]])


def fit(scores: np.ndarray, authors: np.ndarray, truth: np.ndarray, folds: Sequence[np.ndarray],
        c: float = 1.0, cooccurrence: bool = True, jobs: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit each label's second stage; return (weights (labels, inputs), bias, out-of-fold decision values).

    ``scores`` are out-of-fold text scores; the out-of-fold values come from fits that did not see
    the fold, so thresholds set on them hold for new items. Labels are fitted in ``jobs`` worker
    processes (lbfgs holds the GIL; each label's fits are the same as in one process).
    """
    from joblib import Parallel, delayed

    labels = scores.shape[1]
    fitted = Parallel(n_jobs=jobs)(delayed(_fit_one)(scores, authors, truth[:, label], folds, label, c, cooccurrence)
                                   for label in range(labels))
    weights = np.vstack([coef for coef, _, _ in fitted])
    bias = np.array([intercept for _, intercept, _ in fitted])
    held_out = np.column_stack([column for _, _, column in fitted]) if labels else np.zeros_like(scores)
    return weights, bias, held_out


def _fit_one(scores: np.ndarray, authors: np.ndarray, y: np.ndarray, folds: Sequence[np.ndarray], label: int,
             c: float, cooccurrence: bool) -> tuple[np.ndarray, float, np.ndarray]:
    """One label's second stage: its coefficients, intercept and out-of-fold decision values."""
    from sklearn.linear_model import LogisticRegression

    x = inputs(scores, authors, label, cooccurrence)
    held_out = np.zeros(len(y))
    every = np.arange(len(y))
    for fold in folds:
        rest = np.setdiff1d(every, fold)
        if y[rest].any() and not y[rest].all():
            model = LogisticRegression(C=c, max_iter=300).fit(x[rest], y[rest])
            held_out[fold] = model.decision_function(x[fold])
        else:
            held_out[fold] = -20.0 if not y[rest].any() else 20.0
    model = LogisticRegression(C=c, max_iter=300).fit(x, y)
    return model.coef_[0], float(model.intercept_[0]), held_out
