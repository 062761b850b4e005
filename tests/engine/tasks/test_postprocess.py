"""Post-processing with known head outputs: peaks, NMS, boxes, EF with ED/ES, enhancement, report."""

import math
import re
from dataclasses import replace

import cv2
import numpy as np
import pytest

from engine.errors import TaskError
from engine.io.calibration import UNCALIBRATED, Calibration, Region
from engine.io.memory import ArrayCine
from engine.provenance import ModelRef
from engine.tasks.base import CineContext, FrameContext
from engine.tasks.classify import ClassifyTask
from engine.tasks.detect import DetectTask
from engine.tasks.ejection import area_length_volume, ejection_fraction, find_beats
from engine.tasks.enhance import EnhanceTask
from engine.tasks.landmarks import subpixel_peak
from engine.tasks.measure import MeasureTask
from engine.tasks.nms import batched_nms, box_iou, nms
from engine.tasks.presets import all_heads_cfg
from engine.tasks.runner import run_tasks
from engine.tasks.segment import SegmentTask
from engine.transforms.geometry import Geometry
from engine.types import ClassScores, EjectionFraction, Quantity

REF = ModelRef("m", "3", "")


def test_classification_probabilities_use_the_cards_calibrated_temperature():
    cfg = all_heads_cfg()
    ctx = FrameContext(
        0, np.zeros((8, 8), np.uint8), Geometry((8, 8), (0, 0, 8, 8), 1.0, (0, 0), (8, 8)), UNCALIBRATED
    )
    logits = {"logits": np.array([2.0, 0.0], np.float32)}
    raw = ClassifyTask(cfg, REF).postprocess(logits, ctx).probs
    hot = replace(cfg, calibration={"classification": {"temperature": 4.0}})
    soft = ClassifyTask(hot, REF).postprocess(logits, ctx).probs
    assert raw[0] == pytest.approx(1 / (1 + math.exp(-2.0)), abs=1e-6)
    assert soft[0] == pytest.approx(1 / (1 + math.exp(-0.5)), abs=1e-6) and soft.argmax() == raw.argmax()
    with pytest.raises(TaskError, match="temperature"):
        ClassifyTask(replace(cfg, calibration={"classification": {"temperature": 0.0}}), REF)


def test_the_cards_calibrated_bias_moves_the_call_and_a_malformed_one_is_refused():
    cfg = all_heads_cfg()
    ctx = FrameContext(
        0, np.zeros((8, 8), np.uint8), Geometry((8, 8), (0, 0, 8, 8), 1.0, (0, 0), (8, 8)), UNCALIBRATED
    )
    logits = {"logits": np.array([1.0, 0.5], np.float32)}
    shifted = replace(cfg, calibration={"classification": {"temperature": 2.0, "bias": [0.0, 1.0]}})
    probs = ClassifyTask(shifted, REF).postprocess(logits, ctx).probs
    # logits / 2 + bias = [0.5, 1.25]: the second label is now the more probable one
    assert probs[1] == pytest.approx(1 / (1 + math.exp(-0.75)), abs=1e-6) and probs.argmax() == 1
    for bad in ([0.0], [0.0, float("nan")], "high"):
        with pytest.raises(TaskError, match="bias"):
            ClassifyTask(replace(cfg, calibration={"classification": {"bias": bad}}), REF)


@pytest.mark.parametrize(("x", "y"), [(7.3, 4.8), (2.0, 9.49), (12.61, 1.2)])
def test_subpixel_peak_of_a_gaussian(x, y):
    yy, xx = np.mgrid[:16, :16]
    hm = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.5**2))
    px, py, v = subpixel_peak(hm)
    assert (px, py) == pytest.approx((x, y), abs=1e-6) and v > 0.8


def test_nms_keeps_the_best_of_overlapping_boxes_per_label():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10.0]])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    assert nms(boxes, scores, 0.5).tolist() == [0, 2]
    assert batched_nms(boxes, scores, np.array([0, 0, 0, 1]), 0.5).tolist() == [0, 2, 3]
    assert box_iou(boxes[:1], boxes[1:2])[0, 0] == pytest.approx(81 / 119)


