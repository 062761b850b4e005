"""JPEG baseline decoders faster than pydicom's plugins, in order of preference.

OpenCV and Pillow both wrap libjpeg-turbo and decode JPEG baseline several times faster than
pylibjpeg. Both apply the JPEG colour transform (YCbCr -> RGB, with the same upsampling), so
their output matches pydicom's reference decode of YBR_FULL_422 frames. Each decoder returns
``[H, W]`` or ``[H, W, 3]`` RGB uint8, or None when it cannot decode the stream.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np

from engine.registry import Registry

JpegDecoder = Callable[[bytes], "np.ndarray | None"]
JPEG_DECODERS: Registry[JpegDecoder] = Registry("JPEG decoder")
PREFERENCE = ("opencv", "pillow")  # measured by bench/io.py: opencv first, pillow close behind


@JPEG_DECODERS.register("opencv")
def decode_opencv(data: bytes) -> np.ndarray | None:
    """Decode with ``cv2.imdecode``; BGR is turned into RGB."""
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint8:
        return None
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
    return arr


@JPEG_DECODERS.register("pillow")
def decode_pillow(data: bytes) -> np.ndarray | None:
    """Decode with Pillow."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        if img.mode not in ("L", "RGB"):
            return None
        return np.asarray(img)


def _importable(name: str) -> bool:
    module = {"opencv": "cv2", "pillow": "PIL.Image"}[name]
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def fastest_jpeg() -> tuple[str, JpegDecoder] | None:
    """The preferred installed JPEG baseline decoder, or None (pydicom's plugins then decode)."""
    for name in PREFERENCE:
        if _importable(name):
            return name, JPEG_DECODERS.get(name)
    return None


# start-of-frame markers (SOF0-SOF15 without DHT, JPG and DAC; SOF55 is JPEG-LS)
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} | {0xF7}


def jpeg_frame_size(data: bytes) -> tuple[int, int] | None:
    """(rows, columns) from a JPEG or JPEG-LS stream's start-of-frame header, or None if not found.

    Decoders allocate what this header claims, so a frame whose stream contradicts the DICOM
    header is refused before it reaches them (a damaged 16 x 24 frame claiming 60000 x 60000
    pixels made libjpeg spend seconds failing to allocate).
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    pos, end = 2, min(len(data), 1 << 20)
    while pos + 9 <= end:
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in SOF_MARKERS:
            rows = int.from_bytes(data[pos + 5 : pos + 7], "big")
            columns = int.from_bytes(data[pos + 7 : pos + 9], "big")
            return rows, columns
        if marker in (0x01, *range(0xD0, 0xD9)):  # markers without a length
            pos += 2
            continue
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return None
