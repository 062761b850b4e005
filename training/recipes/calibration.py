"""Post-hoc calibration on held-out data: temperature scaling, expected calibration error,
per-label decision thresholds and the Ledoit-Wolf shrinkage of a covariance.

* Temperature scaling (Guo et al. 2017): one scalar ``T`` dividing the logits, fitted by
  minimising the negative log-likelihood of the validation labels.
* Expected calibration error: top-label confidence in equal-width bins, the bins' accuracy
  gaps weighted by their share of samples.
* A threshold per label: the score cut that maximises F1 on validation data, placed halfway
  between the lowest kept score and the next one below it.
* Ledoit-Wolf (2004): the shrinkage intensity towards a scaled identity that minimises the
  expected squared error of the covariance estimate, computed from the data alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (``[N, K]``)."""
    z = np.asarray(logits, np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of ``labels`` under ``softmax(logits / T)``."""
    z = np.asarray(logits, np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), np.asarray(labels, int)].mean())


def fit_temperature(
    logits: np.ndarray, labels: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0), steps: int = 80
) -> float:
    """The temperature minimising the NLL of ``labels`` (golden-section search on log T).

    Deterministic; the NLL is convex in 1/T, so it is unimodal in log T.
    """
    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(logits, labels, math.exp(a)), nll(logits, labels, math.exp(b))
    for _ in range(steps):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(logits, labels, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(logits, labels, math.exp(b))
    return float(math.exp((lo + hi) / 2))


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
