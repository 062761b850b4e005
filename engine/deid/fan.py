"""Find the ultrasound fan (the imaged sector) so that everything outside it can be blanked.

Burned-in text (patient name, dates, settings) sits around the fan. The fan is found:

1. from the ultrasound regions when the file has them (the union of the imaging regions), else
2. from the frames: pixels that change over the clip belong to the moving sector, text and
   logos stay still; the largest connected component of the changing pixels, closed and
   filled to its convex hull, is the fan. A still image has no motion, so its non-zero pixels
   are used instead, again keeping the largest component's convex hull.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from engine.io.calibration import Region

IMAGING_TYPES = {"tissue", "color_flow", "pw_doppler", "cw_doppler"}
MOTION_LEVEL = 8  # grey levels a pixel must change by over the clip to count as moving
SIGNAL_LEVEL = 12  # grey level above which a still image's pixel counts as signal


@dataclass(frozen=True)
class Fan:
    """The fan mask ``[H, W]`` (True inside) and how it was found: regions, motion, signal or user."""

    mask: np.ndarray
    source: str


def _gray(frame: np.ndarray) -> np.ndarray:
    f = frame.astype(np.float32)
    if f.ndim == 3:
        f = f.max(axis=2)
    if frame.dtype == np.uint16:
        f = f * (255.0 / max(float(f.max()), 1.0))
    return f


def from_regions(regions: Sequence[Region], shape: tuple[int, int]) -> np.ndarray | None:
    """Union of the imaging regions' rectangles, or None when the file has no imaging region."""
    chosen = [r for r in regions if r.data_type in IMAGING_TYPES] or [r for r in regions if r.is_spatial]
    if not chosen:
        return None
    mask = np.zeros(shape, bool)
    for r in chosen:
        mask[r.y0 : r.y1 + 1, r.x0 : r.x1 + 1] = True
    return mask


def _largest_hull(binary: np.ndarray, close: bool = True) -> np.ndarray | None:
    """Convex hull of the largest connected component (after an optional closing), filled."""
    h, w = binary.shape
    k = max(3, (min(h, w) // 60) | 1)
    closed = binary.astype(np.uint8)
    if close:
        closed = cv2.morphologyEx(closed, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    if n <= 1:
        return None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    pts = cv2.findNonZero((labels == biggest).astype(np.uint8))
    hull = cv2.convexHull(pts)
    out = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(out, hull, 1)
    return out.astype(bool)


def from_frames(frames: Sequence[np.ndarray]) -> Fan:
    """The fan from pixel statistics across ``frames`` (each ``[H, W]`` or ``[H, W, 3]``)."""
    grays = [_gray(f) for f in frames]
    shape = grays[0].shape
    if len(grays) > 1:
        stack = np.stack(grays)
        moving = (stack.max(axis=0) - stack.min(axis=0)) > MOTION_LEVEL
        # a small moving area (a blinking cursor, a clock) is not a fan
        if moving.sum() > 0.02 * moving.size:
            hull = _largest_hull(moving)
            if hull is not None:
                return Fan(hull, "motion")
    signal = np.median(np.stack(grays), axis=0) > SIGNAL_LEVEL if len(grays) > 1 else grays[0] > SIGNAL_LEVEL
    # thin strokes (text) go first; a blur then joins the speckle of the image into one solid
    # area, and an opening larger than a line of text removes what is left of the text
    strokes_removed = cv2.morphologyEx(signal.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    solid = cv2.blur(strokes_removed.astype(np.float32), (9, 9)) > 0.6
    k = max(5, (min(shape) // 24) | 1)
    opened = cv2.morphologyEx(solid.astype(np.uint8), cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    hull = _largest_hull(opened.astype(bool), close=False)
    if hull is None:
        return Fan(np.ones(shape, bool), "none")
    return Fan(hull, "signal")


def detect_fan(frames: Sequence[np.ndarray], regions: Sequence[Region] = ()) -> Fan:
    """The fan of a clip: from its regions when present, else from its pixels."""
    shape = frames[0].shape[:2]
    mask = from_regions(regions, shape) if regions else None
    return Fan(mask, "regions") if mask is not None else from_frames(frames)


def refine_with_motion(mask: np.ndarray, frames: Sequence[np.ndarray]) -> np.ndarray:
    """``mask`` limited to the moving sector of a clip (text inside a region rectangle stays still)."""
    if len(frames) < 2:
        return mask
    moving = from_frames(frames)
    if moving.source != "motion":
        return mask
    inside = mask & moving.mask
    return inside if inside.sum() > 0.25 * mask.sum() else mask


def blank_outside(frame: np.ndarray, fan: np.ndarray) -> np.ndarray:
    """A copy of ``frame`` with every pixel outside ``fan`` set to 0."""
    out = np.array(frame, copy=True)
    out[~fan] = 0
    return out
