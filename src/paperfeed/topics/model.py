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

from . import conformal, stacking

NGRAMS = (1, 2)
TRADE_OFF_ALPHAS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
"""Miss rates whose conformal thresholds are kept in a model's meta (``conformal_by_alpha``)."""
COVERAGE_MIN_POSITIVES = 50
"""A category model's label makes a conformal coverage claim only with this many positives in the newest block."""
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
    stack_weights: np.ndarray | None = None
    """(labels, inputs) second-stage coefficients over every label's text score and author priors (``stacking``);
    None: the text scores are the model's scores."""
    stack_bias: np.ndarray | None = None
    authors: stacking.AuthorPriors | None = None
    _vectorizer: Any = field(default=None, repr=False, compare=False)

    # -- use --------------------------------------------------------------------------------

    def vectorize(self, texts: Sequence[str]):
        """Return the L2-normalized, sublinear TF-IDF rows of ``texts`` over the model's vocabulary."""
        if self._vectorizer is None:
            from sklearn.feature_extraction.text import CountVectorizer

            self._vectorizer = CountVectorizer(vocabulary={term: i for i, term in enumerate(self.terms)},
                                               ngram_range=NGRAMS, token_pattern=TOKEN_PATTERN, dtype=np.float32)
        return _tfidf(self._vectorizer.transform(texts), self.idf)

    def scores(self, texts: Sequence[str], authors: Sequence[Sequence[str] | None] | None = None) -> np.ndarray:
        """Return (texts, labels) decision scores; ``authors`` (one name list per text) feed a stacked model."""
        if not len(texts):
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self.scores_of(self.vectorize(texts), authors)

    def scores_of(self, features, authors: Sequence[Sequence[str] | None] | None = None) -> np.ndarray:
        """Return decision scores of rows already vectorized over this model's vocabulary."""
        text = np.asarray(features @ self.weights.T) + self.bias
        if self.stack_weights is None or self.authors is None:
            return text
        priors = self.authors.features(authors if authors is not None else [None] * text.shape[0], len(self.labels))
        return stacked_scores(text, priors, self.stack_weights, self.stack_bias)

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
            **({} if self.stack_weights is None or self.authors is None else {
                "stack_weights": self.stack_weights.astype(np.float64),
                "stack_bias": self.stack_bias.astype(np.float64),
                "author_names": np.frombuffer("\n".join(self.authors.names).encode(), dtype=np.uint8),
                "author_indptr": self.authors.counts.indptr.astype(np.int64),
                "author_indices": self.authors.counts.indices.astype(np.int32),
                "author_data": self.authors.counts.data.astype(np.float32)}),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, meta: dict[str, Any] | None = None) -> "LabelModel":
        """Load a model saved by ``to_bytes``; object arrays are refused."""
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            text = lambda name: arrays[name].tobytes().decode()  # noqa: E731
            labels = text("labels").split("\n") if arrays["labels"].size else []
            model = cls(labels=labels, terms=text("terms").split("\n"), idf=arrays["idf"],
                        weights=arrays["weights"], bias=arrays["bias"], conformal=arrays["conformal"],
                        decide=arrays["decide"], platt_a=arrays["platt_a"], platt_b=arrays["platt_b"],
                        alpha=float(arrays["alpha"][0]), meta=dict(meta or {}))
            if "stack_weights" in arrays.files:
                from scipy import sparse

                names = text("author_names").split("\n") if arrays["author_names"].size else []
                counts = sparse.csr_matrix((arrays["author_data"], arrays["author_indices"], arrays["author_indptr"]),
                                           shape=(len(names), len(labels) + 1))
                model.stack_weights, model.stack_bias = arrays["stack_weights"], arrays["stack_bias"]
                model.authors = stacking.AuthorPriors(names=names, counts=counts)
            return model


