"""Active learning: rank frames and cines by how much a correction would help (numpy only).

Two signals are combined:

* **Uncertainty** of the current model on each frame: the entropy of the segmentation softmax
  (mean over the most uncertain pixels, so a small, doubtful structure is not drowned by a sure
  background), the mutual information of MC-dropout samples (BALD), or the disagreement between
  heads (e.g. the segmentation mask against the detection boxes, or two versions' masks).
* **Diversity** over encoder features: a greedy k-center walk, so the queue does not fill with
  near-identical neighbouring frames of one cine.

:func:`rank` picks frames one at a time by ``(1 - diversity) * uncertainty + diversity *
distance`` where both are scaled to [0, 1] and the distance is to the nearest frame already
labelled or picked. :func:`queue` turns the order into "correct these next" items, and
:func:`rank_cines` scores whole cines by their most useful frames.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

EPS = 1e-12
DIVERSITY = 0.8
"""Default weight of the diversity term. With the demo model's encoder features,
``bench/active_learning.py`` found 0.8-1.0 reach random selection's 100-label Dice with 20 labels,
while 0.3 and 0.5 never did (docs/loop.md)."""


@dataclass(frozen=True)
class QueueItem:
    """One frame worth correcting next.

    Attributes:
        key: where the frame is, e.g. ``(study_id, frame)``.
        score: the combined score when it was picked (higher first).
        uncertainty: the frame's uncertainty in [0, 1] (rank-scaled over the pool).
        reason: a short human reason for the UI.
    """

    key: Hashable
    score: float
    uncertainty: float
    reason: str


def softmax_entropy(probs: np.ndarray, top: float = 0.05) -> np.ndarray:
    """Per-frame uncertainty of segmentation probabilities.

    Args:
        probs: softmax output ``[N, K, H, W]`` (K >= 2 classes).
        top: share of each frame's pixels, the most uncertain, that are averaged.

    Returns:
        ``[N]`` normalised entropy in [0, 1].
    """
    p = np.clip(probs.astype(np.float64), EPS, 1.0)
    ent = -(p * np.log(p)).sum(1) / np.log(probs.shape[1])  # [N, H, W]
    flat = ent.reshape(ent.shape[0], -1)
    k = max(1, round(top * flat.shape[1]))
    return np.partition(flat, -k, axis=1)[:, -k:].mean(1)


def mutual_information(samples: np.ndarray, top: float = 0.05) -> np.ndarray:
    """BALD score of MC-dropout samples: entropy of the mean minus the mean entropy.

    Args:
        samples: softmax outputs of T stochastic passes ``[T, N, K, H, W]``.
        top: share of each frame's pixels, the highest, that are averaged.

    Returns:
        ``[N]`` mutual information (nats, normalised by log K).
    """
    p = np.clip(samples.astype(np.float64), EPS, 1.0)
    mean = p.mean(0)
    h_mean = -(mean * np.log(mean)).sum(1)
    mean_h = -(p * np.log(p)).sum(2).mean(0)
    mi = (h_mean - mean_h) / np.log(samples.shape[2])
    flat = mi.reshape(mi.shape[0], -1)
    k = max(1, round(top * flat.shape[1]))
    return np.partition(flat, -k, axis=1)[:, -k:].mean(1)


def disagreement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - Dice between two heads' (or versions') foreground masks ``[N, H, W]``, per frame.

    Frames where both are empty agree fully (0).
    """
    fa, fb = a.reshape(a.shape[0], -1) > 0, b.reshape(b.shape[0], -1) > 0
    inter = (fa & fb).sum(1)
    total = fa.sum(1) + fb.sum(1)
    return np.where(total == 0, 0.0, 1.0 - 2.0 * inter / np.maximum(total, 1))


def pool_features(features: np.ndarray) -> np.ndarray:
    """Global-average-pool encoder maps ``[N, C, h, w]`` to unit vectors ``[N, C]``."""
    v = features.reshape(features.shape[0], features.shape[1], -1).mean(-1).astype(np.float64)
    v -= v.mean(0, keepdims=True)
    return v / (np.linalg.norm(v, axis=1, keepdims=True) + EPS)


