"""The measurement rule: which pixel, which region and which scale a set of points gets."""

from __future__ import annotations

import math

import pytest

from engine.io.calibration import UNCALIBRATED, Calibration, Region
from engine.measurement import ACROSS_REGIONS, NO_SCALE, MeasureError, measure, pixel_of, region_of, scale_of

LEFT = Region(0, 0, 79, 99, 0.25, 0.25, "mm", "mm", "tissue")
RIGHT = Region(80, 0, 159, 99, 0.5, 0.4, "mm", "mm", "tissue")
ZOOM = Region(20, 20, 39, 39, 0.1, 0.1, "mm", "mm", "tissue")  # inside LEFT
DOPPLER = Region(0, 100, 159, 119, 0.01, 2.0, "s", "cm/s", "pw_doppler")
REGIONS = Calibration(regions=(LEFT, RIGHT, ZOOM, DOPPLER), source="regions")


def test_a_point_on_a_pixel_edge_belongs_to_the_pixel_before_it():
    assert pixel_of(79.5, 10.0) == (79, 10)
    assert pixel_of(79.5000001, 10.4999) == (80, 10)
    assert pixel_of(-0.5, 0.5) == (-1, 0)
    # so the outer edge of LEFT's last column is in LEFT, and RIGHT starts just after it
    assert region_of(REGIONS, 79.5, 10.0) is LEFT
    assert region_of(REGIONS, 79.6, 10.0) is RIGHT
    assert region_of(REGIONS, 159.5, 99.5) is RIGHT and region_of(REGIONS, 159.6, 10.0) is None


def test_the_smallest_region_wins_and_every_point_must_share_it():
    assert region_of(REGIONS, 30.0, 30.0) is ZOOM
    assert scale_of([(21.0, 21.0), (38.0, 38.0)], REGIONS) == (0.1, 0.1)
    with pytest.raises(MeasureError, match=ACROSS_REGIONS):
        scale_of([(10.0, 10.0), (30.0, 30.0)], REGIONS)  # LEFT and the zoom box inside it
    with pytest.raises(MeasureError, match=ACROSS_REGIONS):
        measure("angle", [(10.0, 10.0), (50.0, 50.0), (100.0, 10.0)], REGIONS)


def test_no_spatial_scale_is_refused_on_a_calibrated_frame_and_pixels_only_when_uncalibrated():
    with pytest.raises(MeasureError, match=NO_SCALE):
        scale_of([(10.0, 105.0), (50.0, 110.0)], REGIONS)  # both in the Doppler strip
    with pytest.raises(MeasureError, match=NO_SCALE):
        scale_of([(170.0, 10.0), (180.0, 10.0)], Calibration(regions=(LEFT, RIGHT), source="regions"))
    # regions with a frame-wide pixel spacing: outside every region the pixel spacing applies
    spaced = Calibration(regions=(LEFT,), pixel_spacing=(0.3, 0.2), source="pixel_spacing")
    assert scale_of([(100.0, 10.0), (120.0, 50.0)], spaced) == (0.2, 0.3)
    m = measure("distance", [(0.0, 0.0), (3.0, 4.0)], UNCALIBRATED)
    assert (m.value, m.unit, m.calibrated, m.text) == (5.0, "px", False, "5.0 px (uncalibrated)")


def test_anisotropic_scale_applies_per_axis():
    m = measure("distance", [(90.0, 10.0), (120.0, 50.0)], REGIONS)
    assert (m.unit, m.calibrated) == ("mm", True)
    assert m.value == pytest.approx(math.hypot(30 * 0.5, 40 * 0.4))
    area = measure("area", [(90.0, 10.0), (100.0, 10.0), (100.0, 20.0), (90.0, 20.0)], REGIONS)
    assert area.unit == "mm²" and area.value == pytest.approx(10 * 0.5 * 10 * 0.4)
