"""Caliper measurements of the document's annotations, by the engine's one measurement rule.

``engine.measurement`` decides the region, scale, edge rule and unit for the app, the models'
landmark measurements and every export alike: distances and areas use the mm per pixel of the
region under the points (else the frame's pixel spacing); points in different regions, or
where no spatial scale applies on a calibrated frame, are refused with ``MeasureError``;
uncalibrated frames are measured in pixels and say so.
"""

from __future__ import annotations

from app.model.annotations import Annotation
from engine.io.calibration import Calibration
from engine.measurement import MeasureError, Measurement, region_of
from engine.measurement import measure as measure_points

__all__ = ["MeasureError", "Measurement", "measure", "readout"]


def measure(annotation: Annotation, calibration: Calibration) -> Measurement:
    """Measure a caliper annotation on a frame with ``calibration``.

    Raises:
        MeasureError: the points cannot be measured together.
    """
    return measure_points(annotation.kind, annotation.points, calibration)


def readout(calibration: Calibration, x: float, y: float) -> str:
    """The status-bar text for the cursor at (x, y): pixel and mm position, or uncalibrated.

    The region and scale are those a caliper point at (x, y) gets (``engine.measurement``).
    """
    base = f"x {x:.0f}, y {y:.0f} px"
    region = region_of(calibration, x, y)
    scale = calibration.scale_in(region)
    if scale is None:
        return f"{base} · uncalibrated"
    ox, oy = (region.x0, region.y0) if region is not None else (0, 0)
    return f"{base} · {(x - ox) * scale[0]:.1f}, {(y - oy) * scale[1]:.1f} mm ({scale[0]:.3f} mm/px)"
