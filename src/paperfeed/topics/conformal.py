"""Pure threshold choices for a multi-label scorer: inductive conformal calibration, F1 thresholds, Platt scaling.

All functions take decision scores of a held-out calibration set (items the model was not trained on)
and return per-label numbers; nothing here touches a model or a store.
"""

from __future__ import annotations

import math

import numpy as np


def conformal_threshold(positive_scores: np.ndarray, alpha: float) -> float:
    """Return the score at or above which a label is kept so that its true items are missed at most ``alpha``.

    Label-conditional (Mondrian) inductive conformal prediction with nonconformity ``-score``: with
    ``n`` calibration items that truly have the label, sorted by score, the threshold is the
    ``k = floor(alpha * (n + 1))``-th lowest. A new true item, exchangeable with them, scores below it
    with probability at most ``k / (n + 1) <= alpha``. With fewer than ``1/alpha - 1`` positives ``k`` is 0
    and no finite threshold keeps the guarantee: the result is ``-inf`` (keep the label always), and
    callers drop such labels instead (see ``min_calibration_positives``).
    """
    scores = np.sort(np.asarray(positive_scores, dtype=np.float64))
    k = math.floor(alpha * (len(scores) + 1))
    if k < 1:
        return float("-inf")
    return float(scores[k - 1])


def clustered_thresholds(probabilities: np.ndarray, truth: np.ndarray, alpha: float, *, min_positives: int = 200,
                         clusters: int = 3) -> np.ndarray:
    """Return per-label probability thresholds by clustered conformal prediction (Ding et al., NeurIPS 2023).

    A label with at least ``min_positives`` calibration positives gets its own (Mondrian) threshold; the
    rarer labels are grouped by k-means on the quantiles of their positives' probabilities, and each
    group shares the threshold of its pooled positives, so a label seen 30 times is not held to its own
    few, noisy lowest scores. Labels without a calibration positive share the threshold of all rare
    labels' positives. Coverage then holds per group of similar labels rather than per rare label.
    Probabilities must be on one scale across labels (calibrated per label, e.g. by ``platt``).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    truth = np.asarray(truth, dtype=bool)
    positives = truth.sum(axis=0)
    thresholds = np.full(truth.shape[1], float("-inf"))
    for label in np.flatnonzero(positives >= min_positives):
        thresholds[label] = conformal_threshold(probabilities[truth[:, label], label], alpha)
    rare = np.flatnonzero((positives < min_positives) & (positives > 0))
    if len(rare):
        pooled = np.concatenate([probabilities[truth[:, label], label] for label in rare])
        thresholds[positives == 0] = conformal_threshold(pooled, alpha)
        groups = np.zeros(len(rare), dtype=int)
        if len(rare) > clusters:
            from sklearn.cluster import KMeans

            profile = np.array([np.quantile(probabilities[truth[:, label], label], [0.1, 0.3, 0.5, 0.7, 0.9])
                                for label in rare])
            groups = KMeans(clusters, n_init=10, random_state=0).fit_predict(profile)
        for group in np.unique(groups):
            members = rare[groups == group]
            thresholds[members] = conformal_threshold(
                np.concatenate([probabilities[truth[:, label], label] for label in members]), alpha)
    return thresholds


def recent_labelwise_thresholds(probabilities: np.ndarray, truth: np.ndarray, recent: np.ndarray, alpha: float, *,
                                min_positives: int = 50) -> np.ndarray:
    """Return per-label thresholds from each label's positives in the ``recent`` rows; NaN: no coverage claim.

    Label-wise (Mondrian) conformal thresholds calibrated on the newest rows only (drift). A label with
    fewer than ``min_positives`` positives there gets NaN: too few lately to support a label-wise coverage
    claim. Callers give such labels a precision-based cut and say that they carry no claim. Holding them
    to 1 - alpha anyway (pooled as ``clustered_thresholds`` does, or on their older positives) let their
    poor scores fill every set: on the category bench's development split, 13.3 or 9.7 labels a paper
    instead of 4.9 (docs/benchmarks.md).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    truth = np.asarray(truth, dtype=bool)
    recent = np.asarray(recent, dtype=bool)
    thresholds = np.full(truth.shape[1], np.nan)
    for label in range(truth.shape[1]):
        positives = recent & truth[:, label]
        if positives.sum() >= max(min_positives, min_calibration_positives(alpha)):
            thresholds[label] = conformal_threshold(probabilities[positives, label], alpha)
    return thresholds


def min_calibration_positives(alpha: float) -> int:
    """Return the fewest calibration positives with which ``conformal_threshold`` is finite at ``alpha``."""
    return max(1, math.ceil(1 / alpha - 1 - 1e-9))


def conformal_p_value(positive_scores: np.ndarray, score: float) -> float:
    """Return the share (with the +1 correction) of calibration positives scoring at or below ``score``."""
    scores = np.asarray(positive_scores)
    return float((np.count_nonzero(scores <= score) + 1) / (len(scores) + 1))