def stacked_scores(text: np.ndarray, priors: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Second-stage decision values: ``stacking.inputs`` times each label's weights, for all labels at once."""
    labels = text.shape[1]
    return (text * weights[:, 0] + text @ weights[:, 1:1 + labels].T + priors[:, :labels] * weights[:, 1 + labels]
            + priors[:, labels:2 * labels] * weights[:, 2 + labels] + priors[:, -2:] @ weights[:, -2:].T + bias)


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
    rows = np.arange(features.matrix.shape[0]) if rows is None else np.asarray(rows)
    matrix, calibration = features.matrix[rows], features.calibration[rows]
    truth = _truth(labels, label_names, len(rows))
    fit_rows, cal_rows = np.flatnonzero(~calibration), np.flatnonzero(calibration)
    need = conformal.min_calibration_positives(alpha)
    keep = [j for j in range(len(label_names))
            if truth[fit_rows, j].sum() >= 2 and truth[cal_rows, j].sum() >= need]
    if not keep:
        raise ValueError("not enough labelled items to train: "
                         f"need, per label, 2 to fit and {need} to calibrate at alpha={alpha}")
    dropped = [label_names[j] for j in range(len(label_names)) if j not in set(keep)]
    weights, bias = _fit_labels(matrix[fit_rows], truth[fit_rows][:, keep], c, jobs)

    model = LabelModel(labels=[label_names[j] for j in keep], terms=features.terms, idf=features.idf,
                       weights=weights, bias=bias, conformal=np.zeros(len(keep)), decide=np.zeros(len(keep)),
                       platt_a=np.ones(len(keep)), platt_b=np.zeros(len(keep)), alpha=alpha)
    cal_scores = np.asarray(matrix[cal_rows] @ weights.T) + bias
    _calibrate(model, cal_scores, truth[cal_rows][:, keep], alpha)
    model.meta.update({
        "alpha": alpha, "dropped": dropped, "training_items": int(len(fit_rows)),
        "calibration_items": int(len(cal_rows)), "terms": len(features.terms),
        "positives": {label_names[j]: int(truth[:, j].sum()) for j in keep},
        "calibration_positives": {label_names[j]: int(truth[cal_rows, j].sum()) for j in keep},
    })
    return model


@dataclass
class CrossFit:
    """The text half of ``train_stacked``: labels kept, their truth, out-of-fold scores and the final fit."""

    keep: list[int]
    truth: np.ndarray
    blocks: list[np.ndarray]
    held_out: np.ndarray
    weights: np.ndarray
    bias: np.ndarray


def _truth(labels: Sequence[Sequence[str]], label_names: Sequence[str], count: int) -> np.ndarray:
    """A (rows, labels) boolean matrix: row i carries label j; names outside ``label_names`` are ignored."""
    index = {name: j for j, name in enumerate(label_names)}
    truth = np.zeros((count, len(label_names)), dtype=bool)
    for row, names in enumerate(labels):
        for name in names:
            if name in index:
                truth[row, index[name]] = True
    return truth


def cross_fit_text(features: Features, labels: Sequence[Sequence[str]], label_names: Sequence[str], alpha: float, *,
                   rows: np.ndarray, folds: int = 4, c: float = 0.5, jobs: int = 2) -> CrossFit:
    """Score every row with a text model fitted on the other ``folds - 1`` contiguous blocks; keep their mean."""
    rows = np.asarray(rows)
    matrix = features.matrix[rows]
    truth = _truth(labels, label_names, len(rows))
    need = max(2, conformal.min_calibration_positives(alpha))
    keep = [j for j in range(len(label_names)) if need <= truth[:, j].sum() < len(rows)]
    if not keep or len(rows) < 2 * folds:
        raise ValueError(f"not enough labelled items to train: need, per label, {need} at alpha={alpha}")
    truth = truth[:, keep]
    blocks = np.array_split(np.arange(len(rows)), folds)
    held_out = np.full(truth.shape, -10.0)
    # The model kept is the mean of the fold models (a linear model too), not a refit on all rows: its
    # scores then have the scale of the out-of-fold scores that the second stage and thresholds learn from.
    weights = np.zeros((len(keep), len(features.terms)), dtype=np.float64)
    bias, fitted = np.zeros(len(keep)), np.zeros(len(keep))
    for block in blocks:
        rest = np.setdiff1d(np.arange(len(rows)), block)
        fit = [j for j in range(len(keep)) if truth[rest, j].any()]
        fold_weights, fold_bias = _fit_labels(matrix[rest], truth[rest][:, fit], c, jobs)
        held_out[np.ix_(block, fit)] = np.asarray(matrix[block] @ fold_weights.T) + fold_bias
        weights[fit] += fold_weights
        bias[fit] += fold_bias
        fitted[fit] += 1
    weights = (weights / fitted[:, None]).astype(np.float32)
    bias = bias / fitted
    return CrossFit(keep=keep, truth=truth, blocks=blocks, held_out=held_out, weights=weights, bias=bias)


def train_stacked(features: Features, labels: Sequence[Sequence[str]], label_names: Sequence[str], alpha: float, *,
                  rows: np.ndarray, authors: Sequence[Sequence[str]], days: Sequence[str], folds: int = 4,
                  c: float = 0.5, jobs: int = 2, use_cooccurrence: bool = True, use_authors: bool = True,
                  text: CrossFit | None = None) -> LabelModel:
    """Fit the text model and its second stage (``stacking``) on time-ordered rows, by cross-fitting.

    Every row is scored by a text model fitted on the other ``folds - 1`` contiguous blocks of time, so
    the second stage, Platt scaling and the F1 cut-offs are set on scores of items their models never
    saw, over every labelled item; the conformal thresholds on the newest block's (scored by a model
    of strictly earlier days, as new items are), label-wise where the block holds enough positives.
    The text model kept is the mean of the fold models. ``use_cooccurrence`` (every label's score as
    input) and the calibration were chosen on a development split inside the training days
    (docs/benchmarks.md, "Topics and category prediction").
    ``text`` reuses a ``cross_fit_text`` result (the bench's ablation).
    """
    text = text or cross_fit_text(features, labels, label_names, alpha, rows=rows, folds=folds, c=c, jobs=jobs)
    keep, truth = text.keep, text.truth
    priors = stacking.online_author_features(authors, days, truth)
    if not use_authors:
        priors[:] = 0.0
    stack_weights, stack_bias, scores = stacking.fit(text.held_out, priors, truth, text.blocks,
                                                     cooccurrence=use_cooccurrence)
    model = LabelModel(labels=[label_names[j] for j in keep], terms=features.terms, idf=features.idf,
                       weights=text.weights, bias=text.bias, conformal=np.zeros(len(keep)),
                       decide=np.zeros(len(keep)), platt_a=np.ones(len(keep)), platt_b=np.zeros(len(keep)),
                       alpha=alpha, stack_weights=stack_weights, stack_bias=stack_bias,
                       authors=stacking.AuthorPriors.from_truth(authors if use_authors else [()] * len(truth), truth))
    # Categories: conformal sets calibrated on the newest block (drift), F1 cut-offs for micro F1 alone;
    # both chosen on a development split inside the training days (docs/benchmarks.md).
    _calibrate(model, scores, truth, alpha, recent=text.blocks[-1], macro_weight=0.0)
    model.meta.update({
        "alpha": alpha, "dropped": [label_names[j] for j in range(len(label_names)) if j not in set(keep)],
        "training_items": int(len(truth)), "calibration_items": int(len(truth)), "folds": len(text.blocks),
        "terms": len(features.terms), "authors": len(model.authors.names),
        "positives": {label_names[j]: int(truth[:, row].sum()) for row, j in enumerate(keep)},
    })
    return model


def _calibrate(model: LabelModel, scores: np.ndarray, truth: np.ndarray, alpha: float, *,
               recent: np.ndarray | None = None, macro_weight: float = 0.25) -> None:
    """Set conformal thresholds, Platt scaling, F1 cut-offs and the topic cut-offs from held-out scores.

    Without ``recent``, conformal thresholds are label-wise (Mondrian) on all rows. With ``recent`` (row
    indices of the newest held-out scores), each label's threshold comes from its positives in those rows
    (``conformal.recent_labelwise_thresholds``); a label with fewer than ``COVERAGE_MIN_POSITIVES`` there
    makes no coverage claim: it enters a set at its F1 cut-off (a precision-based cut) and is listed in
    ``meta["no_coverage_claim"]``. Chosen on the category bench's development split (docs/benchmarks.md):
    the clustered thresholds it replaced gave rare labels pooled, low thresholds, 7.7 of 13.3 labels a set.
    """
    for row in range(len(model.labels)):
        model.platt_a[row], model.platt_b[row] = conformal.platt(scores[:, row], truth[:, row])
    probabilities = model.probabilities(scores)
    model.decide = conformal.tune_thresholds(probabilities, truth, macro_weight=macro_weight)
    model.meta["cutoffs"] = {name: list(conformal.cutoff_precision(probabilities[:, row], truth[:, row],
                                                                   model.decide[row]))
                             for row, name in enumerate(model.labels)}
    if recent is not None:
        newest = np.zeros(len(truth), dtype=bool)
        newest[recent] = True
        claimed = np.isfinite(conformal.recent_labelwise_thresholds(probabilities, truth, newest, alpha,
                                                                    min_positives=COVERAGE_MIN_POSITIVES))
        model.meta["no_coverage_claim"] = [name for name, kept in zip(model.labels, claimed) if not kept]

    def thresholds(level: float) -> np.ndarray:
        if recent is None:
            return np.array([conformal.conformal_threshold(scores[truth[:, row], row], level)
                             for row in range(len(model.labels))])
        cuts = conformal.recent_labelwise_thresholds(probabilities, truth, newest, level,
                                                     min_positives=COVERAGE_MIN_POSITIVES)
        return _score_of_probability(model, np.where(np.isnan(cuts), model.decide, cuts))

    model.conformal = thresholds(alpha)
    # The same thresholds at other levels (a few numbers per label), so a bench can draw set size
    # against coverage on later days without the calibration scores.
    model.meta["conformal_by_alpha"] = {f"{level:g}": [_finite(value) for value in thresholds(level)]
                                        for level in TRADE_OFF_ALPHAS}


def _score_of_probability(model: LabelModel, probabilities: np.ndarray) -> np.ndarray:
    """Invert Platt scaling per label: the decision score whose calibrated probability is ``probabilities``."""
    clipped = np.clip(probabilities, 1e-12, 1 - 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = (np.log(clipped / (1 - clipped)) - model.platt_b) / model.platt_a
    # A flat Platt fit (a <= 0: the label's scores say nothing) keeps the label always; so does "-inf";
    # "inf" (an F1 cut-off that never predicts the label) keeps it never.
    kept = np.where((model.platt_a > 0) & np.isfinite(probabilities), scores, -np.inf)
    return np.where(np.isposinf(probabilities), np.inf, kept)


NEVER_SCORE = 1e300
"""Stands for an infinite threshold (the label never enters a set) in JSON, which has no infinities."""


def _finite(value: float) -> float | None:
    """JSON has no infinities: None stands for "keep the label always", ``NEVER_SCORE`` for "never"."""
    if np.isposinf(value):
        return NEVER_SCORE
    return None if not np.isfinite(value) else round(float(value), 6)


def _fit_labels(matrix, truth: np.ndarray, c: float, jobs: int) -> tuple[np.ndarray, np.ndarray]:
    """Fit one linear classifier per truth column; return (weights, bias).

    liblinear releases the GIL, so threads fit labels in parallel without copying the matrix.
    """
    from joblib import Parallel, delayed

    fitted = Parallel(n_jobs=jobs, prefer="threads")(
        delayed(_fit_label)(matrix, truth[:, j], c) for j in range(truth.shape[1]))
    return (np.vstack([coef for coef, _ in fitted]).astype(np.float32),
            np.array([intercept for _, intercept in fitted]))


def _fit_label(matrix, target: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    """Fit one label's linear SVM; return its weights and intercept."""
    from sklearn.svm import LinearSVC

    # A linear SVM (liblinear's dual solver) fits sparse text several times faster than logistic
    # regression at the same F1 on the listings; Platt scaling turns its margins into probabilities.
    classifier = LinearSVC(C=c, dual=True, max_iter=2000).fit(matrix, target)
    return classifier.coef_[0], float(classifier.intercept_[0])