def greedy_nms(boxes, scores, iou):
    # the textbook loop: keep the best remaining box, drop what overlaps it by more than iou
    order, keep = list(np.argsort(-scores, kind="stable")), []
    while order:
        best = order.pop(0)
        keep.append(best)
        order = [j for j in order if box_iou(boxes[best : best + 1], boxes[j : j + 1])[0, 0] <= iou]
    return keep


@pytest.mark.parametrize("chunk", [1, 3, 64])
def test_chunked_nms_keeps_what_one_box_at_a_time_keeps(chunk):
    rng = np.random.default_rng(7)
    for n in (0, 1, 5, 40, 150):
        xy = rng.uniform(0, 60, (n, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(4, 30, (n, 2))], 1)
        scores = rng.choice([0.2, 0.5, 0.9], n) if n > 100 else rng.random(n)  # ties on the big set
        for iou in (0.3, 0.5):
            assert nms(boxes, scores, iou, chunk=chunk).tolist() == greedy_nms(boxes, scores, iou)


def test_detection_boxes_map_back_with_mm_sizes():
    cfg = all_heads_cfg()
    task = DetectTask(cfg, REF, score_threshold=0.5)
    geom = Geometry.letterbox((96, 128), (64, 64))  # scale 0.5, pad top 8
    cal = Calibration(regions=(Region(0, 0, 127, 95, 0.25, 0.5, "mm", "mm"),), source="regions")
    n = 100
    cls = np.full((n, 2), -10.0)
    ctr = np.full(n, 10.0)
    boxes = np.tile([10.0, 20.0, 30.0, 40.0], (n, 1))
    cls[3, 1], cls[4, 1] = 5.0, 4.0  # two overlapping candidates of label 1
    boxes[4] += 1.0
    cls[7, 0] = 3.0
    out = task.postprocess(
        {"cls_logits": cls, "ctr_logits": ctr, "boxes": boxes},
        FrameContext(0, np.zeros((96, 128), np.uint8), geom, cal),
    )
    assert out.label_ids.tolist() == [1, 0] and len(out.boxes) == 2
    np.testing.assert_allclose(out.boxes[0], geom.boxes_to_original(boxes[3:4])[0])
    # pixel centres at integers: x = (x' + 0.5) / 0.5 - 0.5, y = (y' - 8 + 0.5) / 0.5 - 0.5
    np.testing.assert_allclose(out.boxes[0], [20.5, 24.5, 60.5, 64.5])
    np.testing.assert_allclose(out.sizes_mm[0], [40 * 0.25, 40 * 0.5])
    assert out.calibrated


def test_cross_label_suppression_keeps_one_label_per_outline():
    cfg = all_heads_cfg()
    geom = Geometry.letterbox((64, 64), (64, 64))
    n = 10
    cls, ctr = np.full((n, 2), -10.0), np.full(n, 10.0)
    boxes = np.tile([10.0, 10.0, 40.0, 40.0], (n, 1))
    cls[0, 0], cls[1, 1] = 4.0, 1.0  # one outline: a strong label-0 box and a weak label-1 box
    boxes[1] += [1.0, 0.0, 1.0, 0.0]  # IoU 0.94
    cls[2, 1], boxes[2] = 2.0, [20.0, 20.0, 30.0, 30.0]  # a small label-1 box inside (IoU 0.11)
    outputs = {"cls_logits": cls, "ctr_logits": ctr, "boxes": boxes}
    ctx = FrameContext(0, np.zeros((64, 64), np.uint8), geom, UNCALIBRATED)
    plain = DetectTask(cfg, REF, score_threshold=0.3).postprocess(outputs, ctx)
    assert sorted(plain.label_ids.tolist()) == [0, 1, 1]
    crossed = DetectTask(cfg, REF, score_threshold=0.3, cross_label_iou=0.6).postprocess(outputs, ctx)
    assert crossed.label_ids.tolist() == [0, 1]
    np.testing.assert_allclose(crossed.boxes[1], [20.0, 20.0, 30.0, 30.0])
    # the model card's detection head can ask for it
    heads = tuple(
        replace(h, params={**h.params, "cross_label_iou": 0.6}) if h.name == "detection" else h
        for h in cfg.heads
    )
    from_card = DetectTask(replace(cfg, heads=heads), REF, score_threshold=0.3).postprocess(outputs, ctx)
    assert from_card.label_ids.tolist() == [0, 1]


