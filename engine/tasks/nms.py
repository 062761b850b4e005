"""Non-maximum suppression in numpy (per class), for the detection task."""

from __future__ import annotations

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of ``[N, 4]`` and ``[M, 4]`` (x0, y0, x1, y1) boxes -> ``[N, M]``."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = 0.5, chunk: int = 64) -> np.ndarray:
    """Indices of the boxes kept by greedy NMS, best score first.

    Greedy NMS keeps the best box, drops every box overlapping it by more than ``iou``, and
    repeats. The boxes are taken ``chunk`` at a time in score order: one IoU matrix settles a
    chunk among itself, and its kept boxes then filter all later boxes at once, so the Python
    loop touches no more than ``chunk`` boxes per numpy call and never builds an N x N matrix.

    Args:
        boxes: ``[N, 4]`` (x0, y0, x1, y1).
        scores: ``[N]``.
        iou: a box overlapping a kept one by more than this is dropped.
        chunk: boxes settled per IoU matrix.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-scores, kind="stable")
    keep: list[np.ndarray] = []
    while order.size:
        head, order = order[:chunk], order[chunk:]
        fits = box_iou(boxes[head], boxes[head]) <= iou  # not fitting: overlaps too much (or NaN)
        dropped = np.zeros(head.size, dtype=bool)
        kept = []
        for i in range(head.size):
            if not dropped[i]:
                kept.append(i)
                dropped[i + 1 :] |= ~fits[i, i + 1 :]
        winners = head[kept]
        keep.append(winners)
        if order.size:
            order = order[(box_iou(boxes[winners], boxes[order]) <= iou).all(axis=0)]
    return np.concatenate(keep) if keep else np.zeros(0, dtype=np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou: float = 0.5) -> np.ndarray:
    """NMS within each label only: boxes of different labels never suppress each other."""
    if boxes.size == 0:
        return np.zeros(0, dtype=np.int64)
    offset = (boxes.max() + 1.0) * labels.astype(np.float64)
    shifted = boxes + offset[:, None]
    return nms(shifted, scores, iou)
