"""Burned-in annotations outside the fan: patient text, probe settings, depth scale and orientation mark.

Real ultrasound exports carry such pixels; the simulator draws them only where no echo is
shown, and reports exactly which pixels they cover so de-identification can be tested.
"""

from __future__ import annotations

import cv2
import numpy as np

from training.sim.geometry import Scanner

_FONT = cv2.FONT_HERSHEY_SIMPLEX
TEXT_GREY = 230


def _put_lines(canvas: np.ndarray, lines: tuple[str, ...], x: int, right: bool, scale: float) -> None:
    step = max(8, round(32 * scale))
    for i, text in enumerate(lines):
        (w, _), _ = cv2.getTextSize(text, _FONT, scale, 1)
        x0 = x - w if right else x
        cv2.putText(canvas, text, (int(x0), step * (i + 1)), _FONT, scale, TEXT_GREY, 1, cv2.LINE_8)


def _depth_scale(canvas: np.ndarray, scanner: Scanner, scale: float) -> None:
    """Ticks every cm of depth right of the fan, longer every 5 cm, numbered in cm."""
    _, _, x1, _ = scanner.fan_bbox_px()
    col = x1 + 3
    depth = scanner.probe.depth_mm
    for cm in range(int(depth // 10) + 1):
        row = round(scanner.mm_to_px(0.0, cm * 10.0)[1])
        if row >= canvas.shape[0]:
            break
        length = 6 if cm % 5 == 0 else 3
        cv2.line(canvas, (col, row), (col + length, row), TEXT_GREY, 1)
        if cm % 5 == 0 and cm > 0:
            cv2.putText(canvas, str(cm), (col + 8, row + 3), _FONT, scale * 0.9, TEXT_GREY, 1, cv2.LINE_8)


def _orientation_mark(canvas: np.ndarray, scanner: Scanner) -> None:
    """The probe-orientation dot, left of the fan's top edge."""
    x0, y0, _, _ = scanner.fan_bbox_px()
    radius = max(2, canvas.shape[0] // 100)
    centre = (max(radius, x0 - 3 * radius), y0 + 2 * radius)
    cv2.circle(canvas, centre, radius, TEXT_GREY, -1)


def burn_in_layer(
    scanner: Scanner,
    left_lines: tuple[str, ...],
    right_lines: tuple[str, ...],
) -> np.ndarray:
    """Draw the annotation layer for one scanner.

    Args:
        scanner: geometry of the frames the layer will be burned into.
        left_lines: text for the top-left corner (patient identity).
        right_lines: text for the top-right corner (probe, depth, gain).

    Returns:
        ``[H, W]`` uint8 layer, 0 where nothing is drawn; guaranteed 0 inside the fan
        and in a 2-pixel band around it.
    """
    h, w = scanner.shape
    canvas = np.zeros((h, w), dtype=np.uint8)
    scale = 0.3 * h / 256.0
    _put_lines(canvas, left_lines, 2, right=False, scale=scale)
    _put_lines(canvas, right_lines, w - 2, right=True, scale=scale)
    _depth_scale(canvas, scanner, scale)
    _orientation_mark(canvas, scanner)
    guard = cv2.dilate(scanner.fan_mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    canvas[guard] = 0
    return canvas


def apply_layer(frames: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """Burn a layer into ``[N, H, W]`` or ``[H, W]`` uint8 frames (in place) and return them."""
    drawn = layer > 0
    frames[..., drawn] = layer[drawn]
    return frames
