"""Preprocessing with invertible geometry: crop to fan, resize, pad, intensity normalisation."""

from engine.transforms.geometry import Geometry
from engine.transforms.sector import Sector, detect_sector

__all__ = ["Geometry", "Sector", "detect_sector"]
