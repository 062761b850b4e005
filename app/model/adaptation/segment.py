"""One model version's segmentation of some frames, run like every other model run in the app.

:func:`segment` runs the engine's predictor (``engine.inference``) and task runner
(``engine.tasks.runner``) with the segmentation task, so the fan crop, the backend and the
post-processing (softmax resampled to the original frame, then argmax) are the ones the Model
panel uses. On the way it keeps, per frame, the head's softmax at the model's input and the
pooled encoder features, which the "correct these next" ranking needs.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.progress import NEVER, CancelToken

if TYPE_CHECKING:
    from engine.inference import Predictor
    from engine.io.cine import Cine

HEAD = "segmentation"
BACKEND = "torch"  # as the app's model runs: no export step
POOLED_LEVEL = 3  # the encoder's 1/16 level


@dataclass(frozen=True)
class Segmentation:
    """One version's segmentation of some frames.

    Attributes:
        frames: the frame indices.
        masks: per frame, the label map ``[H, W]`` uint8 in original frame pixels (0 background,
            i + 1 = labels[i]), as the segmentation task gives it.
        labels: the head's label names.
        probs: per frame, the head's softmax ``[K + 1, h, w]`` at the model's input.
        features: per frame, pooled encoder features ``[N, C]``.
    """

    frames: tuple[int, ...]
    masks: tuple[np.ndarray, ...]
    labels: tuple[str, ...]
    probs: tuple[np.ndarray, ...]
    features: np.ndarray

    def planes(self, label_ids: Mapping[str, int]) -> dict[int, np.ndarray]:
        """Label planes ``{frame: [H, W] uint8}`` with project label ids (unknown names: 0)."""
        lut = np.zeros(len(self.labels) + 1, np.uint8)
        for i, name in enumerate(self.labels):
            lut[i + 1] = label_ids.get(name, 0)
        return {f: lut[m] for f, m in zip(self.frames, self.masks, strict=True)}


class _Keeping:
    """A head runner for ``run_tasks`` that passes the predictor's outputs on and keeps, in frame
    order, the segmentation softmax and the pooled features of every batch."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.probs: list[np.ndarray] = []
        self.pooled: list[np.ndarray] = []

    def run_heads(
        self, keys: Sequence[Hashable], images: np.ndarray, names: Sequence[str]
    ) -> dict[str, dict[str, np.ndarray]]:
        from engine.tasks.base import softmax

        out = self.predictor.run_heads(keys, images, names)
        self.probs.extend(softmax(out[HEAD]["logits"], axis=1))
        feats = self.predictor.features(keys, images)  # cached by run_heads: no second encoder pass
        self.pooled.extend(np.asarray(f[POOLED_LEVEL], np.float32).mean((1, 2)) for f in feats)
        return out


def segment(ref: str, cine: Cine, frames: Sequence[int], cancel: CancelToken = NEVER) -> Segmentation:
    """Run version ``ref``'s segmentation on ``frames`` of ``cine``.

    Raises:
        ModelError: the version does not exist.
        TaskError: it has no segmentation head.
        Cancelled: ``cancel`` was set (checked between batches).
    """
    from engine.inference import predictor_for
    from engine.tasks.runner import run_tasks

    predictor = predictor_for(ref, backend=BACKEND)
    keeping = _Keeping(predictor)
    loaded = predictor.loaded
    result = run_tasks(cine, keeping, loaded.cfg, loaded.ref, [HEAD], frames, cancel=cancel)
    masks = tuple(r.mask for r in result.tasks[HEAD].frames)
    labels = tuple(loaded.cfg.heads_by_name[HEAD].labels)
    return Segmentation(result.frames, masks, labels, tuple(keeping.probs), np.stack(keeping.pooled))
