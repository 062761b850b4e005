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
        standardise: standardise each pooled channel by the training images' running mean and
            variance (batch normalisation without scale or shift) before the MLP, so that the
            differences between images count, not the channels' common level: an encoder level
            whose pooled vector is nearly the same for every image still separates the classes.
    """

    def __init__(
        self,
        spec: FeatureSpec,
        num_classes: int,
        levels: Sequence[int] = (4,),
        hidden: int = 256,
        dropout: float = 0.0,
        standardise: bool = False,
    ) -> None:
        super().__init__()
        self.pool = PooledFeatures(spec.channels, levels)
        self.standardise = nn.BatchNorm1d(self.pool.dim, affine=False) if standardise else None
        self.mlp = mlp(self.pool.dim, hidden, num_classes, dropout)

    def forward(self, feats: Sequence[torch.Tensor], image: torch.Tensor) -> dict[str, torch.Tensor]:
        del image
        pooled = self.pool(feats)
        if self.standardise is not None:
            if self.training and pooled.shape[0] < 2:  # one image has no spread: the running figures
                bn = self.standardise
                pooled = nnf.batch_norm(pooled, bn.running_mean, bn.running_var, training=False, eps=bn.eps)
            else:
                pooled = self.standardise(pooled)
        return {"logits": self.mlp(pooled)}


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
