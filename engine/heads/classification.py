"""Classification head: pooled last level(s) of the encoder, then an MLP.

Outputs: ``logits`` ``[B, K]``, one per label of the model card (softmax gives probabilities).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as nnf

from engine.heads.base import FeatureSpec
from engine.layers.pooling import PooledFeatures, mlp


class ClassificationHead(nn.Module):
    """Global-average-pooled levels -> MLP -> class logits.

    Args:
        spec: the encoder's feature pyramid.
        num_classes: K, the number of labels.
        levels: encoder levels pooled and concatenated.
        hidden: MLP width.
        dropout: dropout before the last layer (training only).
    """

    def __init__(
        self,
        spec: FeatureSpec,
        num_classes: int,
        levels: Sequence[int] = (4,),
        hidden: int = 256,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.pool = PooledFeatures(spec.channels, levels)
        self.mlp = mlp(self.pool.dim, hidden, num_classes, dropout)

    def forward(self, feats: Sequence[torch.Tensor], image: torch.Tensor) -> dict[str, torch.Tensor]:
        del image
        return {"logits": self.mlp(self.pool(feats))}


IGNORE = -100  # a target that teaches nothing (the class is not known for this sample)


class ClassificationLoss(nn.Module):
    """Cross-entropy on ``logits``.

    Target: ``[B]`` int64 class indices (``-100`` ignores a sample; a batch whose samples are
    all ignored gives a zero loss that still reaches every parameter, not NaN).
    """

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing

    def forward(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        logits = outputs["logits"]
        if not bool((target != IGNORE).any()):
            return logits.sum() * 0.0
        return nnf.cross_entropy(logits, target, label_smoothing=self.label_smoothing, ignore_index=IGNORE)
