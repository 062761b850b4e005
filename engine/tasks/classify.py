"""Classification: per-frame and per-cine probabilities over the model card's labels, top-k."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from engine.config import ModelCfg
from engine.errors import TaskError
from engine.provenance import ModelRef
from engine.tasks.base import CineContext, FrameContext, make_info, softmax
from engine.types import ClassScores, TaskResult


class ClassifyTask:
    """Softmax of the head's ``logits`` ``[K]`` divided by the card's calibrated temperature plus
    its per-class bias (``calibration.classification.temperature`` and ``.bias``, fitted on
    held-out data; 1 and 0 without them), so the probabilities are the calibrated ones the
    card's per-label thresholds were chosen on; the cine's probabilities are the frame mean."""

    def __init__(self, cfg: ModelCfg, ref: ModelRef) -> None:
        self.info = make_info(cfg, ref, "classification", "Classify")
        if not self.info.labels:
            raise TaskError(cfg.name, "the classification head has no labels in the model card")
        cal = dict(cfg.calibration.get("classification", {}))
        self.temperature = float(cal.get("temperature", 1.0))
        if not self.temperature > 0:
            raise TaskError(cfg.name, f"classification temperature {self.temperature} is not positive")
        k, bias = len(self.info.labels), cal.get("bias", [0.0] * len(self.info.labels))
        try:
            self.bias = np.asarray(bias, np.float32)
            ok = self.bias.shape == (k,) and bool(np.isfinite(self.bias).all())
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise TaskError(cfg.name, f"classification bias {bias!r} is not {k} finite numbers")

    def postprocess(self, outputs: Mapping[str, np.ndarray], ctx: FrameContext) -> ClassScores:
        logits = outputs["logits"]
        if logits.shape != (len(self.info.labels),):
            raise TaskError(
                self.info.model.name, f"{logits.shape[0]} logits for {len(self.info.labels)} labels"
            )
        probs = softmax(np.asarray(logits, np.float32) / np.float32(self.temperature) + self.bias)
        return ClassScores(self.info.labels, probs, self.info.model, ctx.index)

    def summarize(
        self, frames: Sequence[ClassScores], others: Mapping[str, TaskResult], cine: CineContext
    ) -> tuple[ClassScores, ...]:
        if not frames:
            return ()
        probs = np.mean([f.probs for f in frames], axis=0).astype(np.float32)
        return (ClassScores(self.info.labels, probs, self.info.model, None),)
