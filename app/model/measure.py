"""Caliper measurements in the units of the ultrasound region under the points.

Distances and areas use the region's mm per pixel on each axis. Points that fall in different
regions (or outside any spatial region of a region-calibrated frame) are refused with a clear
message rather than measured with the wrong scale. Uncalibrated frames are measured in pixels
and say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.model.annotations import Annotation, Point
from engine.calipers import FORMULAS
from engine.io.calibration import Calibration


class MeasureError(ValueError):
    """The points cannot be measured together (e.g. they lie in different regions)."""


@dataclass(frozen=True)
class Measurement:
    """A measured value with its unit; ``text`` is what the overlay shows."""

    value: float
    unit: str
    calibrated: bool

    @property
    def text(self) -> str:
        suffix = "" if self.calibrated or self.unit == "deg" else " (uncalibrated)"
        return f"{self.value:.1f} {self.unit}{suffix}" if self.unit != "deg" else f"{self.value:.1f}°"


def scale_for(points: Sequence[Point], calibration: Calibration) -> tuple[float, float] | None:
    """The common (mm/px x, mm/px y) of all points, None when uncalibrated.

    Raises:
        MeasureError: the points lie in different regions, or outside any spatial region.
    """
    if not calibration.calibrated:
        return None
    if calibration.regions:
        regions = {calibration.region_at(x, y) for x, y in points}
        if len(regions) > 1:
            raise MeasureError("the points lie in different ultrasound regions; measure within one region")
    scales = {calibration.mm_per_pixel_at(x, y) for x, y in points}
    if None in scales:
        raise MeasureError("a point lies outside every calibrated region")
    (scale,) = scales
    return scale


def _scaled(points: Sequence[Point], scale: tuple[float, float] | None) -> list[Point]:
    sx, sy = scale or (1.0, 1.0)
    return [(x * sx, y * sy) for x, y in points]


def measure(annotation: Annotation, calibration: Calibration) -> Measurement:
    """Measure a caliper annotation on a frame with ``calibration``.

    Raises:
        MeasureError: the points cannot be measured together.
    """
    formula, unit, raw_unit = FORMULAS[annotation.kind]
    scale = scale_for(annotation.points, calibration)
    value = formula(_scaled(annotation.points, scale))
    return Measurement(value, unit if scale else raw_unit, scale is not None)


def readout(calibration: Calibration, x: float, y: float) -> str:
    """The status-bar text for the cursor at (x, y): pixel and mm position, or uncalibrated."""
    base = f"x {x:.0f}, y {y:.0f} px"
    scale = calibration.mm_per_pixel_at(x, y)
    if scale is None:
        return f"{base} · uncalibrated"
    region = calibration.region_at(x, y)
    ox, oy = (region.x0, region.y0) if region is not None else (0, 0)
    return f"{base} · {(x - ox) * scale[0]:.1f}, {(y - oy) * scale[1]:.1f} mm ({scale[0]:.3f} mm/px)"
