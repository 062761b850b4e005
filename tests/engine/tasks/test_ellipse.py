"""Ellipse biometry: the fit of a segmented outline, and landmarks snapped to its axis ends."""

import math

import cv2
import numpy as np
import pytest

from engine.config import HeadCfg, ModelCfg
from engine.errors import ConfigError
from engine.io.calibration import UNCALIBRATED, Calibration, Region
from engine.io.memory import ArrayCine
from engine.provenance import ModelRef
from engine.tasks.base import FrameContext, postprocess_frame
from engine.tasks.ellipse import FittedEllipse, fit_ellipse, match_ends
from engine.tasks.landmarks import LandmarkTask, ellipse_through
from engine.tasks.runner import run_tasks
from engine.tasks.segment import SegmentTask
from engine.transforms.geometry import Geometry
from engine.types import Landmarks, SegmentationResult

REF = ModelRef("fetal", "1", "")
HEAD = FittedEllipse(70.3, 62.8, 40.0, 31.0, math.radians(25.0))
POINTS = ("bpd_a", "bpd_b", "ofd_a", "ofd_b")


def _mask(e: FittedEllipse, shape=(128, 144)) -> np.ndarray:
    """The pixels whose centres lie inside ``e``."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    c, s = math.cos(e.angle), math.sin(e.angle)
    u, v = (xx - e.cx) * c + (yy - e.cy) * s, -(xx - e.cx) * s + (yy - e.cy) * c
    return (u / e.a) ** 2 + (v / e.b) ** 2 <= 1.0


def _ramanujan(a: float, b: float) -> float:
    return math.pi * (3 * (a + b) - math.sqrt((3 * a + b) * (a + 3 * b)))


def _cfg(structure: str | None = "head", with_seg: bool = True) -> ModelCfg:
    heads = [HeadCfg("landmarks", "landmarks", POINTS, {"num_landmarks": 4})]
    if with_seg:
        heads.append(HeadCfg("segmentation", "segmentation", ("head",), {"num_classes": 1}))
    hc = {"name": "HC", "kind": "ellipse", "points": list(POINTS)}
    if structure:
        hc["structure"] = structure
    return ModelCfg(
        name="fetal",
        arch="echocare_test",
        version="1",
        input_size=(32, 36),
        heads=tuple(heads),
        measurements=(
            {"name": "BPD", "kind": "distance", "points": ["bpd_a", "bpd_b"]},
            hc,
        ),
    )


def _heatmaps(points: np.ndarray, geom: Geometry, size=(32, 36), sigma=1.0) -> np.ndarray:
    """Gaussian heatmaps at stride 1 with peaks at ``points`` (original-frame pixels)."""
    model = geom.points_to_model(points)
    yy, xx = np.mgrid[: size[0], : size[1]]
    return np.stack([np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)) for x, y in model])


def test_fit_recovers_a_rasterised_ellipse():
    got = fit_ellipse(_mask(HEAD))
    assert got is not None
    assert (got.cx, got.cy) == pytest.approx((HEAD.cx, HEAD.cy), abs=0.2)
    assert (got.a, got.b) == pytest.approx((HEAD.a, HEAD.b), abs=0.4)
    assert math.degrees(got.angle) == pytest.approx(25.0, abs=0.5)
    truth = np.concatenate([HEAD.minor_ends(), HEAD.major_ends()])
    fitted = np.concatenate(
        [match_ends(got.minor_ends(), HEAD.minor_ends()), match_ends(got.major_ends(), HEAD.major_ends())]
    )
    assert np.hypot(*(fitted - truth).T).max() < 0.6


def test_fit_bridges_dents_of_an_under_segmented_edge_and_ignores_stray_regions():
    mask = _mask(HEAD)
    mask[50:70, 95:112] = False  # a bite out of the edge on the major axis
    mask[5:9, 5:9] = True  # a stray blob
    got = fit_ellipse(mask)
    assert got is not None
    assert got.a == pytest.approx(HEAD.a, abs=1.0) and got.b == pytest.approx(HEAD.b, abs=1.0)
    assert (got.cx, got.cy) == pytest.approx((HEAD.cx, HEAD.cy), abs=1.0)


def test_nothing_is_fitted_to_an_empty_or_tiny_region():
    assert fit_ellipse(np.zeros((40, 40), bool)) is None
    tiny = np.zeros((40, 40), bool)
    tiny[10:13, 10:13] = True
    assert fit_ellipse(tiny) is None


def test_match_ends_keeps_each_name_on_its_side():
    ends = np.array([[10.0, 0.0], [-10.0, 0.0]])
    assert match_ends(ends, np.array([[-8.0, 1.0], [9.0, -2.0]])).tolist() == [[-10.0, 0.0], [10.0, 0.0]]
    assert match_ends(ends, np.array([[8.0, 1.0], [-9.0, -2.0]])).tolist() == ends.tolist()


def _frame_results(points_off: np.ndarray, cal: Calibration, with_seg: bool = True):
    cfg = _cfg()
    geom = Geometry.letterbox((128, 144), cfg.input_size)
    frame = np.zeros((128, 144), np.uint8)
    maps = _heatmaps(points_off, geom)
    seg_task, lm_task = SegmentTask(cfg, REF), LandmarkTask(cfg, REF)
    seg = SegmentationResult(0, ("head",), _mask(HEAD).astype(np.uint8), (), np.zeros(1), REF)
    ctx = FrameContext(0, frame, geom, cal, {"segmentation": seg} if with_seg else {})
    return lm_task, lm_task.postprocess({"heatmaps": maps}, ctx), seg_task


def test_landmarks_snap_to_the_segmented_ellipse_and_keep_their_names():
    truth = np.concatenate([HEAD.minor_ends(), HEAD.major_ends()])
    rng = np.random.default_rng(3)
    guess = truth + rng.uniform(-6.0, 6.0, truth.shape)  # heatmap peaks several pixels off
    cal = Calibration(regions=(Region(0, 0, 143, 127, 0.2, 0.2, "mm", "mm"),), source="regions")
    task, got, _ = _frame_results(guess, cal)
    assert isinstance(got, Landmarks) and got.names == POINTS
    assert np.hypot(*(got.points - truth).T).max() < 0.6
    bpd, hc = got.measurements
    assert bpd.unit == "mm" and bpd.value == pytest.approx(2 * HEAD.b * 0.2, abs=0.2)
    assert hc.name == "HC" and hc.unit == "mm" and hc.calibrated
    assert hc.value == pytest.approx(_ramanujan(HEAD.a, HEAD.b) * 0.2, rel=0.01)
    # the same ends with the pair given the other way round swap names with them
    _, swapped, _ = _frame_results(guess[[1, 0, 3, 2]], cal)
    np.testing.assert_allclose(swapped.points, got.points[[1, 0, 3, 2]])
    assert task.info.uses == ("segmentation",)


def test_without_a_segmentation_the_heatmap_peaks_stand_and_hc_follows_them():
    truth = np.concatenate([HEAD.minor_ends(), HEAD.major_ends()])
    guess = truth + np.array([[3.0, 0.0], [0.0, -2.0], [1.0, 1.0], [-2.0, 2.0]])
    _, got, _ = _frame_results(guess, UNCALIBRATED, with_seg=False)
    np.testing.assert_allclose(got.points, guess, atol=0.05)
    hc = got.measurements[1]
    expect = ellipse_through(*guess)
    assert hc.unit == "px" and not hc.calibrated
    assert hc.value == pytest.approx(_ramanujan(expect.a, expect.b), rel=0.005)


def test_an_ellipse_measurement_needs_a_segmented_structure():
    with pytest.raises(ConfigError, match="segmented structure 'skull'"):
        LandmarkTask(_cfg("skull"), REF)
    with pytest.raises(ConfigError, match="segmented structure 'head'"):
        LandmarkTask(_cfg("head", with_seg=False), REF)
    # without a structure it is the perimeter of the ellipse through the four points alone
    assert LandmarkTask(_cfg(None, with_seg=False), REF).info.uses == ()


def _outputs(geom: Geometry, shift: float = 4.0) -> dict[str, dict[str, np.ndarray]]:
    """One frame's head outputs: segmentation logits of the head ellipse (128x144 -> 32x36 is an
    exact quarter, no padding) and heatmap peaks ``shift`` pixels off the axis ends."""
    model_mask = cv2.resize(_mask(HEAD).astype(np.float32), (36, 32), interpolation=cv2.INTER_AREA)
    logits = np.stack([np.zeros_like(model_mask), (model_mask - 0.5) * 20]).astype(np.float32)
    truth = np.concatenate([HEAD.minor_ends(), HEAD.major_ends()])
    return {
        "segmentation": {"logits": logits},
        "landmarks": {"heatmaps": _heatmaps(truth + shift, geom).astype(np.float32)},
    }


def test_postprocess_frame_hands_earlier_results_to_later_tasks():
    cfg = _cfg()
    geom = Geometry.letterbox((128, 144), cfg.input_size)
    truth = np.concatenate([HEAD.minor_ends(), HEAD.major_ends()])
    tasks = [LandmarkTask(cfg, REF), SegmentTask(cfg, REF)]  # out of order on purpose
    ctx = FrameContext(0, np.zeros((128, 144), np.uint8), geom, UNCALIBRATED)
    got = postprocess_frame(tasks, _outputs(geom), ctx)
    assert list(got) == ["segmentation", "landmarks"]
    assert np.hypot(*(got["landmarks"].points - truth).T).max() < 2.0
    # the heatmap peaks alone are 5.7 px off
    alone = LandmarkTask(cfg, REF).postprocess(_outputs(geom)["landmarks"], ctx)
    assert np.hypot(*(alone.points - truth).T).min() > 5.0


class _FixedHeads:
    """A head runner giving the same outputs for every frame."""

    def __init__(self, outputs: dict[str, dict[str, np.ndarray]]) -> None:
        self.outputs = outputs

    def run_heads(self, keys, images, heads):
        return {h: {k: np.stack([v] * len(keys)) for k, v in self.outputs[h].items()} for h in heads}


def test_asking_for_landmarks_alone_segments_too_and_snaps_every_frame():
    cfg = _cfg()
    geom = Geometry.letterbox((128, 144), cfg.input_size)
    cine = ArrayCine(np.zeros((3, 128, 144), np.uint8), path="fetal.dcm")
    run = run_tasks(cine, _FixedHeads(_outputs(geom)), cfg, REF, "landmarks")
    assert list(run.tasks) == ["landmarks"]
    truth = np.concatenate([HEAD.minor_ends(), HEAD.major_ends()])
    frames = run.tasks["landmarks"].frames
    assert len(frames) == 3 and all(np.hypot(*(f.points - truth).T).max() < 2.0 for f in frames)
