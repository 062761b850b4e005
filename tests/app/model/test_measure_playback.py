from __future__ import annotations

import math

import pytest

from app.model.annotations import Annotation
from app.model.measure import MeasureError, measure, readout
from app.model.playback import PlaybackClock
from engine.io.calibration import UNCALIBRATED


def test_distance_in_mm_matches_hand_computation(cine, mm_per_px):
    cal = cine.calibration_for(0)
    m = measure(Annotation("distance", 0, 0, ((10, 10), (40, 50))), cal)
    assert m.unit == "mm" and m.calibrated
    assert m.value == pytest.approx(math.hypot(30, 40) * mm_per_px)  # 50 px -> 12.5 mm


def test_area_ellipse_and_angle(cine, mm_per_px):
    cal = cine.calibration_for(0)
    square = measure(Annotation("area", 0, 0, ((10, 10), (30, 10), (30, 30), (10, 30))), cal)
    assert square.value == pytest.approx((20 * mm_per_px) ** 2) and square.unit == "mm²"
    ell = measure(Annotation("ellipse", 0, 0, ((10, 10), (50, 30))), cal)
    assert ell.value == pytest.approx(math.pi * 20 * mm_per_px * 10 * mm_per_px)
    ang = measure(Annotation("angle", 0, 0, ((30, 10), (10, 10), (10, 40))), cal)
    assert ang.value == pytest.approx(90.0) and ang.text == "90.0°"


def test_measuring_across_regions_is_refused(cine):
    with pytest.raises(MeasureError, match="different ultrasound regions"):
        measure(Annotation("distance", 0, 0, ((10, 10), (120, 10))), cine.calibration_for(0))


def test_uncalibrated_is_measured_in_pixels_and_says_so():
    m = measure(Annotation("distance", 0, 0, ((0, 0), (3, 4))), UNCALIBRATED)
    assert m.value == 5 and m.unit == "px" and "uncalibrated" in m.text
    assert readout(UNCALIBRATED, 3, 4).endswith("uncalibrated")


def test_readout_uses_the_region_under_the_cursor(cine):
    cal = cine.calibration_for(0)
    assert "0.250 mm/px" in readout(cal, 10, 10)
    assert "0.500 mm/px" in readout(cal, 100, 10)


def test_playback_picks_frames_by_elapsed_time(cine):
    # 25 fps: 40 ms per frame, 12 frames = 480 ms per pass
    clock = PlaybackClock(start_s=100.0, start_ms=0.0)
    assert clock.frame(cine, 100.0) == 0
    assert clock.frame(cine, 100.085) == 2
    assert clock.frame(cine, 100.5) == 0  # 500 ms wraps to 20 ms
    fast = PlaybackClock(100.0, 0.0, speed=2.0, loop=False)
    assert fast.frame(cine, 100.11) == 5  # 220 ms
    assert fast.frame(cine, 100.3) is None  # 600 ms > one pass, no loop
