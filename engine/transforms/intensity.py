"""Intensity preprocessing: scale to [0, 1], grey to three channels, per-channel mean/std.

EchoCare takes three channels; a grey B-mode frame is replicated (echocare.md section 8).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def unit_scale(frame: np.ndarray) -> float:
    """The value that maps to 1.0: 255 for uint8, ``2**bits - 1`` for wider integers, 1 for floats.

    Wider integer frames are scaled by their own bit depth (the smallest power of two above
    the largest value, at least 2**8), so 12-bit data keeps its contrast.
    """
    if frame.dtype == np.uint8:
        return 255.0
    if np.issubdtype(frame.dtype, np.integer):
        top = int(frame.max()) if frame.size else 0
        bits = max(8, int(np.ceil(np.log2(top + 1))) if top > 0 else 8)
        return float(2**bits - 1)
    return 1.0


def to_unit_range(frame: np.ndarray) -> np.ndarray:
    """Scale uint8/uint16/float pixels to float32 in [0, 1] (see ``unit_scale``)."""
    return np.clip(frame.astype(np.float32) / unit_scale(frame), 0.0, 1.0)


def from_unit_range(image: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Inverse of ``to_unit_range``: [0, 1] float back to the dtype and scale of ``like``."""
    scaled = np.clip(image, 0.0, 1.0) * unit_scale(like)
    if np.issubdtype(like.dtype, np.integer):
        return np.rint(scaled).astype(like.dtype)
    return scaled.astype(like.dtype)


def to_channels(frame: np.ndarray, channels: int = 3) -> np.ndarray:
    """``[H, W]`` or ``[H, W, 3]`` -> ``[channels, H, W]``: grey is replicated, RGB kept or averaged."""
    if frame.ndim == 2:
        return np.repeat(frame[None], channels, axis=0)
    if frame.ndim == 3 and frame.shape[-1] == 3:
        chw = np.moveaxis(frame, -1, 0)
        return chw if channels == 3 else np.repeat(chw.mean(0, keepdims=True), channels, axis=0)
    raise ValueError(f"a frame must be [H, W] or [H, W, 3], got {frame.shape}")


def normalize(chw: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """``(x - mean) / std`` per channel of ``[C, H, W]`` float32."""
    m = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
    s = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
    return ((chw - m) / s).astype(np.float32)


def denormalize(chw: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Inverse of ``normalize`` for the first ``C`` channels of ``[C, H, W]``."""
    c = chw.shape[0]
    m = np.asarray(mean, dtype=np.float32)[:c].reshape(-1, 1, 1)
    s = np.asarray(std, dtype=np.float32)[:c].reshape(-1, 1, 1)
    return (chw * s + m).astype(np.float32)


def to_grey(frame: np.ndarray) -> np.ndarray:
    """``[H, W]`` or ``[H, W, 3]`` -> ``[H, W]`` (luma-free mean of RGB)."""
    return frame if frame.ndim == 2 else frame.mean(axis=-1).astype(frame.dtype)


def to_grey01(frame: np.ndarray) -> np.ndarray:
    """``[H, W]`` or ``[H, W, 3]`` uint8/uint16 -> ``[H, W]`` float32 in [0, 1]."""
    f = np.asarray(frame)
    if f.ndim == 3:
        f = f[..., :3].mean(axis=-1)
    scale = 65535.0 if np.asarray(frame).dtype == np.uint16 else 255.0
    return (f.astype(np.float32) / scale).clip(0.0, 1.0)
