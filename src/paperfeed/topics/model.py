"""A multi-label text model: TF-IDF features, one linear classifier per label, conformal and decision thresholds.

The same machinery tags topics (labels from the taxonomy's weak rules) and predicts arXiv categories
(labels from the store's own categories). Persistence is a numpy ``.npz`` of plain arrays, loaded with
``allow_pickle=False``: a model read from a store cannot execute code, unlike a pickled scikit-learn
estimator. Transforming text therefore uses our own TF-IDF step over a fixed vocabulary rather than a
fitted ``TfidfVectorizer``, so the saved arrays are the whole model.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from . import conformal

NGRAMS = (1, 2)
TOKEN_PATTERN = r"(?u)\b\w\w+\b"


def document(title: str, abstract: str) -> str:
    """Return the text a model reads for an item: the title twice (it is dense with topic words), then the abstract."""
    return f"{title}\n{title}\n{abstract}"


@dataclass
class LabelModel:
    """A trained multi-label model; every field is a plain array or JSON-able value."""

    labels: list[str]
    terms: list[str]
    idf: np.ndarray
    weights: np.ndarray
    """(labels, terms) float32 coefficients."""
    bias: np.ndarray
    conformal: np.ndarray
    """Per label, the decision score at or above which the label is in the conformal set at ``alpha``."""
    decide: np.ndarray
    """Per label, the calibrated probability at or above which the label is predicted (F1-tuned)."""
    platt_a: np.ndarray
    platt_b: np.ndarray
    alpha: float
    meta: dict[str, Any] = field(default_factory=dict)
    _vectorizer: Any = field(default=None, repr=False, compare=False)

    # -- use --------------------------------------------------------------------------------

    def vectorize(self, texts: Sequence[str]):
        """Return the L2-normalized, sublinear TF-IDF rows of ``texts`` over the model's vocabulary."""
        if self._vectorizer is None:
            from sklearn.feature_extraction.text import CountVectorizer

            self._vectorizer = CountVectorizer(vocabulary={term: i for i, term in enumerate(self.terms)},
                                               ngram_range=NGRAMS, token_pattern=TOKEN_PATTERN, dtype=np.float32)
        return _tfidf(self._vectorizer.transform(texts), self.idf)

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Return (texts, labels) decision scores."""
        if not len(texts):
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self.scores_of(self.vectorize(texts))

    def scores_of(self, features) -> np.ndarray:
        """Return decision scores of rows already vectorized over this model's vocabulary."""
        return np.asarray(features @ self.weights.T) + self.bias

    def same_vocabulary(self, other: "LabelModel") -> bool:
        """Say whether another model reads the same features (same terms and IDF), so rows can be shared."""
        return (self.terms is other.terms
                or (len(self.terms) == len(other.terms) and np.array_equal(self.idf, other.idf)
                    and self.terms == other.terms))

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Return calibrated probabilities (Platt scaling fitted on the calibration set) of decision scores."""
        return 1.0 / (1.0 + np.exp(-(scores * self.platt_a + self.platt_b)))

    def conformal_sets(self, scores: np.ndarray) -> np.ndarray:
        """Return a boolean (items, labels) mask: the labels each item's conformal set holds."""
        return scores >= self.conformal

    def predict(self, scores: np.ndarray, at_least_one: bool = True) -> np.ndarray:
        """Return a boolean (items, labels) mask of point predictions; ``at_least_one`` keeps each item's best label."""
        probabilities = self.probabilities(scores)
        predicted = probabilities >= self.decide
        if at_least_one and scores.shape[0] and scores.shape[1]:
            empty = ~predicted.any(axis=1)
            margin = probabilities - self.decide
            predicted[np.flatnonzero(empty), margin[empty].argmax(axis=1)] = True
        return predicted

    # -- persistence ------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Serialize to ``.npz`` bytes of plain arrays (no pickled objects)."""
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            labels=np.frombuffer("\n".join(self.labels).encode(), dtype=np.uint8),
            terms=np.frombuffer("\n".join(self.terms).encode(), dtype=np.uint8),
            idf=self.idf.astype(np.float32), weights=self.weights.astype(np.float32),
            bias=self.bias.astype(np.float64), conformal=self.conformal.astype(np.float64),
            decide=self.decide.astype(np.float64), platt_a=self.platt_a.astype(np.float64),
            platt_b=self.platt_b.astype(np.float64), alpha=np.array([self.alpha]),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, meta: dict[str, Any] | None = None) -> "LabelModel":
        """Load a model saved by ``to_bytes``; object arrays are refused."""
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            text = lambda name: arrays[name].tobytes().decode()  # noqa: E731
            labels = text("labels").split("\n") if arrays["labels"].size else []
            return cls(labels=labels, terms=text("terms").split("\n"), idf=arrays["idf"],
                       weights=arrays["weights"], bias=arrays["bias"], conformal=arrays["conformal"],
                       decide=arrays["decide"], platt_a=arrays["platt_a"], platt_b=arrays["platt_b"],
                       alpha=float(arrays["alpha"][0]), meta=dict(meta or {}))


