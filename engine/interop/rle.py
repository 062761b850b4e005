"""COCO run-length encoding of binary masks (column-major, uncompressed ``counts``)."""

from __future__ import annotations

import numpy as np


def encode(mask: np.ndarray) -> dict[str, list[int]]:
    """RLE of a boolean ``[H, W]`` mask: ``{"size": [H, W], "counts": [...]}``, first run zeros."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    change = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0, *counts]
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(c) for c in counts]}


def decode(rle: dict[str, list[int]]) -> np.ndarray:
    """Inverse of ``encode``: a boolean ``[H, W]`` mask.

    Raises:
        ValueError: the counts do not add up to ``H * W``.
    """
    h, w = (int(v) for v in rle["size"])
    counts = np.asarray(rle["counts"], dtype=np.int64)
    if counts.sum() != h * w or (counts < 0).any():
        raise ValueError(f"RLE counts add up to {int(counts.sum())}, not {h}x{w}")
    values = np.arange(counts.size) % 2 == 1
    return np.repeat(values, counts).reshape((h, w), order="F")


def bbox(mask: np.ndarray) -> list[float]:
    """COCO box ``[x, y, width, height]`` of a mask's pixels (empty mask: zeros)."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
