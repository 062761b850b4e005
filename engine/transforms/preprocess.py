"""The model input of one frame: crop to fan, letterbox to the input size, scale and normalise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.config import ModelCfg
from engine.transforms.geometry import Geometry
from engine.transforms.intensity import normalize, to_channels, to_unit_range


@dataclass(frozen=True)
class Prepared:
    """A frame ready for the model.

    Attributes:
        image: ``[C, H, W]`` float32, normalised with the model's mean/std.
        geometry: the mapping between the original frame and ``image``.
    """

    image: np.ndarray
    geometry: Geometry


def preprocess(frame: np.ndarray, cfg: ModelCfg, crop: tuple[int, int, int, int] | None = None) -> Prepared:
    """Turn one original frame ``[H, W]`` or ``[H, W, 3]`` into the model input.

    Args:
        frame: pixels as the Cine returns them.
        cfg: the model card (input size, channels, mean/std).
        crop: (x0, y0, x1, y1) to keep, e.g. the fan box; None keeps the whole frame.

    Raises:
        ValueError: the frame is not ``[H, W]`` or ``[H, W, 3]``.
    """
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[-1] != 3):
        raise ValueError(f"a frame must be [H, W] or [H, W, 3], got {frame.shape}")
    geom = Geometry.letterbox(frame.shape[:2], cfg.input_size, crop)
    unit = to_unit_range(frame)
    resized = geom.image_to_model(unit)
    chw = to_channels(resized, cfg.in_chans)
    return Prepared(normalize(chw, cfg.mean, cfg.std), geom)
