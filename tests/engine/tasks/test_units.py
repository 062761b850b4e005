"""Areas, distances and angles against a hand computation from PhysicalDeltaX/Y."""

import math

import numpy as np
import pytest

from engine.io.calibration import UNCALIBRATED, Calibration, Region
from engine.tasks.ejection import area_length_volume
from engine.tasks.units import angle, area, box_size_mm, box_sizes_mm, distance, mask_scale


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
    # across two regions: not measured (NaN), never a pixel number in its place
    across = distance("x", np.array([10.0, 10.0]), np.array([140.0, 10.0]), cal)
    assert across.unit == "mm" and math.isnan(across.value)
    assert math.isnan(
        angle("a", np.array([20.0, 10.0]), np.array([10.0, 10.0]), np.array([140.0, 10.0]), cal).value
    )
    flat = distance("x", np.array([0.0, 0.0]), np.array([3.0, 4.0]), UNCALIBRATED)
    assert (flat.unit, flat.calibrated, flat.value) == ("px", False, 5.0)
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


def nested_regions(source: str = "regions", pixel_spacing=None):
    # a large B-mode region, a smaller zoom box inside it with another scale, and a Doppler
    # strip (not spatial) overlapping the zoom box
    outer = Region(0, 0, 79, 59, 0.3, 0.2, "mm", "mm", "tissue")
    zoom = Region(20, 10, 49, 39, 0.1, 0.1, "mm", "mm", "tissue")
    strip = Region(40, 30, 69, 49, 0.01, 2.0, "s", "cm/s", "pw_doppler")
    return Calibration(regions=(outer, zoom, strip), pixel_spacing=pixel_spacing, source=source)


@pytest.mark.parametrize(
    "cal",
    [nested_regions(), nested_regions("pixel_spacing", (0.5, 0.4)), two_regions()],
    ids=["regions", "regions-and-pixel-spacing", "side-by-side"],
)
def test_area_equals_the_sum_of_each_pixels_own_scale(cal):
    rng = np.random.default_rng(3)
    h, w = (120, 160)
    left_part = np.zeros((h, w), bool)
    left_part[:60, :40] = True  # the outer region and the zoom box, clear of the strip
    for mask in [rng.random((h, w)) < 0.3 for _ in range(3)] + [(rng.random((h, w)) < 0.3) & left_part]:
        per_pixel = [cal.mm_per_pixel_at(x, y) for y, x in zip(*np.nonzero(mask))]
        q = area("a", mask, cal)
        if None in per_pixel:
            assert (q.value, q.unit, q.calibrated) == (float(mask.sum()), "px2", False)
        else:
            assert q.calibrated and q.value == pytest.approx(sum(sx * sy for sx, sy in per_pixel), rel=1e-12)
    # inside the zoom box alone, the zoom box's scale
    inner = np.zeros((h, w), bool)
    inner[12:20, 22:30] = True
    assert area("a", inner, nested_regions()).value == pytest.approx(64 * 0.01)


@pytest.mark.parametrize(
    "cal",
    [nested_regions(), nested_regions("pixel_spacing", (0.5, 0.4)), two_regions(), UNCALIBRATED],
    ids=["regions", "regions-and-pixel-spacing", "side-by-side", "uncalibrated"],
)
def test_mask_scale_is_the_scale_every_pixel_has(cal):
    """... and the ventricle volume is in ml at that scale, else in pixels (flagged)."""
    rng = np.random.default_rng(6)
    h, w = (120, 160)
    found = set()
    for y, x in rng.integers(0, 120, (20, 2)):
        mask = np.zeros((h, w), bool)
        mask[y : y + rng.integers(2, 30), x : x + rng.integers(2, 30)] = True
        scales = {cal.mm_per_pixel_at(x, y) for y, x in zip(*np.nonzero(mask))}
        one = scales.pop() if len(scales) == 1 and cal.calibrated else None
        assert mask_scale(mask, cal) == one
        found.add(one is not None)
        sx, sy = one or (1.0, 1.0)
        flat = Calibration(pixel_spacing=(sy, sx), source="pixel_spacing") if one else UNCALIBRATED
        assert area_length_volume(mask, cal) == area_length_volume(mask, flat)
        assert area_length_volume(mask, cal)[1] == (one is not None)
    assert found == ({True, False} if cal.calibrated else {False})
    assert mask_scale(np.zeros((h, w), bool), cal) is None
    inner = np.zeros((h, w), bool)
    inner[12:20, 22:30] = True  # inside the zoom box alone
    assert mask_scale(inner, nested_regions()) == (0.1, 0.1)


def test_mm_per_pixel_of_many_points_is_that_of_each_point():
    rng = np.random.default_rng(4)
    for cal in (nested_regions(), nested_regions("pixel_spacing", (0.5, 0.4)), two_regions(), UNCALIBRATED):
        for n in (0, 1, 2, 7, 40):
            pts = rng.integers(-5, 170, (n, 2)).astype(np.float64)
            each = [cal.mm_per_pixel_at(x, y) or (math.nan, math.nan) for x, y in pts]
            np.testing.assert_array_equal(cal.mm_per_pixel_of(pts), np.reshape(each, (n, 2)))


def test_box_sizes_use_the_scale_both_corners_share():
    rng = np.random.default_rng(5)
    xy = rng.uniform(-5, 150, (60, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(0, 60, (60, 2))], 1)
    for cal in (nested_regions(), two_regions(), UNCALIBRATED):
        expected = []
        for x0, y0, x1, y1 in boxes:
            # the region of the pixel holding each corner (an edge belongs to the pixel before it)
            ra = cal.region_at(math.ceil(x0 - 0.5), math.ceil(y0 - 0.5))
            rb = cal.region_at(math.ceil(x1 - 0.5), math.ceil(y1 - 0.5))
            a = cal.scale_in(ra) if cal.calibrated else None
            same = a is not None and ra == rb
            expected.append(((x1 - x0) * a[0], (y1 - y0) * a[1]) if same else (math.nan, math.nan))
        sizes = box_sizes_mm(boxes, cal)
        np.testing.assert_allclose(sizes, expected, rtol=1e-12)
        np.testing.assert_array_equal([box_size_mm(b, cal) for b in boxes], sizes)
        assert np.isfinite(sizes).any() == (cal is not UNCALIBRATED)
