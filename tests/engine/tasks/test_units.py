"""Areas, distances and angles against a hand computation from PhysicalDeltaX/Y."""

import math

import numpy as np
import pytest

from engine.io.calibration import UNCALIBRATED, Calibration, Region
from engine.tasks.units import angle, area, box_size_mm, distance


def two_regions():
    # a B-mode region with anisotropic spacing and a second one beside it with another scale
    left = Region(0, 0, 99, 119, 0.3, 0.2, "mm", "mm", "tissue")
    right = Region(100, 0, 159, 119, 0.5, 0.5, "mm", "mm", "tissue")
    return Calibration(regions=(left, right), source="regions")


def test_area_sums_each_region_with_its_own_spacing():
    mask = np.zeros((120, 160), bool)
    mask[10:30, 90:110] = True  # 20 rows x 10 columns in each region
    q = area("lv area", mask, two_regions())
    assert q.unit == "mm2" and q.calibrated
    assert q.value == pytest.approx(200 * 0.3 * 0.2 + 200 * 0.5 * 0.5, rel=1e-9)


def test_area_outside_any_region_falls_back_to_flagged_pixels():
    cal = Calibration(regions=(Region(0, 0, 49, 49, 0.3, 0.3, "mm", "mm"),), source="regions")
    mask = np.zeros((100, 100), bool)
    mask[40:60, 40:60] = True
    q = area("a", mask, cal)
    assert (q.value, q.unit, q.calibrated) == (400.0, "px2", False)


def test_pixel_spacing_and_uncalibrated():
    mask = np.ones((4, 5), bool)
    assert area("a", mask, Calibration(pixel_spacing=(0.25, 0.5), source="pixel_spacing")).value == 20 * 0.125
    q = area("a", mask, UNCALIBRATED)
    assert (q.value, q.unit, q.calibrated) == (20.0, "px2", False)


def test_distance_and_angle_in_physical_space():
    cal = two_regions()
    d = distance("BPD", np.array([10.0, 10.0]), np.array([40.0, 50.0]), cal)
    assert d.unit == "mm" and d.value == pytest.approx(math.hypot(30 * 0.3, 40 * 0.2))
    across = distance("x", np.array([10.0, 10.0]), np.array([140.0, 10.0]), cal)
    assert (across.unit, across.calibrated, across.value) == ("px", False, 130.0)
    a = angle("ang", np.array([20.0, 10.0]), np.array([10.0, 10.0]), np.array([10.0, 25.0]), cal)
    assert a.value == pytest.approx(90.0)
    # anisotropic pixels change a diagonal angle: atan2(10 * 0.2, 10 * 0.3)
    b = angle("ang", np.array([20.0, 10.0]), np.array([10.0, 10.0]), np.array([20.0, 20.0]), cal)
    assert b.value == pytest.approx(math.degrees(math.atan2(2.0, 3.0)))
    assert not angle("a", *np.eye(3)[:, :2], UNCALIBRATED).calibrated


def test_box_size():
    w, h = box_size_mm(np.array([10.0, 10.0, 30.0, 60.0]), two_regions())
    assert (w, h) == pytest.approx((6.0, 10.0))
    assert math.isnan(box_size_mm(np.array([10.0, 10.0, 130.0, 60.0]), two_regions())[0])
