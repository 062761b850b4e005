"""Carry corrected masks, boxes and landmarks through a cine (numpy and OpenCV; no torch, no Qt).

A *keyframe* is a frame a person corrected. Every other frame of a span between two keyframes
(or between a keyframe and the cine's end) gets labels carried from its neighbouring keyframes:

* **Masks** travel as soft per-label probabilities. Each step warps the previous frame's
  probabilities by dense optical flow (``cv2.calcOpticalFlowFarneback``, target to source, so
  every target pixel samples where it came from). When the caller supplies encoder features
  (e.g. the 1/4 level of the model's encoder, ``[C, h, w]`` per frame), a feature-similarity
  label propagation runs as well: each target position takes the labels of its most similar
  positions in the keyframe and the previous frame within a local window; its low-resolution
  probabilities are upsampled and blended with the flow's, which refine them at full resolution.
* Between two keyframes the forward and backward passes are blended, each weighted by its
  closeness to its keyframe.
* A short temporal filter over the soft probabilities damps frame-to-frame flicker; keyframes
  themselves are never changed.
* **Points** (landmarks, box corners) move with the flow sampled at their position.

``affected_span`` tells which frames one correction changes: those up to the next keyframe on
each side, so correcting a frame re-propagates only that span.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

FeatureFn = Callable[[int], np.ndarray]
"""Encoder features ``[C, h, w]`` of one frame index (any fixed stride)."""


@dataclass(frozen=True)
class PropagateCfg:
    """Propagation settings.

    Attributes:
        smooth: half-width (frames) of the temporal filter on the soft probabilities; 0 is off.
        feature_weight: share of the feature-similarity probabilities where features are given.
        window: half-width (feature cells) of the local search window of feature propagation.
        top_k: neighbours each feature cell takes labels from.
        temperature: softmax temperature of the cosine similarities.
    """

    smooth: int = 1
    feature_weight: float = 0.5
    window: int = 3
    top_k: int = 8
    temperature: float = 0.05


def grey(frame: np.ndarray) -> np.ndarray:
    """``[H, W]`` uint8 of a grey or RGB frame."""
    if frame.ndim == 3:
        frame = cv2.cvtColor(np.ascontiguousarray(frame[..., :3]), cv2.COLOR_RGB2GRAY)
    if frame.dtype != np.uint8:
        frame = cv2.normalize(frame.astype(np.float32), None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return frame


def flow(target: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Dense flow ``[H, W, 2]`` (dx, dy) from each target pixel to where it lies in ``source``."""
    return cv2.calcOpticalFlowFarneback(grey(target), grey(source), None, 0.5, 3, 15, 3, 5, 1.2, 0)


def warp(probs: np.ndarray, fl: np.ndarray) -> np.ndarray:
    """Sample ``probs`` ``[K, H, W]`` at ``pixel + flow`` (bilinear, edges replicated)."""
    h, w = fl.shape[:2]
    xx, yy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = xx + fl[..., 0], yy + fl[..., 1]
    return np.stack([cv2.remap(p, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) for p in probs])


def one_hot(plane: np.ndarray, values: Sequence[int]) -> np.ndarray:
    """``[K, H, W]`` float32 with one channel per label value (value 0, background, first)."""
    return np.stack([(plane == v).astype(np.float32) for v in values])


def affected_span(frame: int, keyframes: Sequence[int], n_frames: int) -> tuple[int, int]:
    """Frames ``[start, stop)`` whose propagated labels change when ``frame`` is corrected.

    The span reaches to the nearest other keyframe on each side (exclusive), else the cine's ends.
    """
    before = [k for k in keyframes if k < frame]
    after = [k for k in keyframes if k > frame]
    return (max(before) + 1 if before else 0, min(after) if after else n_frames)


