"""Enhancement: a despeckled frame (a residual on the input), shown as a display layer."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.drafts import Drafts, LabelIds
from engine.heads.spec import Files, HeadSpec, register_spec
from engine.tasks.enhance import EnhanceTask
from engine.transforms.intensity import to_grey01
from engine.types import EnhancedFrame


def _json(r: EnhancedFrame, files: Files) -> dict[str, Any]:
    return {"frame": r.frame, "png": files.get("enhanced", {}).get(r.frame)}


def _drafts(r: EnhancedFrame, label_id: LabelIds, out: Drafts) -> None:
    """Enhanced frames are a display layer, not an annotation."""
    out.enhanced[r.frame] = r.image


def _target(t: Any, g: Any, s: Any) -> np.ndarray:
    """The clean frame in the model's normalised grey channel ``[1, H, W]``."""
    return ((g.image_to_model(to_grey01(np.asarray(t)))[None] - s.mean[0]) / s.std[0]).astype(np.float32)


SPEC = register_spec(HeadSpec(
    kind="enhancement", rank=5, task=EnhanceTask, metric=("psnr", True),
    json={EnhancedFrame: _json}, drafts={EnhancedFrame: _drafts},
    network="ResidualEnhancementHead", loss="EnhancementLoss",
    metric_args=lambda m: {"mean": m.mean[0], "std": m.std[0]}, size=lambda labels: {}, target=_target,
))
