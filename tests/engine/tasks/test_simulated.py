"""Against the simulator's exact truth: EF with ED/ES from the cine, and the fan found for cropping."""

import numpy as np
import pytest

from engine.provenance import ModelRef
from engine.tasks.base import CineContext
from engine.tasks.measure import MeasureTask
from engine.tasks.presets import all_heads_cfg
from engine.tasks.segment import SegmentTask
from engine.transforms.sector import detect_sector
from training.sim import SimConfig, simulate

REF = ModelRef("m", "1")


@pytest.fixture(scope="module")
def cardiac():
    return simulate("cardiac", 7, SimConfig(height=256, width=256, frames=40, fps=30.0))


def test_ejection_fraction_and_ed_es_frames_from_truth_masks(cardiac):
    truth = cardiac.truth
    lv = next(k for k, v in truth.labels.items() if v == "lv_cavity")
    cfg = all_heads_cfg()
    seg, measure = SegmentTask(cfg, REF), MeasureTask(cfg, REF)
    cal = cardiac.calibration()
    frames = [seg.result_from_mask((m == lv).astype(np.uint8), i, cal) for i, m in enumerate(truth.masks)]
    ts = tuple(i * 1000.0 / cardiac.fps for i in range(len(frames)))
    ef = measure.ejection(frames, CineContext(ts, cal, tuple(range(len(frames)))))
    is_ed = np.flatnonzero(truth.frame_values["is_ed"][0])  # (values [N], unit)
    is_es = np.flatnonzero(truth.frame_values["is_es"][0])
    contraction = truth.frame_values["contraction"][0]  # 0 at end-diastole, 1 at end-systole
    assert ef.calibrated and ef.volume_unit == "ml" and ef.ed_frames
    # an ED is within a frame of the truth's, or on a range end where the ventricle is still (or
    # already) near end-diastole: the cycle rule lets such an end close a cycle
    ends = (0, len(frames) - 1)
    assert all(min(abs(d - is_ed)) <= 1 or (d in ends and contraction[d] < 0.1) for d in ef.ed_frames)
    assert all(min(abs(s - is_es)) <= 1 for s in ef.es_frames)
    assert ef.ef_percent == pytest.approx(truth.values["ef"].value, abs=3.0)


def test_fan_detection_matches_the_simulated_sector(cardiac):
    sector = detect_sector(cardiac.frames[:8])
    truth = cardiac.truth.fan_mask
    assert sector.found
    iou = (sector.mask & truth).sum() / (sector.mask | truth).sum()
    assert iou > 0.9
    ys, xs = np.nonzero(truth)
    expected = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    assert all(abs(a - b) <= 4 for a, b in zip(sector.box, expected))
