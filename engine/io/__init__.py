"""Ultrasound input: DICOM, video, images and folders, opened as a lazily decoded Cine."""

from engine.io.calibration import UNCALIBRATED, Calibration, Region
from engine.io.cine import Cine, CineInfo, FrameCache
from engine.io.open import open_cine

__all__ = ["UNCALIBRATED", "Calibration", "Cine", "CineInfo", "FrameCache", "Region", "open_cine"]
