"""EF only over a full cardiac cycle: end-diastole, end-systole and the next end-diastole."""

import math

import cv2
import numpy as np
import pytest

from engine.io.calibration import Calibration
from engine.io.memory import ArrayCine
from engine.provenance import ModelRef
from engine.tasks.base import CineContext
from engine.tasks.ejection import MIN_CYCLE_FRAMES, ejection_fraction, find_cycles
from engine.tasks.measure import MeasureTask
from engine.tasks.presets import all_heads_cfg
from engine.tasks.report_text import finding_lines, report_problems
from engine.tasks.runner import run_tasks
from engine.tasks.segment import SegmentTask

REF = ModelRef("m", "1")
CAL = Calibration(pixel_spacing=(0.2, 0.2), source="pixel_spacing")
PERIOD = 15  # frames per beat at 30 frames/s: 120 beats/min


def radius(t):
    """A disk ventricle: radius 50 px at end-diastole (t = 0, 15, 30, ...), 40 px at end-systole."""
    return 50 - 10 * (0.5 - 0.5 * np.cos(2 * np.pi * np.asarray(t, float) / PERIOD))


def ejection(times, fps=30.0):
    """The EjectionFraction of the disks at ``times`` (frame numbers of a 30 frames/s beat)."""
    seg, measure = SegmentTask(all_heads_cfg(), REF), MeasureTask(all_heads_cfg(), REF)
    frames = []
    for i, t in enumerate(times):
        mask = np.zeros((200, 200), np.uint8)
        cv2.circle(mask, (100, 100), round(float(radius(t))), 1, -1)
        frames.append(seg.result_from_mask(mask, i, CAL))
    stamps = tuple(i * 1000.0 / fps for i in range(len(times)))
    return measure.ejection(frames, CineContext(stamps, CAL, tuple(range(len(times)))))


EXPECTED = 100 * (1 - (40 / 50) ** 3)  # area-length volume of a disk is the sphere's


@pytest.mark.parametrize("n", [2, 4, 8, PERIOD - 3])
def test_a_cine_shorter_than_a_cycle_gets_no_ef(n):
    """Four frames used to give an EF from frames 0 and 1; no number now, from any part of a beat."""
    for start in (0, 4, 9):
        ef = ejection(np.arange(start, start + n))
        assert math.isnan(ef.ef_percent), (n, start, ef.ef_percent)
        assert ef.volumes.size == n


def test_a_cine_short_of_a_cycle_keeps_the_marks_it_shows():
    ef = ejection(np.arange(10, 28))  # ED at 15, ES at 22-23, the next ED (30) not reached
    assert math.isnan(ef.ef_percent)
    assert ef.ed_frames == (5,) and ef.es_frames[0] in (12, 13)  # indices of the analysed frames


def test_a_cine_covering_one_cycle_gets_its_ef():
    ef = ejection(np.arange(10, 32))  # ED 15 -> ES 22.5 -> ED 30
    assert ef.ef_percent == pytest.approx(EXPECTED, abs=2.0)
    assert ef.ed_frames == (5,) and ef.es_frames[0] in (12, 13)
    # one exactly from end-diastole to end-diastole (an ECG-triggered loop) counts too
    assert ejection(np.arange(0, PERIOD + 1)).ef_percent == pytest.approx(EXPECTED, abs=2.0)


def test_a_beat_cut_by_the_range_does_not_count():
    """Starting in mid-systole: the first frame is the curve's highest near it but no end-diastole;
    the EF comes from the full cycle only (a beat counted from the first frame would give less)."""
    ef = ejection(np.arange(4, 40))  # 4 is a third into systole; ED 15 -> ES -> ED 30; 40 mid-systole
    assert ef.ed_frames == (11,)
    assert ef.ef_percent == pytest.approx(EXPECTED, abs=2.0)


def test_a_cycle_needs_enough_frames_to_find_end_systole():
    """At 10 frames/s a 120/min beat is 5 frames: two and a half beats are still too few samples."""
    times = np.arange(0, 13) * 3  # every third frame of the 30 frames/s beat
    ef = ejection(times, fps=10.0)
    assert math.isnan(ef.ef_percent) and ef.volumes.size < 2 * MIN_CYCLE_FRAMES


def test_find_cycles_on_a_known_curve():
    t = np.arange(50)
    vol = 100 - 40 * (0.5 - 0.5 * np.cos(2 * np.pi * (t - 3) / 15))  # ED at 3, 18, 33, 48
    assert [(a, b) for a, _, b in find_cycles(vol, 4)] == [(3, 18), (18, 33), (33, 48)]
    assert find_cycles(vol[:17], 4) == []  # ED 3 and ES 10.5 but no next ED
    ef, eds, ess = ejection_fraction(vol[:17], 4)
    assert math.isnan(ef) and eds == [3] and ess in ([10], [11])


def test_a_four_frame_cine_through_the_runner_gets_no_ef_and_the_report_says_why(tiny, predictor, beating):
    cfg, _, ref = tiny
    cine = ArrayCine(beating(n=4, period=4), fps=30, calibration=CAL)
    run = run_tasks(cine, predictor, cfg, ref, "all")
    ef = run.tasks["regression"].summary[-1]
    assert type(ef).__name__ == "EjectionFraction" and math.isnan(ef.ef_percent)
    report = run.tasks["report"].summary[0]
    value = dict(finding_lines(report.text))["Ejection fraction (lv)"]
    assert value.startswith("not reported: ") and not any(c.isdigit() for c in value)
    assert "mean ef" not in report.text and report_problems(report.text) == []
