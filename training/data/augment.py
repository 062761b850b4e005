"""Frame preparation for training: crop to the fan, resize, and seeded random augmentation.

Every random choice comes from a ``numpy.random.Generator`` the caller seeds per sample
(run seed, epoch, index), so an epoch's augmentations are the same after a resume and do not
depend on data-loader workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.transforms.sector import detect_sector


def crop_to_fan(grey: np.ndarray) -> np.ndarray:
    """The bounding box of the ultrasound fan (the whole frame when none is found)."""
    x0, y0, x1, y1 = detect_sector((grey * 255).astype(np.uint8)).box
    return grey[y0:y1, x0:x1]


@dataclass(frozen=True)
class AugmentCfg:
    """Strength of the random augmentation.

    Attributes:
        scale: (min, max) area share of the random crop.
        flip: probability of a left-right flip.
        gain: maximum brightness change, as a factor (1 +- gain).
        gamma: maximum log2 gamma change.
        noise: maximum multiplicative speckle-noise strength.
    """

    scale: tuple[float, float] = (0.6, 1.0)
    flip: float = 0.5
    gain: float = 0.2
    gamma: float = 0.4
    noise: float = 0.1


DEFAULT_AUGMENT = AugmentCfg()
NO_AUGMENT = AugmentCfg(scale=(1.0, 1.0), flip=0.0, gain=0.0, gamma=0.0, noise=0.0)


def augment(grey: np.ndarray, size: tuple[int, int], rng: np.random.Generator, cfg: AugmentCfg) -> np.ndarray:
    """A random crop resized to ``size`` (H, W), then flip, gain, gamma and speckle noise.

    Args:
        grey: ``[H, W]`` float32 in [0, 1].
        size: output (H, W).
        rng: the sample's generator.
        cfg: augmentation strength.

    Returns:
        ``[H, W]`` float32 in [0, 1].
    """
    h, w = grey.shape
    area = rng.uniform(*cfg.scale)
    ch, cw = max(1, round(h * np.sqrt(area))), max(1, round(w * np.sqrt(area)))
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    out = cv2.resize(grey[y0 : y0 + ch, x0 : x0 + cw], (size[1], size[0]), interpolation=cv2.INTER_AREA)
    if rng.random() < cfg.flip:
        out = out[:, ::-1]
    out = out * (1.0 + rng.uniform(-cfg.gain, cfg.gain))
    out = np.clip(out, 0.0, 1.0) ** (2.0 ** rng.uniform(-cfg.gamma, cfg.gamma))
    if cfg.noise:
        out = out * (1.0 + rng.uniform(0, cfg.noise) * rng.standard_normal(out.shape))
    return np.ascontiguousarray(np.clip(out, 0.0, 1.0), dtype=np.float32)


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of one sample in one epoch."""
    return np.random.default_rng([seed, epoch, index])
