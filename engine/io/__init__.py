"""Ultrasound input: DICOM, video, images and folders, opened as a lazily decoded Cine.

``open_cine`` is imported on first use, so importing this package (for the Cine and
Calibration types) does not load pydicom or the codecs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.io.calibration import UNCALIBRATED, Calibration, Region
from engine.io.cine import Cine, CineInfo, FrameCache

if TYPE_CHECKING:
    from engine.io.open import open_cine

__all__ = ["UNCALIBRATED", "Calibration", "Cine", "CineInfo", "FrameCache", "Region", "open_cine"]


def __getattr__(name: str) -> Any:
    if name == "open_cine":
        from engine.io.open import open_cine

        return open_cine
    raise AttributeError(f"module 'engine.io' has no attribute {name!r}")
