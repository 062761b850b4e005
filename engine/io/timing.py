"""Frame timing of a DICOM cine: which attribute gives the timestamps, and the timestamps themselves.

The Cine module (PS3.3 C.7.6.5) names the attribute that changes from frame to frame in
FrameIncrementPointer: FrameTime (0018,1063) for a constant rate or FrameTimeVector (0018,1065)
for a varying one. We honour that pointer first, then fall back in the order of how directly each
attribute describes acquisition timing: FrameTimeVector, FrameTime, CineRate (0018,0040) and
RecommendedDisplayFrameRate (0008,2144). Without any of them the default rate is used and
named as such.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import Tag

from engine.io.cine import DEFAULT_FPS, timestamps_from_intervals, uniform_timestamps

FRAME_TIME = Tag(0x0018, 0x1063)
FRAME_TIME_VECTOR = Tag(0x0018, 0x1065)


@dataclass(frozen=True)
class Timing:
    """Timestamps of every frame and where they came from.

    Attributes:
        timestamps_ms: one per frame, first 0, cumulative, in ms.
        fps: the nominal rate in frames per second, or None for a single frame.
        source: one of ``engine.io.cine.TIMING_SOURCES``.
    """

    timestamps_ms: tuple[float, ...]
    fps: float | None
    source: str


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, MultiValue | list | tuple) else [value]


def _number(value: object) -> float | None:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if np.isfinite(out) and out > 0 else None


def _from_vector(ds: Dataset, frames: int) -> Timing | None:
    raw = ds.get("FrameTimeVector")
    if raw is None:
        return None
    try:
        values = np.asarray([float(v) for v in _as_list(raw)])
        stamps = timestamps_from_intervals(values, frames)
    except (TypeError, ValueError):
        return None
    steps = np.diff(stamps)
    if np.any(steps <= 0) or not np.all(np.isfinite(steps)):
        return None
    return Timing(stamps, 1000.0 / float(np.mean(steps)), "FrameTimeVector")


def _from_frame_time(ds: Dataset, frames: int) -> Timing | None:
    ms = _number(ds.get("FrameTime"))
    return None if ms is None else Timing(uniform_timestamps(frames, 1000.0 / ms), 1000.0 / ms, "FrameTime")


def _rate(keyword: str) -> Callable[[Dataset, int], Timing | None]:
    def read(ds: Dataset, frames: int) -> Timing | None:
        fps = _number(ds.get(keyword))
        return None if fps is None else Timing(uniform_timestamps(frames, fps), fps, keyword)

    return read


# in the order used when FrameIncrementPointer does not decide
READERS: dict[str, Callable[[Dataset, int], Timing | None]] = {
    "FrameTimeVector": _from_vector,
    "FrameTime": _from_frame_time,
    "CineRate": _rate("CineRate"),
    "RecommendedDisplayFrameRate": _rate("RecommendedDisplayFrameRate"),
}
_POINTED = {FRAME_TIME: "FrameTime", FRAME_TIME_VECTOR: "FrameTimeVector"}


def _pointed(ds: Dataset) -> list[str]:
    fip = ds.get("FrameIncrementPointer")
    if fip is None:
        return []
    return [_POINTED[Tag(t)] for t in _as_list(fip) if Tag(t) in _POINTED]


def dicom_timing(ds: Dataset, frames: int, default_fps: float = DEFAULT_FPS) -> Timing:
    """Timestamps for a DICOM object with ``frames`` frames.

    Args:
        ds: the dataset (pixel data not needed).
        frames: number of frames.
        default_fps: the rate used, and named ``"default"``, when the file gives none.

    Returns:
        The timing; a single frame has timestamps ``(0.0,)``, no fps and source ``"single"``.
    """
    if frames <= 1:
        return Timing((0.0,), None, "single")
    order = _pointed(ds) + [name for name in READERS if name not in _pointed(ds)]
    for name in order:
        timing = READERS[name](ds, frames)
        if timing is not None:
            return timing
    return Timing(uniform_timestamps(frames, default_fps), default_fps, "default")
