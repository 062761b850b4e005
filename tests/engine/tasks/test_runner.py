"""The runner over a cine with the tiny all-heads model: every task, errors, frame specs."""

import numpy as np
import pytest

from engine.errors import TaskError
from engine.io.calibration import Calibration, Region
from engine.io.memory import ArrayCine
from engine.progress import Cancelled, CancelToken
from engine.tasks.runner import run_tasks
from engine.types import ClassScores, Detections, EnhancedFrame, Landmarks, Report, SegmentationResult

CAL = Calibration(regions=(Region(0, 0, 127, 95, 0.2, 0.3, "mm", "mm", "tissue"),), source="regions")


def test_all_eight_tasks_over_a_cine(tiny, predictor, beating):
    cfg, _, ref = tiny
    cine = ArrayCine(beating(n=7), fps=30, calibration=CAL)
    seen = []
    run = run_tasks(cine, predictor, cfg, ref, "all", batch_size=3, progress=seen.append)
    assert list(run.tasks) == [
        "exam", "classification", "segmentation", "detection", "landmarks", "regression", "enhancement",
        "report",
    ]  # fmt: skip
    assert run.frames == tuple(range(7)) and seen[-1].done == 7 and predictor.calls == 3
    seg = run.tasks["segmentation"].frames[0]
    assert isinstance(seg, SegmentationResult) and seg.mask.shape == (96, 128) and seg.calibrated
    assert seg.areas[0].unit == "mm2"
    np.testing.assert_allclose(seg.areas[0].value, (seg.mask == 1).sum() * 0.2 * 0.3)
    cls = run.tasks["classification"]
    assert isinstance(cls.summary[0], ClassScores) and cls.summary[0].frame is None
    np.testing.assert_allclose(cls.summary[0].probs, np.mean([f.probs for f in cls.frames], 0), rtol=1e-6)
    assert isinstance(run.tasks["detection"].frames[0], Detections)
    lm = run.tasks["landmarks"].frames[3]
    assert isinstance(lm, Landmarks) and lm.points.shape == (3, 2) and lm.measurements[0].unit == "mm"
    enh = run.tasks["enhancement"].frames[0]
    assert isinstance(enh, EnhancedFrame) and enh.image.shape == (96, 128) and enh.image.dtype == np.uint8
    names = [type(s).__name__ for s in run.tasks["regression"].summary]
    assert names == ["Quantity", "EjectionFraction"]
    assert isinstance(run.tasks["report"].summary[0], Report)
    assert all(f.model == ref for f in cls.frames)


def test_dependencies_run_but_only_asked_tasks_are_returned(tiny, predictor, beating):
    cfg, _, ref = tiny
    cine = ArrayCine(beating(n=4))
    run = run_tasks(cine, predictor, cfg, ref, ["regression"], frames=[0, 2, 3])
    assert list(run.tasks) == ["regression"] and run.frames == (0, 2, 3)
    ef = run.tasks["regression"].summary[-1]
    assert ef.volume_unit == "px3" and not ef.calibrated  # uncalibrated -> pixels, flagged


def test_unknown_task_and_missing_head_are_one_line_errors(tiny, predictor, beating):
    cfg, _, ref = tiny
    cine = ArrayCine(beating(n=2), path="clip.dcm")
    with pytest.raises(TaskError, match="unknown task tumour") as err:
        run_tasks(cine, predictor, cfg, ref, "classification,tumour")
    assert "\n" not in str(err.value) and str(err.value).startswith("clip.dcm: ")
    from dataclasses import replace

    no_report = replace(cfg, heads=tuple(h for h in cfg.heads if h.name != "report"))
    with pytest.raises(TaskError, match="has no report head"):
        run_tasks(cine, predictor, no_report, ref, "report")


class OddCine(ArrayCine):
    def _decode(self, index):
        return np.zeros((10, 10, 4), np.uint8) if index == 1 else super()._decode(index)


def test_frame_of_the_wrong_kind_is_a_one_line_error(tiny, predictor, beating):
    cfg, _, ref = tiny
    cine = OddCine(beating(n=3), path="odd.avi")
    with pytest.raises(TaskError, match=r"^odd.avi: frame 1 is uint8 \[10, 10, 4\]"):
        run_tasks(cine, predictor, cfg, ref, "classification")


def test_cancel_between_batches(tiny, predictor, beating):
    cfg, _, ref = tiny
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        run_tasks(ArrayCine(beating(n=2)), predictor, cfg, ref, "classification", cancel=token)


def test_crop_to_fan_maps_results_back_inside_the_fan(tiny, predictor):
    from dataclasses import replace

    from training.sim import SimConfig, simulate

    cfg, _, ref = tiny
    sim = simulate("cardiac", 3, SimConfig(height=160, width=200, frames=3))
    run = run_tasks(
        sim.cine(), predictor, replace(cfg, crop_to_fan=True), ref, "segmentation,landmarks,detection"
    )
    x0, y0, x1, y1 = run.crop
    fx0, fy0, fx1, fy1 = sim.fan_bbox  # inclusive
    assert max(abs(x0 - fx0), abs(y0 - fy0), abs(x1 - 1 - fx1), abs(y1 - 1 - fy1)) <= 4
    assert (x1 - x0, y1 - y0) != (200, 160)
    for seg in run.tasks["segmentation"].frames:
        outside = seg.mask.copy()
        outside[y0:y1, x0:x1] = 0
        assert seg.mask.shape == (160, 200) and not outside.any()
    for lm in run.tasks["landmarks"].frames:
        assert (lm.points[:, 0] >= x0 - 0.5).all() and (lm.points[:, 0] <= x1 - 0.5).all()
        assert (lm.points[:, 1] >= y0 - 0.5).all() and (lm.points[:, 1] <= y1 - 0.5).all()
    for det in run.tasks["detection"].frames:
        assert (det.boxes[:, 0::2] >= x0 - 0.5).all() and (det.boxes[:, 0::2] <= x1 - 0.5).all()
