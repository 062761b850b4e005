"""When a faster path's task results count as the same as the fp32 reference's."""

from dataclasses import replace

import numpy as np

from engine.agreement import first_difference, min_dice, results_agree
from engine.provenance import ModelRef
from engine.types import ClassScores, Detections, Quantity, Report, SegmentationResult

REF = ModelRef("m", "1", "0" * 64)


def _segmentation(mask):
    counts = np.array([(mask == 1).sum()])
    return SegmentationResult(0, ("lv",), mask, (Quantity("lv area", float(counts[0]), "px2"),), counts, REF)


def test_masks_agree_down_to_dice_099():
    mask = np.zeros((100, 100), np.uint8)
    mask[10:90, 10:90] = 1  # 6400 pixels
    near = mask.copy()
    near[10, 10:60] = 0  # 50 pixels fewer: Dice 0.9961, area within 1 %
    far = mask.copy()
    far[10:12, 10:90] = 0  # 160 fewer: Dice 0.9876
    assert min_dice(mask, near) > 0.99 > min_dice(mask, far)
    assert results_agree([{"segmentation": _segmentation(mask)}], [{"segmentation": _segmentation(near)}])
    found = first_difference(_segmentation(mask), _segmentation(far))
    assert found.startswith("result.mask: Dice 0.98")


def test_the_same_class_must_win_and_values_stay_within_one_percent():
    scores = ClassScores(("a", "b"), np.array([0.7, 0.3], np.float32), REF, frame=0)
    assert results_agree(scores, replace(scores, probs=np.array([0.6, 0.4], np.float32)))
    assert first_difference(scores, replace(scores, probs=np.array([0.4, 0.6], np.float32))) == (
        "result.probs: class 1 vs 0"
    )
    assert results_agree(Quantity("ef", 40.3, "%"), Quantity("ef", 40.5, "%"))
    assert not results_agree(Quantity("ef", 40.3, "%"), Quantity("ef", 41.0, "%"))
    assert not results_agree(Quantity("ef", 40.3, "%"), Quantity("ef", 40.3, "ml"))


def test_boxes_need_the_same_classes_and_count():
    def boxes(xy, ids):
        n = len(ids)
        xy = np.asarray(xy, np.float64).reshape(n, 4)
        sizes = np.full((n, 2), np.nan)  # uncalibrated: NaN in the same places agrees
        return Detections(0, ("a", "b"), xy, np.ones(n, np.float32), np.asarray(ids), sizes, REF)

    ref = boxes([10, 10, 50, 60], [0])
    assert results_agree(ref, boxes([10.2, 10, 50, 60.3], [0]))
    assert first_difference(ref, boxes([10, 10, 50, 60], [1])) == "result.label_ids: values differ"
    assert first_difference(ref, boxes([], [])).startswith("result.boxes: shape [0, 4]")


def test_numbers_in_text_may_move_within_one_percent_but_words_may_not():
    report = Report("EF 40.3 %", (("EF", "40.3 %"),), "normal function", REF)
    assert results_agree(report, replace(report, text="EF 40.4 %", findings=(("EF", "40.4 %"),)))
    assert not results_agree(report, replace(report, text="EF 45.0 %"))
    assert not results_agree(report, replace(report, impression="reduced function"))
