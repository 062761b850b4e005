"""Physical units from a frame's calibration: areas in mm2, distances in mm, angles in degrees.

Each region of a frame may have its own scale (SequenceOfUltrasoundRegions), so areas are
summed region by region and a distance is physical only when both ends share one region.
Where no spatial scale applies, values stay in pixels and are flagged uncalibrated.
"""

from __future__ import annotations

import math

import numpy as np

from engine.io.calibration import Calibration
from engine.types import Quantity


def area(name: str, mask: np.ndarray, cal: Calibration, frame: int | None = None) -> Quantity:
    """Area of a boolean ``[H, W]`` mask: mm2 when every pixel is calibrated, else px2 (flagged)."""
    if not cal.calibrated or not cal.regions:  # one scale or none: the pixel count is enough
        count = int(np.count_nonzero(mask))
        if not cal.calibrated:
            return Quantity(name, float(count), "px2", False, frame)
        dx, dy = cal.mm_per_pixel_at(0, 0)  # type: ignore[misc]
        return Quantity(name, float(count * dx * dy), "mm2", True, frame)
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return Quantity(name, 0.0, "mm2", True, frame)
    total = _area_mm2(xs, ys, cal)
    if total is None:
        return Quantity(name, float(xs.size), "px2", False, frame)
    return Quantity(name, total, "mm2", True, frame)


def _area_mm2(xs: np.ndarray, ys: np.ndarray, cal: Calibration) -> float | None:
    # pixels grouped by the region they fall in (smallest region where regions overlap)
    spatial = sorted(
        (r for r in cal.regions if r.is_spatial), key=lambda r: (r.x1 - r.x0 + 1) * (r.y1 - r.y0 + 1)
    )
    left = np.ones(xs.size, dtype=bool)
    total = 0.0
    for r in spatial:
        inside = left & (xs >= r.x0) & (xs <= r.x1) & (ys >= r.y0) & (ys <= r.y1)
        total += float(inside.sum()) * float(r.spacing_x) * float(r.spacing_y)  # type: ignore[arg-type]
        left &= ~inside
    if left.any():
        if cal.pixel_spacing is None or cal.source == "regions":
            return None
        row, col = cal.pixel_spacing
        total += float(left.sum()) * row * col
    return total


def _scale_between(points: np.ndarray, cal: Calibration) -> tuple[float, float] | None:
    """The common (mm/px x, mm/px y) of all points, or None if they do not share one scale."""
    # the pixel each point lies in; a point on a pixel's edge belongs to the pixel before it,
    # so the outer edge of the last row/column of a region is still inside the region
    pixels = np.ceil(np.asarray(points, dtype=np.float64) - 0.5)
    scales = {cal.mm_per_pixel_at(float(x), float(y)) for x, y in pixels}
    if len(scales) != 1 or None in scales:
        return None
    return next(iter(scales))  # type: ignore[return-value]


def distance(name: str, p: np.ndarray, q: np.ndarray, cal: Calibration, frame: int | None = None) -> Quantity:
    """Distance between two (x, y) points: mm when both share a calibrated region, else px."""
    pts = np.asarray([p, q], dtype=np.float64)
    d = pts[1] - pts[0]
    scale = _scale_between(pts, cal)
    if scale is None:
        return Quantity(name, float(math.hypot(d[0], d[1])), "px", False, frame)
    return Quantity(name, float(math.hypot(d[0] * scale[0], d[1] * scale[1])), "mm", True, frame)


def perimeter(name: str, outline: np.ndarray, cal: Calibration, frame: int | None = None) -> Quantity:
    """Length of the closed polyline ``outline`` ``[N, 2]``: mm when it lies in one calibrated
    region, else px."""
    pts = np.asarray(outline, dtype=np.float64)
    d = np.diff(np.concatenate([pts, pts[:1]]), axis=0)
    scale = _scale_between(pts, cal)
    sx, sy = scale if scale is not None else (1.0, 1.0)
    length = float(np.hypot(d[:, 0] * sx, d[:, 1] * sy).sum())
    return Quantity(name, length, "mm" if scale is not None else "px", scale is not None, frame)


def angle(
    name: str, a: np.ndarray, vertex: np.ndarray, b: np.ndarray, cal: Calibration, frame: int | None = None
) -> Quantity:
    """Angle a-vertex-b in degrees, in physical space when calibrated (anisotropic pixels)."""
    pts = np.asarray([a, vertex, b], dtype=np.float64)
    scale = _scale_between(pts, cal)
    sx, sy = scale if scale is not None else (1.0, 1.0)
    u = (pts[0] - pts[1]) * (sx, sy)
    v = (pts[2] - pts[1]) * (sx, sy)
    norm = float(np.linalg.norm(u) * np.linalg.norm(v))
    cos = 1.0 if norm == 0 else float(np.clip(np.dot(u, v) / norm, -1.0, 1.0))
    return Quantity(name, math.degrees(math.acos(cos)), "deg", scale is not None, frame)


def box_size_mm(box: np.ndarray, cal: Calibration) -> tuple[float, float]:
    """(width, height) of an (x0, y0, x1, y1) box in mm, NaN when not in one calibrated region."""
    corners = np.asarray([box[:2], box[2:]], dtype=np.float64)
    scale = _scale_between(corners, cal)
    if scale is None:
        return math.nan, math.nan
    return float((box[2] - box[0]) * scale[0]), float((box[3] - box[1]) * scale[1])