def _tfidf(counts, idf: np.ndarray):
    """Sublinear TF (1 + log tf) times IDF, rows L2-normalized, as scikit-learn's TfidfTransformer does."""
    from sklearn.preprocessing import normalize

    counts = counts.tocsr().astype(np.float32)
    np.log(counts.data, out=counts.data)
    counts.data += 1.0
    counts = counts.multiply(idf.reshape(1, -1)).tocsr()
    return normalize(counts, copy=False)


@dataclass
class Features:
    """TF-IDF rows of a corpus, the vocabulary and IDF learned from its proper-training part, and the split."""

    terms: list[str]
    idf: np.ndarray
    matrix: Any
    """CSR, one row per document, in the order given."""
    calibration: np.ndarray
    """Boolean mask: True for documents held out to calibrate (never fitted, not in the vocabulary)."""


def featurize(texts: Sequence[str], calibration: np.ndarray, *, max_features: int = 150_000,
              min_df: int = 2) -> Features:
    """Learn the vocabulary and IDF from the non-calibration texts and return TF-IDF rows for all of them.

    Computed once and shared by the topic and category models, since tokenizing is most of training's cost.
    """
    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer

    calibration = np.asarray(calibration, dtype=bool)
    fit_rows, cal_rows = np.flatnonzero(~calibration), np.flatnonzero(calibration)
    if not len(fit_rows):
        raise ValueError("not enough items to train on")
    counter = CountVectorizer(ngram_range=NGRAMS, token_pattern=TOKEN_PATTERN, min_df=min_df, max_df=0.5,
                              max_features=max_features, dtype=np.float32)
    try:
        fit_counts = counter.fit_transform([texts[i] for i in fit_rows])
    except ValueError:  # scikit-learn's "empty vocabulary" / "no terms remain" on tiny corpora
        counter.set_params(min_df=1, max_df=1.0)
        fit_counts = counter.fit_transform([texts[i] for i in fit_rows])
    terms = [""] * len(counter.vocabulary_)
    for term, column in counter.vocabulary_.items():
        terms[column] = term
    document_frequency = np.bincount(fit_counts.indices, minlength=len(terms))
    idf = (np.log((1 + len(fit_rows)) / (1 + document_frequency)) + 1).astype(np.float32)
    counts = sparse.vstack([fit_counts, counter.transform([texts[i] for i in cal_rows])]).tocsr()
    order = np.empty(len(texts), dtype=np.int64)
    order[np.concatenate([fit_rows, cal_rows])] = np.arange(len(texts))
    return Features(terms=terms, idf=idf, matrix=_tfidf(counts[order], idf), calibration=calibration)


