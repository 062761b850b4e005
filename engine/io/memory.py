"""A Cine over frames already in memory (simulated data, tests, derived clips)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.io.calibration import UNCALIBRATED, Calibration
from engine.io.cine import DEFAULT_FPS, Cine, CineInfo, uniform_timestamps


class ArrayCine(Cine):
    """Wrap ``[N, H, W]`` or ``[N, H, W, 3]`` frames as a Cine.

    Args:
        frames: the frames, uint8 or uint16.
        fps: frames per second; ``None`` gives the default rate, named as such.
        calibration: physical calibration of every frame.
        path: a display name (no file is read).
    """

    def __init__(
        self,
        frames: np.ndarray | Sequence[np.ndarray],
        fps: float | None = None,
        calibration: Calibration = UNCALIBRATED,
        path: str = "<memory>",
    ) -> None:
        arr = np.asarray(frames)
        if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] != 3):
            raise ValueError(f"frames must be [N, H, W] or [N, H, W, 3], got {arr.shape}")
        self._frames = arr
        n = arr.shape[0]
        rate = fps if fps else DEFAULT_FPS
        info = CineInfo(
            path=path,
            kind="memory",
            frames=n,
            rows=arr.shape[1],
            columns=arr.shape[2],
            color=arr.ndim == 4,
            bits=8 if arr.dtype == np.uint8 else 16,
            fps=rate if n > 1 else None,
            timestamps_ms=uniform_timestamps(n, rate),
            timing_source="container" if fps else ("default" if n > 1 else "single"),
            calibration=calibration,
        )
        super().__init__(info, cache_bytes=0)

    def _decode(self, index: int) -> np.ndarray:
        return self._frames[index]
