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
    total = _area_mm2(mask, cal) if cal.calibrated else None
    if total is None:
        return Quantity(name, float(np.count_nonzero(mask)), "px2", False, frame)
    return Quantity(name, total, "mm2", True, frame)


def _area_mm2(mask: np.ndarray, cal: Calibration) -> float | None:
    """Each pixel at the scale ``cal.mm_per_pixel_at`` gives it, counted region by region (the
    smallest region first, as there); None when a pixel of the mask has no spatial scale."""
    total = 0.0
    left = mask
    if cal.regions:
        counted = np.zeros(mask.shape, dtype=bool)
        for r in sorted(cal.regions, key=lambda r: r.n_pixels):
            window = (slice(r.y0, r.y1 + 1), slice(r.x0, r.x1 + 1))
            inside = np.count_nonzero(mask[window] & ~counted[window])
            counted[window] = True
            if inside:
                scale = cal.scale_in(r)
                if scale is None:
                    return None
                total += float(inside) * scale[0] * scale[1]
        left = mask & ~counted
    outside = np.count_nonzero(left)  # pixels in no region: the frame-wide scale, if any
    if outside:
        scale = cal.scale_in(None)
        if scale is None:
            return None
        total += float(outside) * scale[0] * scale[1]
    return total


def _scale_between(points: np.ndarray, cal: Calibration) -> tuple[float, float] | None:
    """The common (mm/px x, mm/px y) of all points, or None if they do not share one scale."""
    scales = cal.mm_per_pixel_of(_pixels(points))
    if np.isnan(scales).any() or not (scales == scales[0]).all():
        return None
    return float(scales[0, 0]), float(scales[0, 1])


def _pixels(points: np.ndarray) -> np.ndarray:
    # the pixel each point lies in; a point on a pixel's edge belongs to the pixel before it,
    # so the outer edge of the last row/column of a region is still inside the region
    return np.ceil(np.asarray(points, dtype=np.float64).reshape(-1, 2) - 0.5)


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
    w, h = box_sizes_mm(np.asarray(box)[None], cal)[0]
    return float(w), float(h)


def box_sizes_mm(boxes: np.ndarray, cal: Calibration) -> np.ndarray:
    """``box_size_mm`` of each of ``[N, 4]`` boxes as ``[N, 2]``, all corners looked up at once."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scales = cal.mm_per_pixel_of(_pixels(b)).reshape(-1, 2, 2)  # [box, corner, (x, y)]
    same = (scales[:, 0] == scales[:, 1]).all(axis=1)  # False where either corner is NaN
    return np.where(same[:, None], (b[:, 2:] - b[:, :2]) * scales[:, 0], np.nan)
