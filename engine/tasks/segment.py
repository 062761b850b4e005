"""Segmentation: multi-class masks at original resolution and the area of each structure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from engine.config import ModelCfg
from engine.provenance import ModelRef
from engine.tasks import units
from engine.tasks.base import CineContext, FrameContext, make_info, softmax
from engine.types import Quantity, SegmentationResult, TaskResult


class SegmentTask:
    """Softmax of ``logits`` ``[K + 1, h, w]``, resampled to the original frame, then argmax.

    Areas are mm2 summed region by region where the frame is calibrated, else px2 flagged.
    """

    def __init__(self, cfg: ModelCfg, ref: ModelRef) -> None:
        self.info = make_info(cfg, ref, "segmentation", "Segment")

    def postprocess(self, outputs: Mapping[str, np.ndarray], ctx: FrameContext) -> SegmentationResult:
        probs = softmax(outputs["logits"], axis=0)
        mask = ctx.geometry.argmax_to_original(probs)
        return self.result_from_mask(mask, ctx.index, ctx.calibration)

    def result_from_mask(self, mask: np.ndarray, index: int, cal: units.Calibration) -> SegmentationResult:
        """Areas and counts of a label map ``[H, W]`` (0 background, i + 1 = labels[i])."""
        labels = self.info.labels
        counts = np.bincount(mask.ravel(), minlength=len(labels) + 1)[1 : len(labels) + 1]
        areas = tuple(units.area(f"{name} area", mask == i + 1, cal, index) for i, name in enumerate(labels))
        return SegmentationResult(index, labels, mask, areas, counts.astype(np.int64), self.info.model)

    def summarize(
        self, frames: Sequence[SegmentationResult], others: Mapping[str, TaskResult], cine: CineContext
    ) -> tuple[Quantity, ...]:
        """Mean area of each structure over the frames (cine-level ``Quantity``s)."""
        if not frames:
            return ()
        out = []
        for k in range(len(self.info.labels)):
            per_frame = [f.areas[k] for f in frames]
            calibrated = all(a.calibrated for a in per_frame)
            unit = per_frame[0].unit if calibrated else "px2"
            values = [a.value if calibrated else float(f.pixel_counts[k]) for a, f in zip(per_frame, frames)]
            out.append(Quantity(f"mean {per_frame[0].name}", float(np.mean(values)), unit, calibrated, None))
        return tuple(out)
