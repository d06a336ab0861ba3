"""The variants ``bench/topics_dev.py`` measures on its cached text stage (see that file). Each prints one row."""

from __future__ import annotations

import time

import numpy as np

from paperfeed.topics import conformal, stacking
from paperfeed.topics.model import stacked_scores


def _f1(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float]:
    tp = (truth & predicted).sum(axis=0)
    fp = (~truth & predicted).sum(axis=0)
    fn = (truth & ~predicted).sum(axis=0)
    present = truth.sum(axis=0) > 0
    f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros(len(tp)), where=(2 * tp + fp + fn) > 0)
    return float(2 * tp.sum() / max(1, 2 * tp.sum() + fp.sum() + fn.sum())), float(f1[present].mean())


def point_predictions(probabilities: np.ndarray, decide: np.ndarray) -> np.ndarray:
    predicted = probabilities >= decide
    empty = ~predicted.any(axis=1)
    predicted[np.flatnonzero(empty), (probabilities - decide)[empty].argmax(axis=1)] = True
    return predicted


def row(name: str, data: dict, probabilities: np.ndarray, decide: np.ndarray, sets: np.ndarray, alpha: float,
        show_labels: bool = False) -> dict:
    """Print one row: F1 on labels with >= 50 training papers, coverage on labels with >= 50 evaluation papers."""
    truth = data["eval_truth"]
    scored = data["train_papers"] >= 50
    micro, macro = _f1(truth[:, scored], point_predictions(probabilities, decide)[:, scored])
    big = np.flatnonzero(truth.sum(axis=0) >= 50)
    coverage = {int(j): float(sets[truth[:, j], j].mean()) for j in big}
    below = [data["labels"][j] for j, value in coverage.items() if value < 1 - alpha - 0.02]
    sizes = sets.sum(axis=1)
    frequent_size = sets[:, big].sum(axis=1).mean()
    worst = min(coverage, key=coverage.get)
    print(f"{name:58} {micro:.4f} {macro:.4f}  min cov {coverage[worst]:.3f} ({data['labels'][worst]:8}) "
          f"below {len(below):2}  set {sizes.mean():5.2f} (>=50: {frequent_size:4.2f})  "
          f"single {np.mean(sizes == 1):.3f}"
          f"  empty {np.mean(sizes == 0):.3f}", flush=True)
    if show_labels:
        print("    " + ", ".join(f"{data['labels'][j]} {coverage[j]:.3f}/{truth[:, j].sum()}" for j in big))
    return {"micro": micro, "macro": macro, "min_coverage": coverage[worst], "below": below,
            "mean_set": float(sizes.mean()), "singletons": float(np.mean(sizes == 1))}