def test_find_beats_on_a_known_curve():
    t = np.arange(40)
    vol = 100 - 40 * (0.5 - 0.5 * np.cos(2 * np.pi * (t - 3) / 15))  # ED at 3, 18, 33; ES at 10.5, 25.5
    eds, ess = find_beats(vol, min_gap=4)
    assert eds[:2] == [3, 18]
    assert abs(ess[0] - 10.5) <= 0.5 and abs(ess[1] - 25.5) <= 0.5
    ef, _, _ = ejection_fraction(vol, 4)
    assert ef == pytest.approx(40.0, abs=0.5)


def _disk_results(radii, cal):
    task = SegmentTask(all_heads_cfg(), REF)
    out = []
    for i, r in enumerate(radii):
        mask = np.zeros((200, 200), np.uint8)
        cv2.circle(mask, (100, 100), round(r), 1, -1)
        out.append(task.result_from_mask(mask, i, cal))
    return out


def test_ejection_fraction_from_segmented_disks():
    """Area-length volume of a disk of radius r is the sphere 4/3 pi r^3: EF = 1 - (r_es / r_ed)^3."""
    t = np.arange(30)
    radii = 50 - 10 * (0.5 - 0.5 * np.cos(2 * np.pi * t / 15))  # ED 0, 15; ES 7.5 (r=40)
    cal = Calibration(pixel_spacing=(0.2, 0.2), source="pixel_spacing")
    frames = _disk_results(radii, cal)
    task = MeasureTask(all_heads_cfg(), REF)
    ef = task.ejection(frames, CineContext(tuple(t * 1000 / 30.0), cal, tuple(t)))
    assert isinstance(ef, EjectionFraction) and ef.calibrated and ef.volume_unit == "ml"
    # two full cycles: ED 0 -> ES -> ED 15 and ED 15 -> ES -> frame 29, one frame short of the
    # next ED (30) and within the cycle rule's tolerance of it
    assert ef.ed_frames == (0, 15)
    assert ef.es_frames[0] in (6, 7, 8, 9) and ef.es_frames[1] in (21, 22, 23, 24)
    expected = 100 * (1 - (np.round(radii[7]) / 50) ** 3)
    assert ef.ef_percent == pytest.approx(expected, abs=2.0)
    assert ef.volumes[0] == pytest.approx(4 / 3 * math.pi * (50 * 0.2) ** 3 / 1000, rel=0.03)


def test_area_length_volume_matches_the_pixel_list_computation():
    """Moments and outline give the volume a list of every pixel gives: principal axis from the
    covariance of the (scaled) pixel centres, length from their extent along it plus a pixel."""
    rng = np.random.default_rng(2)
    cal = Calibration(regions=(Region(0, 0, 127, 127, 0.8, 0.5, "mm", "mm", "tissue"),), source="regions")
    for k in range(20):
        mask = np.zeros((128, 128), np.uint8)
        centre = tuple(int(c) for c in rng.integers(30, 98, 2))
        axes = tuple(int(a) for a in rng.integers(2, 30, 2))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
        mask[rng.random(mask.shape) < 0.003 * (k % 2)] = 1  # stray pixels on every other mask
        for c in (cal, UNCALIBRATED):
            ys, xs = np.nonzero(mask)
            sx, sy = c.mm_per_pixel_at(xs.mean(), ys.mean()) or (1.0, 1.0)
            pts = np.stack([(xs - xs.mean()) * sx, (ys - ys.mean()) * sy], 1)
            axis = np.linalg.eigh(np.cov(pts.T))[1][:, -1]
            length = np.ptp(pts @ axis) + math.hypot(sx * axis[0], sy * axis[1])
            expected = 8 * (xs.size * sx * sy) ** 2 / (3 * math.pi * length) / (1000 if c.calibrated else 1)
            volume, calibrated = area_length_volume(mask.astype(bool), c)
            assert calibrated == c.calibrated and volume == pytest.approx(expected, rel=1e-9)
    assert area_length_volume(np.zeros((8, 8), bool), cal) == (0.0, True)