def train(features: Features, labels: Sequence[Sequence[str]], label_names: Sequence[str], alpha: float, *,
          rows: np.ndarray | None = None, c: float = 0.5, jobs: int = 2) -> LabelModel:
    """Fit one linear classifier per label on the proper-training rows; calibrate thresholds on the held-out ones.

    ``labels`` holds each row's label names (``rows`` picks a subset of the feature rows, in the same
    order). Labels with fewer calibration positives than ``conformal.min_calibration_positives(alpha)``
    or fewer than two training positives are dropped (listed in ``meta["dropped"]``): no finite
    conformal threshold exists for them.
    """
    from joblib import Parallel, delayed

    rows = np.arange(features.matrix.shape[0]) if rows is None else np.asarray(rows)
    matrix, calibration = features.matrix[rows], features.calibration[rows]
    index = {name: j for j, name in enumerate(label_names)}
    truth = np.zeros((len(rows), len(label_names)), dtype=bool)
    for row, names in enumerate(labels):
        for name in names:
            if name in index:
                truth[row, index[name]] = True
    fit_rows, cal_rows = np.flatnonzero(~calibration), np.flatnonzero(calibration)
    need = conformal.min_calibration_positives(alpha)
    keep = [j for j in range(len(label_names))
            if truth[fit_rows, j].sum() >= 2 and truth[cal_rows, j].sum() >= need]
    if not keep:
        raise ValueError("not enough labelled items to train: "
                         f"need, per label, 2 to fit and {need} to calibrate at alpha={alpha}")
    dropped = [label_names[j] for j in range(len(label_names)) if j not in set(keep)]
    fit_matrix = matrix[fit_rows]
    # liblinear releases the GIL, so threads fit labels in parallel without copying the matrix.
    fitted = Parallel(n_jobs=jobs, prefer="threads")(
        delayed(_fit_label)(fit_matrix, truth[fit_rows, j], c) for j in keep)
    weights = np.vstack([coef for coef, _ in fitted]).astype(np.float32)
    bias = np.array([intercept for _, intercept in fitted])

    model = LabelModel(labels=[label_names[j] for j in keep], terms=features.terms, idf=features.idf,
                       weights=weights, bias=bias, conformal=np.zeros(len(keep)), decide=np.zeros(len(keep)),
                       platt_a=np.ones(len(keep)), platt_b=np.zeros(len(keep)), alpha=alpha)
    cal_scores = np.asarray(matrix[cal_rows] @ weights.T) + bias
    cal_truth = truth[cal_rows][:, keep]
    for row in range(len(keep)):
        model.conformal[row] = conformal.conformal_threshold(cal_scores[cal_truth[:, row], row], alpha)
        model.platt_a[row], model.platt_b[row] = conformal.platt(cal_scores[:, row], cal_truth[:, row])
    cal_probabilities = model.probabilities(cal_scores)
    model.decide = conformal.tune_thresholds(cal_probabilities, cal_truth)
    model.meta = {
        "alpha": alpha, "dropped": dropped, "training_items": int(len(fit_rows)),
        "calibration_items": int(len(cal_rows)), "terms": len(features.terms),
        "positives": {label_names[j]: int(truth[:, j].sum()) for j in keep},
        "calibration_positives": {label_names[j]: int(truth[cal_rows, j].sum()) for j in keep},
        "cutoffs": {name: list(conformal.cutoff_precision(cal_probabilities[:, row], cal_truth[:, row],
                                                          model.decide[row]))
                    for row, name in enumerate(model.labels)},
    }
    return model


def _fit_label(matrix, target: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    """Fit one label's linear SVM; return its weights and intercept."""
    from sklearn.svm import LinearSVC

    # A linear SVM (liblinear's dual solver) fits sparse text several times faster than logistic
    # regression at the same F1 on the listings; Platt scaling turns its margins into probabilities.
    classifier = LinearSVC(C=c, dual=True, max_iter=2000).fit(matrix, target)
    return classifier.coef_[0], float(classifier.intercept_[0])