def second_stage(data: dict, cooccurrence: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The shipped second stage (``stacking.fit``): out-of-fold training scores and evaluation scores."""
    folds = [np.flatnonzero(data["block_of"] == b) for b in range(data["block_of"].max() + 1)]
    weights, bias, held_out = stacking.fit(data["held_out"], data["priors"], data["truth"], folds,
                                           cooccurrence=cooccurrence)
    return held_out, stacked_scores(data["eval_text"], data["eval_priors"], weights, bias)


def platt_all(scores: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pairs = [conformal.platt(scores[:, j], truth[:, j]) for j in range(truth.shape[1])]
    return np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])


def probability(scores: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(scores * a + b)))


def cached(work, name: str, compute) -> tuple[np.ndarray, np.ndarray]:
    """A second stage's (training out-of-fold, evaluation) scores, computed once into ``work``."""
    path = work / f"{name}.npz"
    if path.is_file():
        with np.load(path) as saved:
            return saved["train"], saved["eval"]
    started = time.perf_counter()
    train, evaluation = compute()
    print(f"[{name} computed in {time.perf_counter() - started:.0f} s]", flush=True)
    np.savez(path, train=train, eval=evaluation)
    return train, evaluation


def calibrations(name: str, data: dict, train_scores: np.ndarray, eval_scores: np.ndarray, alpha: float,
                 minimums=(50, 100, 200), show_labels: bool = False) -> None:
    """Platt + micro-F1 cut-offs on the training out-of-fold scores, then each way to set the conformal thresholds."""
    truth = data["truth"]
    newest = data["block_of"] == data["block_of"].max()
    a, b = platt_all(train_scores, truth)
    train_p, eval_p = probability(train_scores, a, b), probability(eval_scores, a, b)
    decide = conformal.tune_thresholds(train_p, truth, macro_weight=0.0)
    cal_positives = truth[newest].sum(axis=0)
    shipped = conformal.clustered_thresholds(train_p[newest], truth[newest], alpha)
    row(f"{name}: clustered, newest block (previous design)", data, eval_p, decide, eval_p >= shipped, alpha,
        show_labels=show_labels)
    big = data["eval_truth"].sum(axis=0) >= 50
    oracle = np.array([conformal.conformal_threshold(eval_p[data["eval_truth"][:, j], j], alpha)
                       if data["eval_truth"][:, j].any() else np.inf for j in range(truth.shape[1])])
    row("  oracle (eval thresholds), rare labels never", data, eval_p, decide, (eval_p >= oracle) & big, alpha)
    for minimum in (30, 50, 100):
        window = newest_window_thresholds(train_p, truth, newest, alpha, minimum)
        row(f"  label-wise on newest >= {minimum} positives (>= newest block), else F1 cut", data, eval_p, decide,
            eval_p >= np.where(np.isfinite(window), window, decide), alpha, show_labels=show_labels)

    def shipped_sets(calibration: np.ndarray, level: float, minimum: int = 50) -> np.ndarray:
        """``model._calibrate``'s sets: label-wise on the calibration rows if >= minimum positives, else F1 cut."""
        cuts = conformal.recent_labelwise_thresholds(train_p, truth, calibration, level, min_positives=minimum)
        return eval_p >= np.where(np.isnan(cuts), decide, cuts)

    for minimum in (20, 30, 40):
        row(f"  label-wise newest block, claim if >= {minimum} there, else F1 cut", data, eval_p, decide,
            shipped_sets(newest, alpha, minimum), alpha)
    rows = np.flatnonzero(newest)
    half = np.zeros_like(newest)
    half[rows[len(rows) // 2:]] = True
    row("  label-wise newest HALF block, claim if >= 50 there, else F1 cut", data, eval_p, decide,
        shipped_sets(half, alpha), alpha, show_labels=show_labels)
    for level in (0.05, 0.07, 0.1, 0.15, 0.2, 0.3):
        row(f"  shipped calibration at alpha {level} (coverage judged at 0.88)", data, eval_p, decide,
            shipped_sets(newest, level), alpha)
    sets = shipped_sets(newest, alpha)
    wrong = (sets & ~data["eval_truth"]).sum(axis=0) / len(sets)
    print("  shipped, wrong labels a paper by label: " + ", ".join(
        f"{data['labels'][j]} {wrong[j]:.2f}" for j in np.argsort(-wrong)[:8])
        + f"; true labels a paper {data['eval_truth'].sum(axis=1).mean():.2f}, "
        f"inside the sets {(sets & data['eval_truth']).sum(axis=1).mean():.2f}")
    for minimum in minimums:
        claimed = cal_positives >= minimum
        own = np.array([conformal.conformal_threshold(train_p[newest & truth[:, j], j], alpha) if claimed[j]
                        else np.inf for j in range(truth.shape[1])])
        shipped_mark = " (shipped)" if minimum == 50 else ""
        row(f"  Mondrian newest if >= {minimum} cal. pos., else F1 cut{shipped_mark}", data, eval_p, decide,
            eval_p >= np.where(claimed, own, decide), alpha, show_labels=show_labels)
        row(f"  Mondrian newest if >= {minimum} cal. pos., else never", data, eval_p, decide,
            eval_p >= np.where(claimed, own, np.inf), alpha)


def newest_window_thresholds(probabilities: np.ndarray, truth: np.ndarray, newest: np.ndarray, alpha: float,
                             minimum: int) -> np.ndarray:
    """Per label: the conformal threshold of its positives in the newest block, or, when that block holds fewer
    than ``minimum``, of its ``minimum`` newest positives; nan when it has fewer than ``minimum`` in all."""
    out = np.full(truth.shape[1], np.nan)
    for j in range(truth.shape[1]):
        rows = np.flatnonzero(truth[:, j])
        if len(rows) < minimum:
            continue
        recent = rows[newest[rows]]
        chosen = recent if len(recent) >= minimum else rows[-minimum:]
        out[j] = conformal.conformal_threshold(probabilities[chosen, j], alpha)
    return out


def run_variants(data: dict, alpha: float, work, only: str = "") -> None:
    truth = data["truth"]
    print(f"{truth.shape[1]} labels, {int((data['train_papers'] >= 50).sum())} with >= 50 training papers, "
          f"{int((data['eval_truth'].sum(axis=0) >= 50).sum())} with >= 50 evaluation papers")
    stages = {
        "logistic": lambda: second_stage(data),
        "mlp256": lambda: mlp_stage(data),
        "mlp64": lambda: mlp_stage(data, hidden=64, epochs=15),
    }
    for name, compute in stages.items():
        if only and name not in only.split(","):
            continue
        train_scores, eval_scores = cached(work, name, compute)
        calibrations(name, data, train_scores, eval_scores, alpha, show_labels=True)


def mlp_stage(data: dict, hidden: int = 256, penalty: float = 1e-3, epochs: int = 40, seed: int = 0,
              with_text: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A shared second stage: one small neural network over every label's text score and the author figures.

    Out-of-fold over the same 4 blocks; evaluation scores from the fit on all blocks. Returns logits.
    """
    from sklearn.neural_network import MLPClassifier

    def design(text, priors):
        return np.hstack([text, priors])

    x, y = design(data["held_out"], data["priors"]), data["truth"]
    x_eval = design(data["eval_text"], data["eval_priors"])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    x, x_eval = (x - mean) / scale, (x_eval - mean) / scale
    held_out = np.zeros(y.shape)

    def fit(rows):
        net = MLPClassifier(hidden_layer_sizes=(hidden,), alpha=penalty, max_iter=epochs, batch_size=256,
                            learning_rate_init=1e-3, random_state=seed)
        return net.fit(x[rows], y[rows])

    def logits(net, rows):
        p = np.clip(net.predict_proba(rows), 1e-7, 1 - 1e-7)
        return np.log(p / (1 - p))

    for b in range(data["block_of"].max() + 1):
        fold = data["block_of"] == b
        held_out[fold] = logits(fit(np.flatnonzero(~fold)), x[fold])
    return held_out, logits(fit(np.arange(len(x))), x_eval)
