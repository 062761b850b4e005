"""The one rule for measuring a set of points on a frame: their region, scale and unit.

Every caliper value (the app's calipers, the models' landmark measurements, the report, the
CSV and the DICOM SR) is measured here, so all of them state the same number and unit:

1. **Pixel.** Coordinates are continuous pixels of the original frame with pixel centres at
   integers (``engine.types``); a point lies in the pixel ``ceil(v - 0.5)`` along each axis,
   so a point exactly on the edge between two pixels belongs to the pixel before it. The
   outer edge of a region's last row or column is therefore inside the region; the outer
   edge of its first row or column is not.
2. **Region.** A pixel belongs to the smallest ultrasound region containing it
   (``Calibration.region_at``), or to none.
3. **Scale.** On an uncalibrated frame (no spatial scale anywhere) points are measured in
   pixels: px and px², flagged uncalibrated (angles in degrees, flagged too). On a calibrated
   frame every point must lie in one region (or all in none) whose place has a spatial scale
   (``Calibration.scale_in``: the region's mm per pixel, else the frame's pixel spacing).
   Otherwise the points are **not measured**: ``MeasureError`` says why in one line. No value
   is given in pixels instead: task results carry NaN (``quantity``), the app and the report
   say "not measurable (why)", the CSV and the SR leave the value out and say why in the
   export's notes (``engine.interop.measurements``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from engine.calipers import FORMULAS
from engine.io.calibration import Calibration, Region
from engine.types import Quantity

Point = tuple[float, float]

ACROSS_REGIONS = "the points lie in different ultrasound regions; measure within one region"
NO_SCALE = "a point lies outside every calibrated region"
NOT_A_NUMBER = "the stored value is not a number"  # e.g. a model's measurement it could not make


class MeasureError(ValueError):
    """The points cannot be measured together (e.g. they lie in different regions)."""


def pixel_of(x: float, y: float) -> tuple[int, int]:
    """The (column, row) of the pixel the point lies in; an edge belongs to the pixel before it."""
    return math.ceil(x - 0.5), math.ceil(y - 0.5)


def region_of(cal: Calibration, x: float, y: float) -> Region | None:
    """The region of the pixel the point lies in (the smallest where regions overlap), or None."""
    return cal.region_at(*pixel_of(x, y))


def scale_of(points: Sequence[Point], cal: Calibration) -> tuple[float, float] | None:
    """The (mm/px x, mm/px y) all ``points`` share; None on an uncalibrated frame.

    Raises:
        MeasureError: the points lie in different regions, or where no spatial scale applies.
    """
    if not cal.calibrated:
        return None
    regions = {region_of(cal, x, y) for x, y in points}
    if len(regions) > 1:
        raise MeasureError(ACROSS_REGIONS)
    scale = cal.scale_in(regions.pop() if regions else None)
    if scale is None:
        raise MeasureError(NO_SCALE)
    return scale


def value_text(value: float, unit: str, calibrated: bool) -> str:
    """How a measured value is shown: ``"12.5 mm"``, ``"90.0°"``, ``"50.0 px (uncalibrated)"``."""
    if unit == "deg":
        return f"{value:.1f}°"
    suffix = "" if calibrated else " (uncalibrated)"
    return f"{value:.1f}{f' {unit}'.rstrip()}{suffix}"


@dataclass(frozen=True)
class Measurement:
    """A measured value with its unit; ``text`` is what the overlay and the report show."""

    value: float
    unit: str
    calibrated: bool

    @property
    def text(self) -> str:
        return value_text(self.value, self.unit, self.calibrated)


def measure(kind: str, points: Sequence[Point], cal: Calibration) -> Measurement:
    """Measure a caliper of ``kind`` (a key of ``engine.calipers.FORMULAS``) by the rule above.

    Raises:
        MeasureError: the points cannot be measured together.
    """
    formula, unit, raw_unit = FORMULAS[kind]
    scale = scale_of(points, cal)
    sx, sy = scale or (1.0, 1.0)
    value = formula([(float(x) * sx, float(y) * sy) for x, y in points])
    return Measurement(value, unit if scale else raw_unit, scale is not None)


def quantity(name: str, kind: str, points: Sequence[Point], cal: Calibration, frame: int | None) -> Quantity:
    """``measure`` as a task's ``Quantity`` (units "mm", "mm2", "deg", "px", "px2"); where the
    points cannot be measured (only on a calibrated frame), the value is NaN in the calibrated
    unit: no number, and none in pixels either."""
    try:
        m = measure(kind, points, cal)
    except MeasureError:
        return Quantity(name, math.nan, _ascii(FORMULAS[kind][1]), True, frame)
    return Quantity(name, m.value, _ascii(m.unit), m.calibrated, frame)


def _ascii(unit: str) -> str:
    return unit.replace("²", "2")
