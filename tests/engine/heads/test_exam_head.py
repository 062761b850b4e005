"""The exam head: leaf logits, a Mahalanobis out-of-distribution score, levels that agree."""

import numpy as np
import pytest
import torch

from engine.heads import head_spec
from engine.heads.base import FeatureSpec
from engine.heads.exam import ExamHead
from engine.heads.kinds.exam import ExamResult
from engine.provenance import ModelRef
from training.metrics import build_metric

SPEC = FeatureSpec(channels=(4, 8, 16, 32, 64), input_size=(64, 64))
LEAVES = ("cardiac/left ventricle/apical", "cardiac/left ventricle/parasternal", "breast/breast/lesion")
REF = ModelRef("m", "1", "")


def pyramid(n, shift=0.0, scale=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        scale * torch.randn(n, c, 64 // s, 64 // s, generator=g) + shift
        for c, s in zip(SPEC.channels, SPEC.strides)
    ]


def test_outputs_and_a_density_that_scores_unseen_statistics_higher():
    head = ExamHead(SPEC, num_classes=3, hidden=16).eval()
    feats = pyramid(40)
    out = head(feats, torch.zeros(40, 3, 64, 64))
    assert out["logits"].shape == (40, 3) and out["ood"].shape == (40,)
    assert torch.equal(out["ood"], torch.zeros(40))  # nothing fitted yet: no opinion
    head.fit_density(feats, torch.arange(40) % 3)
    seen = head(pyramid(20, seed=1), None)["ood"]
    shifted = head(pyramid(20, shift=0.5, seed=2), None)["ood"]
    louder = head(pyramid(20, scale=3.0, seed=3), None)["ood"]
    assert seen.max() < shifted.min() and seen.max() < louder.min()
    assert head_spec("exam").network_class() is ExamHead


def test_levels_sum_their_leaves_and_the_path_is_chosen_top_down():
    # the likeliest single leaf is breast, but cardiac holds more probability as a region
    r = ExamResult(LEAVES, np.array([0.3, 0.3, 0.4], np.float32), 0.1, False, "", REF)
    assert (
        r.path == ("cardiac", "left ventricle", "apical") and r.label() == "cardiac / left ventricle / apical"
    )
    assert r.level(0) == [("cardiac", pytest.approx(0.6)), ("breast", pytest.approx(0.4))]
    assert r.confidence == pytest.approx(0.6) and r.names() == {"cardiac", "left ventricle", "apical"}
    unknown = ExamResult(LEAVES, np.array([0.3, 0.3, 0.4], np.float32), 9.0, True, "why", REF)
    assert unknown.path == () and unknown.label() == "unknown" and unknown.organ == "unknown"


def test_a_user_exam_is_one_leaf_or_unknown_and_nothing_else():
    r = ExamResult.chosen_by_user(LEAVES, "breast/breast/lesion", REF)
    assert r.source == "user" and r.organ == "breast" and r.probs.tolist() == [0, 0, 1]
    assert ExamResult.chosen_by_user(LEAVES, "unknown", REF).unknown
    with pytest.raises(ValueError, match="unknown exam 'thyroid'"):
        ExamResult.chosen_by_user(LEAVES, "thyroid", REF)


def test_the_metric_counts_a_right_organ_with_a_wrong_view_at_the_organ_level():
    metric = build_metric("exam", _context())
    logits = torch.tensor([[5.0, 0, 0], [0, 5.0, 0], [0, 0, 5.0], [5.0, 0, 0]])
    metric.update({"logits": logits}, torch.tensor([0, 0, 2, 2]), None)
    got = metric.compute()
    assert got == {"accuracy": 0.5, "organ_accuracy": 0.75, "region_accuracy": 0.75}


def _context():
    from engine.heads.spec import MetricContext

    return MetricContext(SPEC, {"num_classes": 3}, LEAVES, (0.0,) * 3, (1.0,) * 3)