def _feature_step(
    ref_feats: Sequence[np.ndarray], ref_probs: Sequence[np.ndarray], target: np.ndarray, cfg: PropagateCfg
) -> np.ndarray:
    """Label probabilities ``[K, h, w]`` of ``target`` features from reference frames' labels."""
    _c, h, w = target.shape
    t = target / (np.linalg.norm(target, axis=0, keepdims=True) + 1e-6)
    sims, labs = [], []
    r = cfg.window
    for feats, probs in zip(ref_feats, ref_probs, strict=True):
        f = feats / (np.linalg.norm(feats, axis=0, keepdims=True) + 1e-6)
        fp = np.pad(f, ((0, 0), (r, r), (r, r)), mode="edge")
        pp = np.pad(probs, ((0, 0), (r, r), (r, r)), mode="edge")
        for dy in range(2 * r + 1):
            for dx in range(2 * r + 1):
                sims.append((t * fp[:, dy : dy + h, dx : dx + w]).sum(0))
                labs.append(pp[:, dy : dy + h, dx : dx + w])
    s = np.stack(sims)  # [M, h, w]
    k = min(cfg.top_k, s.shape[0])
    cut = np.partition(s, -k, axis=0)[-k][None]
    wgt = np.where(s >= cut, np.exp((s - s.max(0, keepdims=True)) / cfg.temperature), 0.0)
    wgt /= wgt.sum(0, keepdims=True) + 1e-12
    return np.einsum("mhw,mkhw->khw", wgt, np.stack(labs)).astype(np.float32)


def _resize(probs: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    return np.stack([cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR) for p in probs])


def _pass(
    frames: Sequence[np.ndarray],
    order: Sequence[int],
    start: np.ndarray,
    features: FeatureFn | None,
    cfg: PropagateCfg,
) -> dict[int, np.ndarray]:
    """Soft labels along ``order`` (its first frame is the keyframe holding ``start``)."""
    key = order[0]
    out = {key: start}
    if features is not None:
        key_feats = features(key)
        key_low = _resize(start, key_feats.shape[1:])
        prev_feats, prev_low = key_feats, key_low
    for prev, cur in itertools.pairwise(order):
        probs = warp(out[prev], flow(frames[cur], frames[prev]))
        if features is not None:
            cur_feats = features(cur)
            low = _feature_step((key_feats, prev_feats), (key_low, prev_low), cur_feats, cfg)
            probs = (1 - cfg.feature_weight) * probs + cfg.feature_weight * _resize(low, probs.shape[1:])
            prev_feats, prev_low = cur_feats, _resize(probs, cur_feats.shape[1:])
        out[cur] = probs
    return out


def _smooth(probs: dict[int, np.ndarray], fixed: set[int], half: int) -> dict[int, np.ndarray]:
    if half <= 0:
        return probs
    out = {}
    for f, p in probs.items():
        if f in fixed:
            out[f] = p
            continue
        near = [probs[g] for g in range(f - half, f + half + 1) if g in probs]
        out[f] = np.mean(near, axis=0)
    return out


def propagate_masks(
    frames: Sequence[np.ndarray],
    keyframes: Mapping[int, np.ndarray],
    span: tuple[int, int] | None = None,
    features: FeatureFn | None = None,
    cfg: PropagateCfg = PropagateCfg(),
) -> dict[int, np.ndarray]:
    """Label planes for the non-key frames of ``span``, carried from the keyframes' masks.

    Args:
        frames: the cine's frames, ``[H, W]`` or ``[H, W, 3]`` each (a lazy sequence is fine).
        keyframes: corrected frames, ``{frame: label plane [H, W] uint8}`` (0 is background).
        span: frames ``[start, stop)`` to fill (e.g. from :func:`affected_span`); None is all.
        features: optional encoder features per frame index for feature-similarity propagation.
        cfg: propagation settings.

    Returns:
        ``{frame: label plane [H, W] uint8}`` for every frame of the span that is not a keyframe
        and can be reached from one.
    """
    if not keyframes:
        return {}
    n = len(frames)
    lo, hi = span or (0, n)
    values = sorted({0, *(int(v) for p in keyframes.values() for v in np.unique(p))})
    keys = sorted(keyframes)
    soft: dict[int, list[tuple[float, np.ndarray]]] = {}
    for i, k in enumerate(keys):
        prev_k = keys[i - 1] if i else None
        next_k = keys[i + 1] if i + 1 < len(keys) else None
        fwd_end = next_k if next_k is not None else n - 1
        bwd_end = prev_k if prev_k is not None else 0
        start = one_hot(keyframes[k], values)
        for a, b in ((k, fwd_end), (k, bwd_end)):
            targets = [f for f in _between(a, b) if lo <= f < hi and f not in keyframes]
            if not targets:
                continue
            far = max(targets, key=lambda f: abs(f - a))
            order = _between(a, far)
            gap = abs(b - a) if (b in keyframes and b != a) else None
            for f, p in _pass(frames, order, start, features, cfg).items():
                if f in targets:
                    wgt = 1.0 if gap is None else 1.0 - abs(f - a) / gap
                    soft.setdefault(f, []).append((max(wgt, 1e-3), p))
    blended = {f: sum(w * p for w, p in parts) / sum(w for w, _ in parts) for f, parts in soft.items()}
    smoothed = _smooth(blended, set(), cfg.smooth)
    lut = np.asarray(values, np.uint8)
    return {f: lut[p.argmax(0)] for f, p in sorted(smoothed.items())}


