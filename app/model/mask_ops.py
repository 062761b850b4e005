"""Mask edits in pixels of the original frame: brush strokes, lasso fills and flood fills.

A stroke paints live into the document's plane (so the overlay follows the pointer) and
becomes one ``PaintMask`` command when it ends: one stroke, one undo step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.model.annotations import Point, corrected_meta
from app.model.commands import PaintMask, mask_diff
from app.model.document import Document


def paint_disk(plane: np.ndarray, x: float, y: float, radius: float, value: int) -> None:
    """Set pixels within ``radius`` of (x, y) to ``value``."""
    h, w = plane.shape
    r = max(0.5, float(radius))
    x0, x1 = max(0, int(np.floor(x - r))), min(w, int(np.ceil(x + r)) + 1)
    y0, y1 = max(0, int(np.floor(y - r))), min(h, int(np.ceil(y + r)) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.ogrid[y0:y1, x0:x1]
    inside = (xx - x) ** 2 + (yy - y) ** 2 <= r * r
    plane[y0:y1, x0:x1][inside] = value


def paint_segment(plane: np.ndarray, a: Point, b: Point, radius: float, value: int) -> None:
    """Paint disks along the segment a-b, spaced so the stroke has no gaps."""
    dist = float(np.hypot(b[0] - a[0], b[1] - a[1]))
    steps = max(1, int(np.ceil(dist / max(0.5, radius * 0.5))))
    for t in np.linspace(0.0, 1.0, steps + 1):
        paint_disk(plane, a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), radius, value)


def fill_polygon(plane: np.ndarray, points: Sequence[Point], value: int) -> None:
    """Fill the closed polygon (a lasso trace) with ``value``."""
    import cv2  # lazy: keeps start-up light

    pts = np.round(np.asarray(points, dtype=np.float64)).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(plane, [pts], int(value))


def flood_fill(plane: np.ndarray, x: float, y: float, value: int) -> None:
    """Fill the 4-connected area of equal value around (x, y) with ``value``."""
    import cv2  # lazy: keeps start-up light

    h, w = plane.shape
    ix, iy = round(x), round(y)
    if not (0 <= ix < w and 0 <= iy < h) or plane[iy, ix] == value:
        return
    work = np.ascontiguousarray(plane)
    cv2.floodFill(work, np.zeros((h + 2, w + 2), np.uint8), (ix, iy), int(value), 0, 0, 4)
    plane[...] = work


class Stroke:
    """One brush or eraser gesture on one frame.

    Args:
        doc: the document edited.
        frame: the frame painted.
        value: the label id to paint, 0 to erase.
        radius: brush radius in pixels.
    """

    def __init__(self, doc: Document, frame: int, value: int, radius: float) -> None:
        self.doc = doc
        self.frame = frame
        self.value = value
        self.radius = radius
        self._plane = doc.mask_plane(frame)
        self._before = self._plane.copy()
        self._meta_before = doc.mask_meta.get(frame)
        self._last: Point | None = None

    def add(self, x: float, y: float) -> None:
        """Extend the stroke to (x, y) and repaint live."""
        a = self._last if self._last is not None else (x, y)
        paint_segment(self._plane, a, (x, y), self.radius, self.value)
        self._last = (x, y)
        self.doc.mask_changed.emit(self.frame)

    def finish(self) -> PaintMask | None:
        """End the stroke and record it as one undo step; None when nothing changed."""
        text = "erase" if self.value == 0 else "brush stroke"
        meta = corrected_meta(self._meta_before)
        cmd = mask_diff(self.frame, self._before, self._plane, self._meta_before, meta, text)
        if cmd is None:
            return None
        self.doc.mask_meta[self.frame] = meta
        self.doc.history.push(cmd, done=True)
        self.doc.mask_changed.emit(self.frame)
        return cmd


def whole_plane_edit(doc: Document, frame: int, text: str, edit: object) -> PaintMask | None:
    """Apply ``edit(plane)`` to a copy of the frame's plane and record the difference."""
    before = doc.mask(frame)
    after = before.copy()
    edit(after)  # type: ignore[operator]
    meta = doc.mask_meta.get(frame)
    cmd = mask_diff(frame, before, after, meta, corrected_meta(meta), text)
    doc.apply(cmd)
    return cmd
