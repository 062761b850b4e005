"""The Cine: one opened ultrasound clip (or still image) with lazy, cached frame decoding."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.io.calibration import UNCALIBRATED, Calibration
from engine.io.declared import DeclaredExam

DEFAULT_FPS = 30.0
TIMING_SOURCES = (
    "FrameTimeVector",
    "FrameTime",
    "CineRate",
    "RecommendedDisplayFrameRate",
    "container",
    "default",
    "single",
)


@dataclass(frozen=True)
class CineInfo:
    """What is known about a cine without decoding it; ``as_dict`` is `echocare info --json`."""

    path: str
    kind: str  # dicom | video | image | folder
    frames: int
    rows: int
    columns: int
    color: bool
    bits: int
    fps: float | None
    timestamps_ms: tuple[float, ...]
    timing_source: str
    calibration: Calibration = UNCALIBRATED
    transfer_syntax: str | None = None
    photometric: str | None = None
    modality: str | None = None
    manufacturer: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
    declared_exam: DeclaredExam | None = None  # the regions the header names (DICOM only)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "path": self.path,
            "kind": self.kind,
            "frames": self.frames,
            "rows": self.rows,
            "columns": self.columns,
            "color": self.color,
            "bits": self.bits,
            "fps": self.fps,
            "timestamps_ms": [round(t, 4) for t in self.timestamps_ms],
            "timing_source": self.timing_source,
            "regions": [r.as_dict() for r in self.calibration.regions],
            "pixel_spacing": list(self.calibration.pixel_spacing) if self.calibration.pixel_spacing else None,
            "calibration_source": self.calibration.source,
            "calibrated": self.calibration.calibrated,
            "transfer_syntax": self.transfer_syntax,
            "photometric": self.photometric,
            "modality": self.modality,
            "manufacturer": self.manufacturer,
            "declared_exam": self.declared_exam.as_dict() if self.declared_exam else None,
        }
        out.update(self.extra)
        return out


def timestamps_from_intervals(intervals_ms: list[float] | np.ndarray, frames: int) -> tuple[float, ...]:
    """Cumulative timestamps (first 0) from ``frames - 1`` or ``frames`` inter-frame intervals.

    FrameTimeVector's first value is the time before frame 1 (normally 0); when it holds one
    value per frame we use it as such, otherwise the intervals between consecutive frames.
    """
    iv = np.asarray(intervals_ms, dtype=np.float64).ravel()
    if frames <= 1:
        return (0.0,)
    if iv.size == frames:
        iv = iv[1:]
    if iv.size != frames - 1:
        raise ValueError(f"{iv.size} intervals for {frames} frames")
    return tuple(float(t) for t in np.concatenate([[0.0], np.cumsum(iv)]))


def uniform_timestamps(frames: int, fps: float) -> tuple[float, ...]:
    step = 1000.0 / fps
    return tuple(i * step for i in range(frames))


class FrameCache:
    """A thread-safe LRU of decoded frames bounded in bytes, so memory does not grow with length."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._frames: OrderedDict[int, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, index: int) -> np.ndarray | None:
        with self._lock:
            frame = self._frames.get(index)
            if frame is not None:
                self._frames.move_to_end(index)
            return frame

    def put(self, index: int, frame: np.ndarray) -> None:
        if frame.nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._frames.pop(index, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._frames[index] = frame
            self._bytes += frame.nbytes
            while self._bytes > self.max_bytes and self._frames:
                _, evicted = self._frames.popitem(last=False)
                self._bytes -= evicted.nbytes

    @property
    def nbytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
            self._bytes = 0


class Cine(ABC):
    """An opened clip. Frames decode lazily on first access and are kept in a bounded cache.

    A frame is ``[H, W]`` (monochrome, uint8 or uint16) or ``[H, W, 3]`` RGB uint8, exactly as
    displayed: YBR and palette colour are already converted, MONOCHROME1 already inverted.
    """

    def __init__(self, info: CineInfo, cache_bytes: int = 256 * 1024 * 1024) -> None:
        self.info = info
        self._cache = FrameCache(cache_bytes)

    # -- what subclasses implement -------------------------------------------------------
    @abstractmethod
    def _decode(self, index: int) -> np.ndarray:
        """Decode one frame from the source (no caching)."""

    def calibration_for(self, index: int) -> Calibration:
        """Calibration of one frame; per-frame calibration overrides this."""
        del index
        return self.info.calibration

    def close(self) -> None:
        self._cache.clear()

    # -- shared behaviour ----------------------------------------------------------------
    @property
    def path(self) -> Path:
        return Path(self.info.path)

    @property
    def n_frames(self) -> int:
        return self.info.frames

    @property
    def timestamps_ms(self) -> tuple[float, ...]:
        return self.info.timestamps_ms

    @property
    def calibration(self) -> Calibration:
        return self.info.calibration

    def frame(self, index: int) -> np.ndarray:
        if not -self.n_frames <= index < self.n_frames:
            raise IndexError(f"frame {index} out of range for {self.n_frames} frames")
        index %= self.n_frames
        cached = self._cache.get(index)
        if cached is not None:
            return cached
        frame = self._decode(index)
        frame.setflags(write=False)
        self._cache.put(index, frame)
        return frame

    def frame_at_time(self, t_ms: float) -> int:
        """Index of the frame on screen at ``t_ms`` after the first frame (no wrap-around)."""
        ts = np.asarray(self.timestamps_ms)
        return int(max(0, np.searchsorted(ts, t_ms, side="right") - 1))

    def __len__(self) -> int:
        return self.n_frames

    def __getitem__(self, index: int) -> np.ndarray:
        return self.frame(index)

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(self.n_frames):
            yield self.frame(i)

    def __enter__(self) -> Cine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
