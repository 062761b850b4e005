"""DICOM objects whose pixel data is one video stream (MPEG-2, MPEG-4 AVC/H.264, HEVC/H.265).

pydicom has no decoder for these transfer syntaxes; FFmpeg (inside OpenCV) has. At open the
stream's fragments are copied into a temporary file that OpenCV reads; frames are decoded in
order, and a jump backwards (or far forwards) restarts the stream and skips ahead without
decoding, since elementary streams carry no frame index to seek by. Timing and calibration come
from the DICOM header like any other cine.
"""

from __future__ import annotations

import tempfile
import threading
import weakref
from pathlib import Path

import numpy as np
from pydicom.uid import (
    HEVCM10P51,
    HEVCMP51,
    MPEG2MPHL,
    MPEG2MPHLF,
    MPEG2MPML,
    MPEG2MPMLF,
    UID,
    MPEGTransferSyntaxes,
)

from engine.errors import ReadError
from engine.io.calibration import Calibration
from engine.io.cine import Cine, CineInfo
from engine.io.dicom_frames import FrameIndexError, Span, item_spans

VIDEO_SYNTAXES = frozenset(UID(uid) for uid in MPEGTransferSyntaxes)
SKIP_AHEAD = 16  # forward jumps up to this many frames are decoded through rather than restarted


MPEG2_SYNTAXES = frozenset((MPEG2MPML, MPEG2MPMLF, MPEG2MPHL, MPEG2MPHLF))
HEVC_SYNTAXES = frozenset((HEVCMP51, HEVCM10P51))


def _suffix(ts: UID) -> str:
    """File name ending that lets FFmpeg pick the right elementary-stream demuxer."""
    if ts in MPEG2_SYNTAXES:
        return ".m2v"
    return ".hevc" if ts in HEVC_SYNTAXES else ".h264"


def extract_stream(path: Path, start: int, size: int, ts: UID) -> Path:
    """Copy the concatenated fragments of encapsulated pixel data at ``start`` into a temp file.

    Raises:
        ReadError: the fragment sequence is damaged or empty.
    """
    with path.open("rb") as fp:
        try:
            fragments: list[Span] = item_spans(fp, start, size)[1:]
        except FrameIndexError as err:
            raise ReadError(path, str(err)) from None
        if not fragments:
            raise ReadError(path, "video pixel data holds no stream")
        with tempfile.NamedTemporaryFile(prefix="echocare-", suffix=_suffix(ts), delete=False) as out:
            for frag in fragments:
                fp.seek(frag.offset)
                out.write(fp.read(frag.length))
    return Path(out.name)


class DicomVideoCine(Cine):
    """Frames of a DICOM video stream as ``[H, W, 3]`` RGB uint8, cropped to Rows x Columns.

    Args:
        info: built from the DICOM header.
        stream: the temporary file holding the stream (deleted on close).
        cache_bytes: bound of the decoded-frame cache.
    """

    def __init__(self, info: CineInfo, stream: Path, cache_bytes: int = 256 * 1024 * 1024) -> None:
        super().__init__(info, cache_bytes)
        self._stream = stream
        self._capture: object | None = None
        self._next = 0
        self._lock = threading.Lock()
        # removes the stream file even if the cine is dropped without close()
        self._remove_stream = weakref.finalize(self, stream.unlink, missing_ok=True)

    def _restart(self) -> object:
        import cv2

        if self._capture is not None:
            self._capture.release()  # type: ignore[attr-defined]
        self._capture = cv2.VideoCapture(str(self._stream))
        self._next = 0
        return self._capture

    def _decode(self, index: int) -> np.ndarray:
        import cv2

        with self._lock:
            cap = self._capture
            if cap is None or index < self._next or index > self._next + SKIP_AHEAD:
                cap = self._restart()
            while self._next < index and cap.grab():  # type: ignore[attr-defined]
                self._next += 1
            ok, frame = cap.read()  # type: ignore[attr-defined]
            self._next = index + 1
        if not ok or frame is None:
            raise ReadError(self.path, f"frame {index} cannot be decoded from the video stream")
        rows, cols = self.info.rows, self.info.columns
        return np.ascontiguousarray(cv2.cvtColor(frame[:rows, :cols], cv2.COLOR_BGR2RGB))

    def calibration_for(self, index: int) -> Calibration:
        """The header's calibration (video objects carry no per-frame calibration)."""
        del index
        return self.info.calibration

    def close(self) -> None:
        """Release the decoder and delete the temporary stream file."""
        with self._lock:
            if self._capture is not None:
                self._capture.release()  # type: ignore[attr-defined]
                self._capture = None
            self._remove_stream()
        super().close()


def check_stream(path: Path, stream: Path, rows: int, columns: int) -> None:
    """Decode the first frame once, so an undecodable stream fails at open.

    Raises:
        ReadError: FFmpeg cannot decode the stream, or its frames are smaller than Rows x Columns.
    """
    import cv2

    cap = cv2.VideoCapture(str(stream))
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
    finally:
        cap.release()
    if not ok or frame is None:
        stream.unlink(missing_ok=True)
        raise ReadError(path, "the video stream in the pixel data cannot be decoded")
    if frame.shape[0] < rows or frame.shape[1] < columns:
        stream.unlink(missing_ok=True)
        raise ReadError(
            path, f"video frames are {frame.shape[0]}x{frame.shape[1]}, smaller than {rows}x{columns}"
        )