def _between(a: int, b: int) -> list[int]:
    step = 1 if b >= a else -1
    return list(range(a, b + step, step))


def move_points(
    frames: Sequence[np.ndarray], points: np.ndarray, start: int, stop: int
) -> dict[int, np.ndarray]:
    """Track points ``[P, 2]`` (x, y) from frame ``start`` to every frame up to ``stop`` (inclusive).

    Returns:
        ``{frame: points [P, 2] float32}`` for each frame after ``start`` towards ``stop``.
    """
    out: dict[int, np.ndarray] = {}
    cur = np.asarray(points, np.float32).reshape(-1, 2)
    order = _between(start, stop)
    for prev, f in itertools.pairwise(order):
        fl = flow(frames[prev], frames[f])  # from prev pixels to where they are in f
        h, w = fl.shape[:2]
        xs = np.clip(np.round(cur[:, 0]).astype(int), 0, w - 1)
        ys = np.clip(np.round(cur[:, 1]).astype(int), 0, h - 1)
        cur = cur + fl[ys, xs]
        out[f] = cur.copy()
    return out


def propagate_points(
    frames: Sequence[np.ndarray], keyframes: Mapping[int, np.ndarray], span: tuple[int, int] | None = None
) -> dict[int, np.ndarray]:
    """Landmarks (or box corners) ``[P, 2]`` for the non-key frames of ``span``.

    Each frame blends the points tracked from the keyframe before it and the one after it,
    weighted by closeness, so a track meets the next correction without a jump.
    """
    n = len(frames)
    lo, hi = span or (0, n)
    keys = sorted(keyframes)
    parts: dict[int, list[tuple[float, np.ndarray]]] = {}
    for i, k in enumerate(keys):
        for end, other in ((keys[i + 1] if i + 1 < len(keys) else n - 1, i + 1 < len(keys)),
                           (keys[i - 1] if i else 0, i > 0)):  # fmt: skip
            if end == k:
                continue
            gap = abs(end - k)
            for f, p in move_points(frames, keyframes[k], k, end).items():
                if lo <= f < hi and f not in keyframes:
                    parts.setdefault(f, []).append((1.0 - abs(f - k) / gap if other else 1.0, p))
    return {
        f: (sum(w * p for w, p in ps) / max(1e-6, sum(w for w, _ in ps))).astype(np.float32)
        for f, ps in sorted(parts.items())
    }


def propagate_boxes(
    frames: Sequence[np.ndarray], keyframes: Mapping[int, np.ndarray], span: tuple[int, int] | None = None
) -> dict[int, np.ndarray]:
    """Boxes ``[B, 4]`` (x0, y0, x1, y1) carried like points (their corners), kept well-ordered."""
    corners = {f: np.asarray(b, np.float32).reshape(-1, 2) for f, b in keyframes.items()}
    out = {}
    for f, pts in propagate_points(frames, corners, span).items():
        b = pts.reshape(-1, 4)
        out[f] = np.concatenate([np.minimum(b[:, :2], b[:, 2:]), np.maximum(b[:, :2], b[:, 2:])], axis=1)
    return out


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two boolean masks (1.0 when both are empty)."""
    inter = np.logical_and(a, b).sum()
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2 * inter / total)
