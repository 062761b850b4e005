"""Video cines (mp4, avi, mov) through OpenCV, decoded lazily with seeking.

Sequential playback reads the next frame directly; a jump seeks first. Only the Cine's bounded
cache holds decoded frames, so memory does not grow with the clip's length.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from engine.errors import ReadError
from engine.io.cine import DEFAULT_FPS, Cine, CineInfo, uniform_timestamps
from engine.io.regions import UNCALIBRATED_NOTE

# FFmpeg writes its own complaints about damaged files straight to stderr, which would break the
# one-line error contract; silence it (and OpenCV's warnings) unless the user asked otherwise.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")


def sniff_video(head: bytes) -> bool:
    """MP4/MOV carry an ``ftyp`` (or ``moov``/``mdat``/``wide``) box; AVI is a RIFF "AVI " file."""
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"):
        return True
    return head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX")


# an encoded frame with its container overhead takes more than this; a container claiming more frames
# than its size allows is damaged, and its frames are counted instead (2**31 must not be believed)
MIN_FRAME_BYTES = 64


def _frame_count(cap: object, claimed: float, size: int) -> int:
    """The container's frame count if plausible, else the frames actually found after the first."""
    limit = max(size // MIN_FRAME_BYTES, 1)
    if np.isfinite(claimed) and 1 <= claimed <= limit:
        return int(claimed)
    count = 1  # the first frame is already read
    while count < limit and cap.grab():  # type: ignore[attr-defined]
        count += 1
    return count


def _fourcc(code: int) -> str | None:
    text = "".join(chr((code >> (8 * k)) & 0xFF) for k in range(4))
    return text.strip() if code and text.isprintable() else None


class VideoCine(Cine):
    """A video opened with ``cv2.VideoCapture``; frames are ``[H, W, 3]`` RGB uint8."""

    def __init__(self, info: CineInfo, cache_bytes: int = 256 * 1024 * 1024) -> None:
        super().__init__(info, cache_bytes)
        self._capture: object | None = None
        self._next = 0
        self._lock = threading.Lock()

    def _open_capture(self) -> object:
        import cv2

        if self._capture is None:
            self._capture = cv2.VideoCapture(str(self.path))
            self._next = 0
        return self._capture

    def _decode(self, index: int) -> np.ndarray:
        import cv2

        with self._lock:
            cap = self._open_capture()
            if index != self._next:
                cap.set(cv2.CAP_PROP_POS_FRAMES, index)  # type: ignore[attr-defined]
            ok, frame = cap.read()  # type: ignore[attr-defined]
            self._next = index + 1
        if not ok or frame is None:
            raise ReadError(self.path, f"frame {index} cannot be decoded")
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        with self._lock:
            if self._capture is not None:
                self._capture.release()  # type: ignore[attr-defined]
                self._capture = None
        super().close()


def open_video(path: Path, cache_bytes: int = 256 * 1024 * 1024) -> VideoCine:
    """Open a video container as a Cine; fps comes from the container (else the default, named so).

    Raises:
        ReadError: OpenCV cannot open or decode the file.
    """
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ReadError(path, "video cannot be opened (unknown or damaged container)")
        ok, first = cap.read()
        if not ok or first is None:
            raise ReadError(path, "video holds no decodable frame")
        frames = _frame_count(cap, float(cap.get(cv2.CAP_PROP_FRAME_COUNT)), path.stat().st_size)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        code = cap.get(cv2.CAP_PROP_FOURCC)
        code = int(code) if np.isfinite(code) else 0
    finally:
        cap.release()
    source = "container" if fps > 0 and np.isfinite(fps) else "default"
    rate = fps if source == "container" else DEFAULT_FPS
    info = CineInfo(
        path=str(path),
        kind="video",
        frames=frames,
        rows=int(first.shape[0]),
        columns=int(first.shape[1]),
        color=True,
        bits=8,
        fps=rate if frames > 1 else None,
        timestamps_ms=uniform_timestamps(frames, rate),
        timing_source=source if frames > 1 else "single",
        extra={"codec": "opencv", "fourcc": _fourcc(code), "calibration_notes": [UNCALIBRATED_NOTE]},
    )
    return VideoCine(info, cache_bytes)
