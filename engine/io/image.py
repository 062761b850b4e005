"""Still images (png, jpg, bmp, tiff) through Pillow; a multi-page TIFF opens as a cine.

Pixels keep their depth: 8-bit grey stays uint8, 16-bit grey uint16, colour becomes RGB uint8
(palette images are expanded, alpha dropped).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from engine.errors import ReadError, UnsupportedError
from engine.io.cine import DEFAULT_FPS, Cine, CineInfo, uniform_timestamps
from engine.io.regions import UNCALIBRATED_NOTE

# what Pillow raises on damage (a TIFF without dimensions or with a broken tag: TypeError, KeyError)
PIL_ERRORS = (OSError, ValueError, EOFError, SyntaxError, TypeError, KeyError, struct.error)
SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*")
# Pillow mode -> (mode to convert to, numpy dtype of the result)
MODES: dict[str, tuple[str | None, type]] = {
    "L": (None, np.uint8),
    "1": ("L", np.uint8),
    "LA": ("L", np.uint8),
    "I;16": (None, np.uint16),
    "I;16L": (None, np.uint16),
    "I;16B": (None, np.uint16),
    "I": (None, np.uint16),
    "RGB": (None, np.uint8),
    "RGBA": ("RGB", np.uint8),
    "RGBX": ("RGB", np.uint8),
    "P": ("RGB", np.uint8),
    "PA": ("RGB", np.uint8),
    "CMYK": ("RGB", np.uint8),
    "YCbCr": ("RGB", np.uint8),
}


def sniff_image(head: bytes) -> bool:
    """PNG, JPEG, BMP or TIFF by their magic bytes."""
    return head.startswith(SIGNATURES)


def _mode(path: Path, mode: str) -> tuple[str | None, type]:
    if mode not in MODES:
        raise UnsupportedError(path, f"unsupported image pixel mode {mode}")
    return MODES[mode]


def to_display(img: object, path: Path) -> np.ndarray:
    """One Pillow frame as ``[H, W]`` uint8/uint16 or ``[H, W, 3]`` RGB uint8."""
    convert, dtype = _mode(path, img.mode)  # type: ignore[attr-defined]
    if convert is not None:
        img = img.convert(convert)  # type: ignore[attr-defined]
    arr = np.asarray(img)
    if arr.dtype != dtype:
        arr = np.clip(arr, 0, np.iinfo(dtype).max).astype(dtype)
    return np.ascontiguousarray(arr)


class ImageCine(Cine):
    """A still image, or the pages of a multi-page TIFF, as a Cine."""

    def _decode(self, index: int) -> np.ndarray:
        from PIL import Image

        try:
            with Image.open(self.path) as img:
                img.seek(index)
                return to_display(img, self.path)
        except (*PIL_ERRORS, Image.DecompressionBombError) as err:
            raise ReadError(self.path, f"frame {index} cannot be decoded ({err})") from None


def open_image(path: Path, cache_bytes: int = 256 * 1024 * 1024) -> ImageCine:
    """Open an image file; its pixels are uncalibrated (no physical scale is known).

    Raises:
        ReadError: Pillow cannot read the file.
        UnsupportedError: the pixel mode (for example floating point) is not displayable.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            frames = int(getattr(img, "n_frames", 1))
            convert, dtype = _mode(path, img.mode)
            rows, columns = img.height, img.width
            color = (convert or img.mode) == "RGB"
            fmt = img.format
    except (UnidentifiedImageError, Image.DecompressionBombError, *PIL_ERRORS) as err:
        raise ReadError(path, f"image cannot be read ({err})") from None
    info = CineInfo(
        path=str(path),
        kind="image",
        frames=frames,
        rows=rows,
        columns=columns,
        color=color,
        bits=8 if dtype == np.uint8 else 16,
        fps=DEFAULT_FPS if frames > 1 else None,
        timestamps_ms=uniform_timestamps(frames, DEFAULT_FPS),
        timing_source="default" if frames > 1 else "single",
        extra={"format": fmt, "calibration_notes": [UNCALIBRATED_NOTE]},
    )
    return ImageCine(info, cache_bytes)