def test_enhancement_keeps_geometry_and_pixels_outside_the_crop():
    cfg = all_heads_cfg()
    task = EnhanceTask(cfg, REF)
    frame = np.random.default_rng(0).integers(0, 255, (90, 120)).astype(np.uint8)
    geom = Geometry.letterbox(frame.shape, (64, 64), (10, 5, 110, 85))
    out = task.postprocess(
        {"enhanced": np.full((1, 64, 64), 0.5, np.float32)}, FrameContext(0, frame, geom, UNCALIBRATED)
    )
    assert out.image.shape == frame.shape and out.image.dtype == np.uint8
    np.testing.assert_array_equal(out.image[:5], frame[:5])
    assert (out.image[5:85, 10:110] == 128).all()


NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def _structured_numbers(run, ref):
    values = [float(ref.version), float(len(run.frames))]
    for name, res in run.tasks.items():
        if name == "report":
            continue
        for s in res.summary:
            if isinstance(s, Quantity):
                values.append(s.value)
            elif isinstance(s, ClassScores):
                values += [float(p) for p in s.probs]
            elif isinstance(s, EjectionFraction):
                values += [s.ef_percent, *map(float, s.ed_frames), *map(float, s.es_frames)]
    return values


def test_every_number_in_the_report_comes_from_a_structured_result(tiny, predictor, beating):
    cfg, _, ref = tiny
    cal = Calibration(regions=(Region(0, 0, 127, 95, 0.2, 0.3, "mm", "mm", "tissue"),), source="regions")
    run = run_tasks(ArrayCine(beating(n=8, period=4), fps=30, calibration=cal), predictor, cfg, ref, "all")
    report = run.tasks["report"].summary[0]
    structured = _structured_numbers(run, ref)
    text = report.text.replace(cfg.name, "")  # the model's name may hold digits; it is not a number
    numbers = NUMBER.findall(text)
    assert len(numbers) >= 8  # probabilities, areas, counts, distances, EF, ED/ES frames...
    for token in numbers:
        decimals = len(token.split(".")[1]) if "." in token else 0
        assert any(round(v, decimals) == float(token) for v in structured), token
    assert "Ejection fraction (lv)" in report.text and not any(c.isdigit() for c in report.impression)


def test_report_impression_drops_specials_digits_and_stops_at_eos():
    from dataclasses import replace

    from engine.tasks.presets import REPORT_WORDS
    from engine.tasks.report import ReportTask

    cfg = all_heads_cfg()
    words = (*REPORT_WORDS, "42mm")
    cfg = replace(cfg, heads=tuple(replace(h, labels=words) if h.name == "report" else h for h in cfg.heads))
    task = ReportTask(cfg, REF)
    ids = {w: i for i, w in enumerate(task.info.labels)}
    tokens = [ids["left"], ids["ventricle"], ids["42mm"], ids["<unk>"], ids["normal"], 2, ids["lesion"]]
    ctx = FrameContext(0, np.zeros((4, 4), np.uint8), Geometry.letterbox((4, 4), (64, 64)), UNCALIBRATED)
    # backends may return token ids as float32
    assert task.postprocess({"tokens": np.array(tokens, np.float32)}, ctx) == "left ventricle normal"
