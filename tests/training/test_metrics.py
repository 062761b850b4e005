"""Metrics on hand-made cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from training.config import SplitCfg
from training.data.splits import split_of
from training.metrics import METRICS, binary_auc, hd95, report_scores


def test_dice_and_hd95_of_shifted_squares():
    truth = torch.zeros(1, 1, 32, 32, dtype=torch.long)
    truth[0, 0, 8:16, 8:16] = 1
    logits = torch.zeros(1, 2, 32, 32)
    logits[0, 1, 8:16, 10:18] = 5.0  # the prediction is shifted 2 px right
    m = METRICS.get("segmentation")()
    m.update({"logits": logits}, truth, torch.ones(1, 2))
    out = m.compute()
    assert out["dice"] == pytest.approx(2 * 48 / 128)
    assert out["hd95_px"] == pytest.approx(2.0)
    a = np.zeros((20, 20), bool)
    a[5:10, 5:10] = True
    assert hd95(a, a) == 0.0


def test_auc_accuracy_and_ties():
    assert binary_auc(np.array([0.9, 0.8, 0.1, 0.2]), np.array([1, 1, 0, 0], bool)) == 1.0
    assert binary_auc(np.array([0.5, 0.5]), np.array([1, 0], bool)) == 0.5
    assert math.isnan(binary_auc(np.array([0.5]), np.array([1], bool)))
    m = METRICS.get("classification")()
    m.update({"logits": torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0]])}, torch.tensor([0, 1, 1]), None)
    out = m.compute()
    assert out["accuracy"] == pytest.approx(2 / 3) and out["auc"] == pytest.approx(1.0)


def test_landmark_error_in_mm_and_map():
    heat = torch.zeros(1, 1, 8, 8)
    heat[0, 0, 2, 3] = 1.0  # stride 4 -> centre (13.5, 9.5)
    m = METRICS.get("landmarks")(stride=4)
    m.update({"heatmaps": heat}, torch.tensor([[[13.5, 13.5]]]), torch.tensor([[0.5, 0.25]]))
    out = m.compute()
    assert out["error_px"] == pytest.approx(4.0) and out["error_mm"] == pytest.approx(1.0)
    det = METRICS.get("detection")()
    boxes = torch.tensor([[[10.0, 10.0, 20.0, 20.0], [40.0, 40.0, 50.0, 50.0]]])
    outs = {
        "cls_logits": torch.tensor([[[5.0], [-5.0]]]),
        "ctr_logits": torch.tensor([[5.0, 5.0]]),
        "boxes": boxes,
    }
    det.update(outs, [(torch.tensor([[10.0, 10.0, 20.0, 20.0]]), torch.tensor([0]))], None)
    assert det.compute()["map50"] == pytest.approx(1.0)


def test_report_scores_and_stable_splits():
    f1, agree = report_scores("lesion of 12 mm", "a lesion of 12 mm")
    assert f1 == pytest.approx(2 * 4 / 9) and agree == 1.0
    cfg = SplitCfg(test=0.2, val=0.1)
    before = {p: split_of(p, cfg) for p in (f"patient-{i}" for i in range(200))}
    assert 20 <= sum(s == "test" for s in before.values()) <= 60
    # the split of a patient never depends on who else is in the data
    assert {p: split_of(p, cfg) for p in sorted(before, reverse=True)} == before
    assert split_of("patient-1", SplitCfg(test=0.2, val=0.1, salt="other")) in ("train", "val", "test")


def test_class_balanced_order_evens_out_a_skewed_set():
    from training.api import balanced_order
    from training.finetune.samples import LabelledSample

    samples = [LabelledSample(np.zeros((2, 2)), {"classification": int(i < 10)}, f"p{i}") for i in range(100)]
    order = balanced_order(samples, seed=0)
    first = order(0)
    assert len(first) == 100 and first == order(0) and first != order(1)  # seeded per epoch
    share = np.mean([samples[i].targets["classification"] for e in range(5) for i in order(e)])
    assert 0.4 < share < 0.6  # the 10 % class is drawn about half the time
