"""Enhancement: a despeckled/denoised frame with the original geometry and dtype."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from engine.config import ModelCfg
from engine.provenance import ModelRef
from engine.tasks.base import CineContext, FrameContext, make_info
from engine.transforms.intensity import from_unit_range, to_grey, to_unit_range
from engine.types import EnhancedFrame, TaskResult


class EnhanceTask:
    """Maps the head's ``enhanced`` ``[1, h, w]`` (normalised first channel) back onto the frame.

    Inside the model's crop the enhanced pixels replace the original; outside it (text,
    calipers beyond the fan) the original grey pixels are kept.
    """

    def __init__(self, cfg: ModelCfg, ref: ModelRef) -> None:
        self.info = make_info(cfg, ref, "enhancement", "Enhance")
        self.mean, self.std = float(cfg.mean[0]), float(cfg.std[0])

    def postprocess(self, outputs: Mapping[str, np.ndarray], ctx: FrameContext) -> EnhancedFrame:
        unit = outputs["enhanced"][0] * self.std + self.mean  # back to [0, 1] intensities
        grey = to_grey(ctx.frame)
        mapped = ctx.geometry.image_to_original(unit, to_unit_range(grey))
        return EnhancedFrame(ctx.index, from_unit_range(mapped, grey), self.info.model)

    def summarize(
        self, frames: Sequence[EnhancedFrame], others: Mapping[str, TaskResult], cine: CineContext
    ) -> tuple[object, ...]:
        return ()
