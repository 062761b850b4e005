"""Ultrasound simulator with exact ground truth (numpy + OpenCV only; no torch, no Qt).

Typical use::

    from training.sim import simulate, SimConfig
    result = simulate("cardiac", seed=3, cfg=SimConfig(height=256, width=256))
    result.frames            # [N, H, W] uint8
    result.truth.values      # {"ef": Quantity(58.1, "%"), ...}
"""

from training.sim.config import CONVEX, LINEAR, PHASED, ImagingParams, ProbeGeometry, SimConfig, site_shift
from training.sim.scenes import SCENES, list_scenes, simulate
from training.sim.truth import Quantity, SceneTruth, SimResult

__all__ = [
    "CONVEX",
    "LINEAR",
    "PHASED",
    "SCENES",
    "ImagingParams",
    "ProbeGeometry",
    "Quantity",
    "SceneTruth",
    "SimConfig",
    "SimResult",
    "list_scenes",
    "simulate",
    "site_shift",
]