def platt(scores: np.ndarray, truth: np.ndarray, iterations: int = 100) -> tuple[float, float]:
    """Fit ``P(label | score) = sigmoid(a * score + b)`` on calibration scores; return ``(a, b)``.

    Platt's method with his smoothed targets, so that a label seen only a few times does not get 0/1
    probabilities, minimized by Newton's method with step halving (Lin, Lin and Weng 2007): two
    parameters need no general-purpose optimizer.
    """
    scores = np.asarray(scores, dtype=np.float64)
    truth = np.asarray(truth, dtype=bool)
    positives, negatives = int(truth.sum()), int((~truth).sum())
    if positives == 0 or negatives == 0:
        return 0.0, (8.0 if positives else -8.0)
    target = np.where(truth, (positives + 1) / (positives + 2), 1 / (negatives + 2))

    def loss(a: float, b: float) -> float:
        z = a * scores + b
        return float(np.sum(target * np.logaddexp(0, -z) + (1 - target) * np.logaddexp(0, z)))

    a, b = 0.0, float(np.log((positives + 1) / (negatives + 1)))
    current = loss(a, b)
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(a * scores + b)))
        gradient = np.array([np.sum((p - target) * scores), np.sum(p - target)])
        if np.abs(gradient).max() < 1e-6:
            break
        w = p * (1 - p)
        hessian = np.array([[np.sum(w * scores * scores), np.sum(w * scores)], [np.sum(w * scores), np.sum(w)]])
        step = np.linalg.solve(hessian + 1e-12 * np.eye(2), gradient)
        size = 1.0
        while size > 1e-10:
            trial = loss(a - size * step[0], b - size * step[1])
            if trial < current + 1e-4 * size * float(gradient @ -step):
                break
            size /= 2
        else:
            break
        a, b, current = a - size * step[0], b - size * step[1], trial
    return float(a), float(b)


def tune_thresholds(probabilities: np.ndarray, truth: np.ndarray, macro_weight: float = 0.25,
                    grid_size: int = 64, rounds: int = 2) -> np.ndarray:
    """Return per-label probability cut-offs that maximize micro F1 + ``macro_weight`` x macro F1 on calibration data.

    Micro F1 alone is maximized by one shared probability cut (about half the best F1 reachable), which
    starves rare labels; macro F1 alone lowers rare labels' cuts until frequent ones flood. So the search
    starts from the best shared cut and then, by coordinate ascent, moves one label's cut at a time over
    the quantiles of its positives' probabilities, with the other labels' counts fixed: O(grid) per step.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    truth = np.asarray(truth, dtype=bool)
    labels = probabilities.shape[1]
    shared = np.linspace(0.05, 0.95, 19)
    grids, tps, fps, fns = [], [], [], []
    for j in range(labels):
        column, positive = probabilities[:, j], truth[:, j]
        grid = np.quantile(column[positive], np.linspace(0.0, 1.0, grid_size)) if positive.any() else []
        # Shared cuts are candidates too, and "never" (inf): a label may be better left out.
        grid = np.unique(np.concatenate([grid, shared, [np.inf]]))
        ordered, ordered_pos = np.sort(column), np.sort(column[positive])
        predicted = len(column) - np.searchsorted(ordered, grid, side="left")
        tp = len(ordered_pos) - np.searchsorted(ordered_pos, grid, side="left")
        grids.append(grid)
        tps.append(tp)
        fps.append(predicted - tp)
        fns.append(len(ordered_pos) - tp)
    present = [j for j in range(labels) if truth[:, j].any()]
    if not present:
        return np.full(labels, 0.5)

    def micro_at(choice: list[int]) -> float:
        tp = sum(tps[j][choice[j]] for j in range(labels))
        errors = sum(fps[j][choice[j]] + fns[j][choice[j]] for j in range(labels))
        return 2 * tp / max(1, 2 * tp + errors)

    starts = [[int(np.searchsorted(grids[j], cut)) for j in range(labels)] for cut in shared]
    choice = starts[_middle_of_best(np.array([micro_at(start) for start in starts]))]
    for _ in range(rounds):
        for j in present:
            others = [i for i in range(labels) if i != j]
            tp_rest = sum(tps[i][choice[i]] for i in others)
            errors_rest = sum(fps[i][choice[i]] + fns[i][choice[i]] for i in others)
            f1_rest = sum(_f1(tps[i][choice[i]], fps[i][choice[i]], fns[i][choice[i]]) for i in present if i != j)
            tp, fp, fn = tps[j], fps[j], fns[j]
            micro = 2 * (tp_rest + tp) / np.maximum(1, 2 * (tp_rest + tp) + errors_rest + fp + fn)
            macro = (f1_rest + 2 * tp / np.maximum(1, 2 * tp + fp + fn)) / len(present)
            choice[j] = _middle_of_best(micro + macro_weight * macro)
    return np.array([grids[j][choice[j]] for j in range(labels)])


def cutoff_precision(probabilities: np.ndarray, truth: np.ndarray, cut: float) -> tuple[float, float | None]:
    """Return a label's cut-off as a confidence in [0, 1] and its precision on calibration data (None: nothing above).

    A cut of ``inf`` (the label is better never predicted) becomes 1: only items the model is sure of.
    """
    cut = min(1.0, max(0.0, float(cut)))
    above = np.asarray(probabilities) >= cut
    if not above.any():
        return round(cut, 4), None
    return round(cut, 4), round(float(np.asarray(truth, dtype=bool)[above].mean()), 4)


def _middle_of_best(values: np.ndarray) -> int:
    """Index of the best value; among ties the middle one, so a cut lands between classes, not on an edge."""
    best = np.flatnonzero(values >= values.max() - 1e-12)
    return int(best[len(best) // 2])


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
