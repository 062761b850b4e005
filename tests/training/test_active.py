"""Active-learning ranking: uncertainty, diversity, and the "correct these next" queue."""

from __future__ import annotations

import numpy as np

from training.active import (
    disagreement,
    k_center_greedy,
    mutual_information,
    pool_features,
    queue,
    rank,
    rank_cines,
    softmax_entropy,
)


def probs_with_margin(margins: list[float], size: int = 8) -> np.ndarray:
    """[N, 2, size, size] softmax maps whose foreground probability is 0.5 + margin everywhere."""
    p = np.stack([np.full((size, size), 0.5 + m) for m in margins])
    return np.stack([1 - p, p], axis=1)


def test_entropy_is_highest_where_the_model_hesitates():
    u = softmax_entropy(probs_with_margin([0.49, 0.0, 0.3]))
    assert u.argmax() == 1 and u.argmin() == 0
    assert u.min() >= 0.0 and u.max() <= 1.0 + 1e-9


def test_entropy_looks_at_the_doubtful_pixels_not_the_sure_background():
    sure = probs_with_margin([0.49, 0.49])
    sure[1, :, :2, :2] = 0.5  # a small doubtful structure on frame 1
    u = softmax_entropy(sure, top=0.05)
    assert u[1] > 0.9 > u[0]


def test_mutual_information_needs_disagreeing_samples():
    agree = np.stack([probs_with_margin([0.0, 0.0])] * 4)  # unsure but consistent
    split = np.stack([probs_with_margin([0.45, -0.45])] * 2 + [probs_with_margin([-0.45, 0.45])] * 2)
    assert mutual_information(agree).max() < 1e-6
    assert mutual_information(split).min() > 0.3


def test_disagreement_between_heads():
    a = np.zeros((3, 4, 4), np.uint8)
    b = a.copy()
    a[0, :2], b[0, :2] = 1, 1  # agree
    a[1, :2], b[1, 2:] = 1, 1  # disjoint
    np.testing.assert_allclose(disagreement(a, b), [0.0, 1.0, 0.0])


def test_k_center_spreads_over_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], float)
    feats = np.concatenate([c + rng.normal(0, 0.1, (20, 2)) for c in centres])
    picked = k_center_greedy(feats, 3, labelled=[0])
    assert {i // 20 for i in picked} == {1, 2, 3}  # one frame from each cluster not yet labelled


def test_rank_trades_uncertainty_for_diversity():
    rng = np.random.default_rng(1)
    feats = np.concatenate([rng.normal(0, 0.01, (10, 2)), rng.normal(5, 0.01, (10, 2))])
    u = np.concatenate([np.linspace(0.9, 1.0, 10), np.linspace(0.1, 0.2, 10)])  # cluster A is unsure
    only_u = rank(u, None, 3)
    assert all(i < 10 for i in only_u) and only_u[0] == 9
    mixed = rank(u, feats, 3, diversity=0.5)
    assert mixed[0] == 9 and any(i >= 10 for i in mixed)
    assert set(rank(u, feats, 30, labelled=[9])) == set(range(20)) - {9}


def test_queue_and_cines():
    keys = [(s, f) for s in ("a", "b") for f in range(5)]
    u = np.array([0.1, 0.2, 0.1, 0.1, 0.1, 0.9, 0.8, 0.1, 0.1, 0.1])
    items = queue(keys, u, budget=3, labelled=[5])
    assert items[0].key == ("b", 1)
    assert items[0].score > items[-1].score and items[0].reason == "uncertain"
    assert rank_cines(keys, u) == ["b", "a"]


def test_pool_features_are_unit_vectors():
    v = pool_features(np.random.default_rng(2).normal(size=(6, 5, 4, 4)))
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