def _rank_scale(x: np.ndarray) -> np.ndarray:
    """Values mapped to their rank in [0, 1] (ties share the mean rank)."""
    if len(x) <= 1:
        return np.ones(len(x))
    order = x.argsort(kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x))
    for v in np.unique(x):
        same = x == v
        ranks[same] = ranks[same].mean()
    return ranks / (len(x) - 1)


def _distances(features: np.ndarray, index: int) -> np.ndarray:
    return np.linalg.norm(features - features[index], axis=1)


def k_center_greedy(features: np.ndarray, budget: int, labelled: Sequence[int] = ()) -> list[int]:
    """Pick ``budget`` indices, each the farthest from everything labelled or picked so far."""
    return rank(np.zeros(len(features)), features, budget, labelled, diversity=1.0)


def rank(
    uncertainty: np.ndarray,
    features: np.ndarray | None,
    budget: int,
    labelled: Sequence[int] = (),
    diversity: float = DIVERSITY,
) -> list[int]:
    """Indices of the ``budget`` unlabelled frames most worth correcting, best first.

    Args:
        uncertainty: ``[N]`` per-frame uncertainty (any scale; only its order matters).
        features: ``[N, D]`` frame descriptors (e.g. :func:`pool_features`); None ranks by
            uncertainty alone.
        budget: how many frames to return (fewer when the pool is smaller).
        labelled: indices already labelled (never returned; they count for diversity).
        diversity: weight of the distance term in [0, 1].
    """
    n = len(uncertainty)
    u = _rank_scale(np.asarray(uncertainty, np.float64))
    taken = np.zeros(n, bool)
    taken[list(labelled)] = True
    if features is None or diversity <= 0:
        order = [int(i) for i in np.argsort(-u, kind="stable") if not taken[i]]
        return order[:budget]
    feats = np.asarray(features, np.float64)
    dist = np.full(n, np.inf)
    for i in labelled:
        dist = np.minimum(dist, _distances(feats, i))
    picked: list[int] = []
    while len(picked) < min(budget, n - len(labelled)):
        finite = np.isfinite(dist)
        scale = dist[finite & ~taken].max() if (finite & ~taken).any() else 1.0
        d = np.where(finite, dist / max(scale, EPS), 1.0)
        score = (1 - diversity) * u + diversity * d
        score[taken] = -np.inf
        best = int(np.argmax(score))
        picked.append(best)
        taken[best] = True
        dist = np.minimum(dist, _distances(feats, best))
    return picked


def queue(
    keys: Sequence[Hashable],
    uncertainty: np.ndarray,
    features: np.ndarray | None = None,
    budget: int = 20,
    labelled: Sequence[int] = (),
    diversity: float = DIVERSITY,
) -> list[QueueItem]:
    """The "correct these next" list: :func:`rank` with each frame's key, score and reason."""
    u = _rank_scale(np.asarray(uncertainty, np.float64))
    order = rank(uncertainty, features, budget, labelled, diversity)
    items = []
    for pos, i in enumerate(order):
        reason = "uncertain" if u[i] >= 0.5 else "unlike the labelled frames"
        items.append(QueueItem(keys[i], float(len(order) - pos) / len(order), float(u[i]), reason))
    return items


def rank_cines(keys: Sequence[tuple[Hashable, int]], uncertainty: np.ndarray, top: int = 3) -> list[Hashable]:
    """Cines (the first part of each ``(cine, frame)`` key) by the mean of their ``top`` frame scores."""
    per: dict[Hashable, list[float]] = {}
    for (cine, _), u in zip(keys, np.asarray(uncertainty, np.float64), strict=True):
        per.setdefault(cine, []).append(float(u))
    score = {c: float(np.mean(sorted(v)[-top:])) for c, v in per.items()}
    return sorted(score, key=lambda c: -score[c])
