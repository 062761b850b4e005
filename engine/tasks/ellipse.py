"""An ellipse fitted to a segmented structure: its axis ends and circumference.

Fetal biometry is read this way (HC18-style): the head's outer outline is fitted by an ellipse,
BPD and OFD are its minor and major axes and HC its perimeter. Fitting the whole outline is far
steadier than locating each end on its own, because the ends lie on a smooth curve where a point
detector has little to hold on to along the curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

MIN_AREA_PX = 20  # a region smaller than this is not fitted


@dataclass(frozen=True)
class FittedEllipse:
    """An ellipse in frame pixels: centre (x, y), semi-axes ``a >= b``, ``angle`` of the major
    axis from the +x axis in radians (y pointing down)."""

    cx: float
    cy: float
    a: float
    b: float
    angle: float

    def points(self, t: np.ndarray) -> np.ndarray:
        """``[N, 2]`` points at parameters ``t`` (0: a major-axis end; pi/2: a minor-axis end)."""
        t = np.asarray(t, dtype=np.float64)
        c, s = math.cos(self.angle), math.sin(self.angle)
        x, y = self.a * np.cos(t), self.b * np.sin(t)
        return np.stack([self.cx + x * c - y * s, self.cy + x * s + y * c], axis=1)

    def minor_ends(self) -> np.ndarray:
        """``[2, 2]`` the two ends of the minor axis."""
        return self.points([math.pi / 2, -math.pi / 2])

    def major_ends(self) -> np.ndarray:
        """``[2, 2]`` the two ends of the major axis."""
        return self.points([0.0, math.pi])

    def outline(self, n: int = 180) -> np.ndarray:
        """``[n, 2]`` points around the ellipse (closed implicitly)."""
        return self.points(np.linspace(0.0, 2 * math.pi, n, endpoint=False))


def fit_ellipse(mask: np.ndarray) -> FittedEllipse | None:
    """The least-squares ellipse of the outline of the largest region of a boolean mask, taken
    through the region's convex hull.

    The outline runs through the centres of the region's edge pixels, half a pixel inside
    the region's edge, so both semi-axes are widened by half a pixel. Returns None when the
    region is smaller than ``MIN_AREA_PX`` or too thin to fit.
    """
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    if int(m.sum()) < MIN_AREA_PX:
        return None
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    outline = max(contours, key=cv2.contourArea)
    if len(outline) < 5 or cv2.contourArea(outline) < MIN_AREA_PX:
        return None
    # an ellipse is convex: the outline of the region's convex hull bridges the dents that
    # an under-segmented edge leaves, which would pull the fit inwards
    hull = np.zeros_like(m)
    cv2.fillConvexPoly(hull, cv2.convexHull(outline), 1)
    outline = max(cv2.findContours(hull, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)[0], key=cv2.contourArea)
    (cx, cy), (w, h), deg = cv2.fitEllipse(outline)
    if not (math.isfinite(w) and math.isfinite(h)) or min(w, h) <= 0:
        return None
    # cv2 gives full axis lengths, the first along the direction `deg` degrees from +x
    angle = math.radians(deg) if w >= h else math.radians(deg) + math.pi / 2
    a, b = max(w, h) / 2 + 0.5, min(w, h) / 2 + 0.5
    angle = (angle + math.pi / 2) % math.pi - math.pi / 2
    return FittedEllipse(float(cx), float(cy), float(a), float(b), float(angle))


def match_ends(ends: np.ndarray, guess: np.ndarray) -> np.ndarray:
    """The two ``ends`` ordered so that each lies nearest its ``guess`` (``[2, 2]`` each)."""
    straight = np.linalg.norm(ends - guess, axis=1).sum()
    swapped = np.linalg.norm(ends[::-1] - guess, axis=1).sum()
    return ends if straight <= swapped else ends[::-1].copy()
