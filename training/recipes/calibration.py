"""Post-hoc calibration on held-out data: temperature scaling, expected calibration error,
per-label decision thresholds and the Ledoit-Wolf shrinkage of a covariance.

* Temperature scaling (Guo et al. 2017): one scalar ``T`` dividing the logits, fitted by
  minimising the negative log-likelihood of the validation labels.
* Bias-corrected temperature scaling (Alexandari et al. 2020): ``T`` and one bias per class
  (the first fixed at 0), for a head whose logits are shifted towards one class, so that the
  most probable class after calibration is the right call as often as the scores allow
  (temperature alone never changes which class is most probable).
* Expected calibration error: top-label confidence in equal-width bins, the bins' accuracy
  gaps weighted by their share of samples.
* A threshold per label: the score cut that maximises F1 on validation data, placed halfway
  between the lowest kept score and the next one below it.
* Ledoit-Wolf (2004): the shrinkage intensity towards a scaled identity that minimises the
  expected squared error of the covariance estimate, computed from the data alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np


def _scaled(logits: np.ndarray, temperature: float, bias: np.ndarray | None) -> np.ndarray:
    z = np.asarray(logits, np.float64) / temperature
    return z if bias is None else z + np.asarray(bias, np.float64)


def softmax(logits: np.ndarray, temperature: float = 1.0, bias: np.ndarray | None = None) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature + bias`` (``[N, K]``)."""
    z = _scaled(logits, temperature, bias)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(
    logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0, bias: np.ndarray | None = None
) -> float:
    """Mean negative log-likelihood of ``labels`` under ``softmax(logits / T + bias)``."""
    z = _scaled(logits, temperature, bias)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), np.asarray(labels, int)].mean())


def _golden_log(f: Callable[[float], float], bounds: tuple[float, float], steps: int) -> float:
    """The minimiser of a unimodal ``f`` over ``bounds``, searched on a log scale."""
    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = f(math.exp(a)), f(math.exp(b))
    for _ in range(steps):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = f(math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = f(math.exp(b))
    return float(math.exp((lo + hi) / 2))


def fit_temperature(
    logits: np.ndarray, labels: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0), steps: int = 80
) -> float:
    """The temperature minimising the NLL of ``labels`` (golden-section search on log T).

    Deterministic; the NLL is convex in 1/T, so it is unimodal in log T.
    """
    return _golden_log(lambda t: nll(logits, labels, t), bounds, steps)


def fit_bias(
    logits: np.ndarray, labels: np.ndarray, temperature: float, ridge: float = 1e-3, iterations: int = 50
) -> np.ndarray:
    """The per-class bias (first class 0) minimising the NLL of ``labels`` under
    ``softmax(logits / temperature + bias)`` (Newton's method with a backtracking line search;
    the NLL is convex in the bias, and a small ridge keeps it finite when one class is missing)."""
    z = np.asarray(logits, np.float64) / temperature
    labels = np.asarray(labels, int)
    n, k = z.shape
    y = np.eye(k)[labels]

    def objective(b: np.ndarray) -> float:
        return nll(z, labels, 1.0, b) + 0.5 * ridge * float(b @ b)

    bias = np.zeros(k)
    value = objective(bias)
    for _ in range(iterations):
        p = softmax(z, 1.0, bias)
        grad = (p - y).sum(axis=0)[1:] / n + ridge * bias[1:]
        hess = (np.diag(p.sum(axis=0)) - p.T @ p)[1:, 1:] / n + ridge * np.eye(k - 1)
        step, scale = np.linalg.solve(hess, grad), 1.0
        while scale > 1e-12:
            trial = bias.copy()
            trial[1:] -= scale * step
            if (trial_value := objective(trial)) <= value:
                break
            scale /= 2
        else:
            break
        done = value - trial_value < 1e-13
        bias, value = trial, trial_value
        if done:
            break
    return bias


def fit_scaling(
    logits: np.ndarray, labels: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0), steps: int = 80
) -> tuple[float, np.ndarray]:
    """Bias-corrected temperature scaling: ``(T, bias)`` minimising the NLL of ``labels``.

    Deterministic: for each temperature the best bias (:func:`fit_bias`), and a golden-section
    search on log T over the NLL at that bias (jointly convex in 1/T and the bias, so its
    minimum over the bias is unimodal in log T).
    """
    t = _golden_log(lambda t: nll(logits, labels, t, fit_bias(logits, labels, t)), bounds, steps)
    return t, fit_bias(logits, labels, t)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-label confidence over ``bins`` equal-width bins of [0, 1]."""
    probs = np.asarray(probs, np.float64)
    labels = np.asarray(labels, int)
    if len(labels) == 0:
        return math.nan
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def f1_threshold(
    hits: Sequence[tuple[float, bool]], n_truth: int, floor: float = 0.0
) -> tuple[float | None, float]:
    """The score threshold that maximises F1, and that F1.

    Args:
        hits: (score, is a true positive) of every candidate above ``floor``.
        n_truth: positives in the data (a positive without a candidate is a miss).
        floor: the lowest score a candidate can have (below it nothing is reported).

    Returns:
        ``(threshold, f1)``: keep candidates with ``score >= threshold``; the threshold lies
        halfway between the lowest kept score and the next lower one (or ``floor``). None when
        there are no positives; 1.0 (nothing kept) when no cut finds any.
    """
    if n_truth <= 0:
        return None, math.nan
    ranked = sorted(((float(s), bool(t)) for s, t in hits), key=lambda h: -h[0])
    scores = np.array([s for s, _ in ranked])
    tp = np.cumsum([t for _, t in ranked]) if ranked else np.zeros(0)
    best, best_j = 0.0, -1
    for j in range(len(ranked)):
        if j + 1 < len(ranked) and scores[j + 1] == scores[j]:
            continue  # a cut can only fall between distinct scores
        f1 = 2 * tp[j] / (j + 1 + n_truth)
        if f1 > best:
            best, best_j = float(f1), j
    if best_j < 0:
        return 1.0, 0.0
    below = scores[best_j + 1] if best_j + 1 < len(scores) else floor
    return float(min(1.0, max(0.0, (scores[best_j] + below) / 2))), best


def f1_at(hits: Sequence[tuple[float, bool]], n_truth: int, threshold: float) -> float:
    """F1 of the candidates with ``score >= threshold``."""
    if n_truth <= 0:
        return math.nan
    kept = [t for s, t in hits if s >= threshold]
    return 2 * sum(kept) / (len(kept) + n_truth)


def ledoit_wolf_shrinkage(x: np.ndarray, labels: np.ndarray) -> float:
    """Ledoit-Wolf shrinkage intensity of the tied within-class covariance of ``x`` ``[N, D]``
    towards ``mean(diag) * I`` (the target ``engine.heads.exam.ExamHead.fit_density`` uses)."""
    x = np.asarray(x, np.float64)
    labels = np.asarray(labels)
    centred = x.copy()
    for k in np.unique(labels):
        centred[labels == k] -= x[labels == k].mean(axis=0)
    n, d = centred.shape
    s = centred.T @ centred / n
    mu = np.trace(s) / d
    d2 = float(((s - mu * np.eye(d)) ** 2).sum())
    b2 = float(((centred**2).sum(axis=1) ** 2).sum() / n**2 - (s**2).sum() / n)
    return float(min(1.0, max(0.0, min(b2, d2) / d2))) if d2 > 0 else 1.0
