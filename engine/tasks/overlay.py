"""Draw a frame's results (mask, boxes, landmarks) over the original frame, for review and export."""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from engine.transforms.intensity import to_unit_range
from engine.types import Detections, Landmarks, SegmentationResult

# BGR colours for label ids 1.. (0 is background and never drawn)
PALETTE = np.array(
    [(60, 60, 230), (80, 200, 80), (230, 150, 40), (40, 200, 230), (200, 80, 200), (200, 200, 60)], np.uint8
)


def _bgr(frame: np.ndarray) -> np.ndarray:
    unit = (to_unit_range(frame) * 255).astype(np.uint8)
    return cv2.cvtColor(unit, cv2.COLOR_GRAY2BGR) if unit.ndim == 2 else cv2.cvtColor(unit, cv2.COLOR_RGB2BGR)


def colour(label_id: int) -> tuple[int, int, int]:
    """BGR colour of a 1-based label id."""
    b, g, r = PALETTE[(label_id - 1) % len(PALETTE)]
    return int(b), int(g), int(r)


def draw_mask(image: np.ndarray, seg: SegmentationResult, alpha: float = 0.4) -> None:
    """Blend each structure's colour into ``image`` ``[H, W, 3]`` BGR, in place."""
    for k in range(1, len(seg.labels) + 1):
        where = seg.mask == k
        if where.any():
            image[where] = ((1 - alpha) * image[where] + alpha * np.array(colour(k))).astype(np.uint8)


def draw_boxes(image: np.ndarray, det: Detections) -> None:
    """Boxes with ``label score`` captions, in place."""
    for box, score, k in zip(det.boxes, det.scores, det.label_ids):
        x0, y0, x1, y1 = (round(float(v)) for v in box)
        c = colour(int(k) + 1)
        cv2.rectangle(image, (x0, y0), (x1, y1), c, 1)
        cv2.putText(
            image, f"{det.labels[k]} {score:.2f}", (x0, max(8, y0 - 2)), cv2.FONT_HERSHEY_SIMPLEX, 0.3, c, 1
        )


def draw_landmarks(image: np.ndarray, lm: Landmarks) -> None:
    """Landmarks as small crosses with their names, in place."""
    for k, (x, y) in enumerate(lm.points):
        c = colour(k + 1)
        cv2.drawMarker(image, (round(float(x)), round(float(y))), c, cv2.MARKER_CROSS, 6, 1)
        cv2.putText(
            image, lm.names[k], (round(float(x)) + 3, round(float(y)) - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.3, c
        )


DRAWERS = {SegmentationResult: draw_mask, Detections: draw_boxes, Landmarks: draw_landmarks}


def render(frame: np.ndarray, results: Mapping[str, object]) -> np.ndarray:
    """The original frame as ``[H, W, 3]`` uint8 BGR with every drawable result of it on top."""
    image = _bgr(frame)
    for result in results.values():
        draw = DRAWERS.get(type(result))
        if draw is not None:
            draw(image, result)  # type: ignore[operator]
    return image
