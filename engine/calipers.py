"""Caliper formulas: the geometry of each measured annotation kind (Qt-free).

Each formula takes points already scaled to physical units (mm per pixel applied per axis).
``engine.measurement.measure`` picks the scale and applies them, for the app's calipers, the
models' landmark measurements and every export alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable

Point = tuple[float, float]


def distance(p: list[Point]) -> float:
    """Length between two points."""
    return math.hypot(p[1][0] - p[0][0], p[1][1] - p[0][1])


def ellipse_area(p: list[Point]) -> float:
    """Area of the ellipse inscribed in the box spanned by two corner points."""
    return math.pi * abs(p[1][0] - p[0][0]) / 2 * abs(p[1][1] - p[0][1]) / 2


def polygon_area(p: list[Point]) -> float:
    """Area enclosed by a traced outline (shoelace formula)."""
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(p, p[1:] + p[:1]))) / 2


def angle(p: list[Point]) -> float:
    """Angle in degrees at the middle point (0-180)."""
    (ax, ay), (vx, vy), (bx, by) = p
    a1, a2 = math.atan2(ay - vy, ax - vx), math.atan2(by - vy, bx - vx)
    deg = abs(math.degrees(a1 - a2)) % 360
    return 360 - deg if deg > 180 else deg


# kind -> (formula on scaled points, unit when calibrated, unit when not)
FORMULAS: dict[str, tuple[Callable[[list[Point]], float], str, str]] = {
    "distance": (distance, "mm", "px"),
    "ellipse": (ellipse_area, "mm²", "px²"),
    "area": (polygon_area, "mm²", "px²"),
    "angle": (angle, "deg", "deg"),
}
