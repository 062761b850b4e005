"""Ultrasound fan (sector) detection and crop-to-fan.

The fan is the bright connected region where echoes are drawn; text, calipers and the colour
bar around it are small or disconnected. Detection works on one frame or, better, on the
per-pixel maximum over a few frames of a cine (the fan is where anything ever moves).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.transforms.intensity import to_grey


@dataclass(frozen=True)
class Sector:
    """The detected fan.

    Attributes:
        mask: ``[H, W]`` bool, True inside the fan.
        box: (x0, y0, x1, y1) inclusive-exclusive pixel bounds of the fan.
        found: False when no fan was found and the whole frame is used.
    """

    mask: np.ndarray
    box: tuple[int, int, int, int]
    found: bool


def detect_sector(frames: np.ndarray, threshold: float = 0.04, min_fraction: float = 0.05) -> Sector:
    """Find the fan in ``[H, W]``, ``[H, W, 3]`` or a stack ``[N, H, W(, 3)]`` of frames.

    Args:
        frames: one frame or several frames of the same cine.
        threshold: fraction of the maximum intensity above which a pixel counts as echo.
        min_fraction: smallest fan, as a fraction of the frame area, accepted as found.
    """
    stack = np.asarray(frames)
    if stack.ndim == 2 or (stack.ndim == 3 and stack.shape[-1] == 3 and stack.shape[0] > 3):
        stack = stack[None]
    grey = np.stack([to_grey(f).astype(np.float32) for f in stack]).max(axis=0)
    h, w = grey.shape
    top = float(grey.max())
    whole = Sector(np.ones((h, w), dtype=bool), (0, 0, w, h), False)
    if top <= 0:
        return whole
    binary = (grey > threshold * top).astype(np.uint8)
    k = max(3, (min(h, w) // 60) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, kernel)
    binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, kernel)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n <= 1:
        return whole
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[best, cv2.CC_STAT_AREA] < min_fraction * h * w:
        return whole
    mask = labels == best
    x, y = stats[best, cv2.CC_STAT_LEFT], stats[best, cv2.CC_STAT_TOP]
    bw, bh = stats[best, cv2.CC_STAT_WIDTH], stats[best, cv2.CC_STAT_HEIGHT]
    return Sector(mask, (int(x), int(y), int(x + bw), int(y + bh)), True)
