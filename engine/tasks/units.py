"""Physical units from a frame's calibration: areas in mm2, distances in mm, angles in degrees.

Distances, perimeters, angles and box sizes are sets of points, measured by the one rule of
``engine.measurement`` (the same as the app's calipers): in mm where all points lie in one
calibrated region, in px flagged uncalibrated on an uncalibrated frame, and NaN (not
measured) where they lie in different regions or where no spatial scale applies.

A mask is not a set of points: each pixel counts at the scale of its own region
(SequenceOfUltrasoundRegions), so areas are summed region by region; where a pixel of the
mask has no spatial scale, the area stays in pixels and is flagged uncalibrated. What needs one
scale for a whole mask (a volume, a voxel size) takes the scale all its pixels share
(``mask_scale``), and stays in pixels where they share none.
"""

from __future__ import annotations

import math

import numpy as np

from engine.io.calibration import Calibration
from engine.measurement import MeasureError, quantity, scale_of
from engine.types import Quantity


def area(name: str, mask: np.ndarray, cal: Calibration, frame: int | None = None) -> Quantity:
    """Area of a boolean ``[H, W]`` mask: mm2 when every pixel is calibrated, else px2 (flagged)."""
    parts = _mask_parts(mask, cal) if cal.calibrated else None
    if parts is None or any(scale is None for _, scale in parts):
        return Quantity(name, float(np.count_nonzero(mask)), "px2", False, frame)
    total = sum((n * scale[0] * scale[1] for n, scale in parts if scale is not None), 0.0)
    return Quantity(name, total, "mm2", True, frame)


def mask_scale(mask: np.ndarray, cal: Calibration) -> tuple[float, float] | None:
    """The one (mm/px x, mm/px y) every pixel of a boolean ``[H, W]`` mask has, as ``area``
    scales them; None on an uncalibrated frame, for an empty mask, where a pixel has no spatial
    scale, or where its pixels have different scales (what needs one scale is then in pixels)."""
    scales = {scale for _, scale in _mask_parts(mask, cal)} if cal.calibrated else set()
    return scales.pop() if len(scales) == 1 else None


def _mask_parts(mask: np.ndarray, cal: Calibration) -> list[tuple[int, tuple[float, float] | None]]:
    """(pixel count, scale) of the mask's pixels region by region: each pixel in the smallest
    region containing it (as ``cal.mm_per_pixel_at``), the rest at the frame-wide scale; a
    scale is None where no spatial scale applies. Parts without pixels are left out."""
    parts: list[tuple[int, tuple[float, float] | None]] = []
    left = mask
    if cal.regions:
        counted = np.zeros(mask.shape, dtype=bool)
        for r in sorted(cal.regions, key=lambda r: r.n_pixels):
            window = (slice(r.y0, r.y1 + 1), slice(r.x0, r.x1 + 1))
            inside = int(np.count_nonzero(mask[window] & ~counted[window]))
            counted[window] = True
            if inside:
                parts.append((inside, cal.scale_in(r)))
        left = mask & ~counted
    outside = int(np.count_nonzero(left))  # pixels in no region: the frame-wide scale, if any
    if outside:
        parts.append((outside, cal.scale_in(None)))
    return parts


def distance(name: str, p: np.ndarray, q: np.ndarray, cal: Calibration, frame: int | None = None) -> Quantity:
    """Distance between two (x, y) points by ``engine.measurement``'s rule: mm where both lie in
    one calibrated region, px (flagged) on an uncalibrated frame, NaN where not measurable."""
    return quantity(name, "distance", _points([p, q]), cal, frame)


def perimeter(name: str, outline: np.ndarray, cal: Calibration, frame: int | None = None) -> Quantity:
    """Length of the closed polyline ``outline`` ``[N, 2]`` by ``engine.measurement``'s rule: mm
    where it lies in one calibrated region, px (flagged) on an uncalibrated frame, NaN where
    not measurable."""
    pts = np.asarray(outline, dtype=np.float64).reshape(-1, 2)
    try:
        scale = scale_of(_points(pts), cal)
    except MeasureError:
        return Quantity(name, math.nan, "mm", True, frame)
    sx, sy = scale if scale is not None else (1.0, 1.0)
    d = np.diff(np.concatenate([pts, pts[:1]]), axis=0)
    length = float(np.hypot(d[:, 0] * sx, d[:, 1] * sy).sum())
    return Quantity(name, length, "mm" if scale is not None else "px", scale is not None, frame)


def angle(
    name: str, a: np.ndarray, vertex: np.ndarray, b: np.ndarray, cal: Calibration, frame: int | None = None
) -> Quantity:
    """Angle a-vertex-b in degrees, in physical space (anisotropic pixels) by
    ``engine.measurement``'s rule; flagged uncalibrated on an uncalibrated frame, NaN where the
    points cannot be measured together."""
    return quantity(name, "angle", _points([a, vertex, b]), cal, frame)


def _points(points: object) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in np.asarray(points, dtype=np.float64).reshape(-1, 2)]


def box_size_mm(box: np.ndarray, cal: Calibration) -> tuple[float, float]:
    """(width, height) of an (x0, y0, x1, y1) box in mm, NaN where its corners cannot be
    measured together in mm (``engine.measurement``'s rule; NaN on an uncalibrated frame too)."""
    w, h = box_sizes_mm(np.asarray(box)[None], cal)[0]
    return float(w), float(h)


def box_sizes_mm(boxes: np.ndarray, cal: Calibration) -> np.ndarray:
    """``box_size_mm`` of each of ``[N, 4]`` boxes as ``[N, 2]``."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    out = np.full((len(b), 2), np.nan)
    if not cal.calibrated:
        return out
    for i, (x0, y0, x1, y1) in enumerate(b):
        try:
            scale = scale_of([(x0, y0), (x1, y1)], cal)
        except MeasureError:
            continue
        if scale is not None:
            out[i] = (x1 - x0) * scale[0], (y1 - y0) * scale[1]
    return out
