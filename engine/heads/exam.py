"""Exam head: which exam a frame shows (body region -> organ -> view), and how unlike the
training data it is.

The head is EchoCare's hierarchical classifier as an inference head: one softmax over the
leaves of the exam tree (each label is a path ``"region/organ/view"``); the probability of a
region or an organ is the sum over its leaves, so the levels never disagree.

Beside the logits it gives an out-of-distribution score: the class-conditional Mahalanobis
distance (tied covariance, Lee et al. 2018) of the frame's pooled encoder statistics, divided
by their dimension. The class means and the shrunk precision matrix are buffers fitted once
on training features (:meth:`ExamHead.fit_density`) and stored with the weights; the threshold
that turns the score into "unknown" is in the model card (``calibration.exam``).

Outputs: ``logits`` ``[B, K]``, ``ood`` ``[B]`` (0 until the density is fitted).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as nnf

from engine.heads.base import FeatureSpec
from engine.layers.pooling import mlp


class PooledStats(nn.Module):
    """Mean and standard deviation of each of some encoder levels, concatenated.

    Shapes:
        ``feats[i]`` ``[B, C_i, H_i, W_i]`` -> ``[B, dim]``, ``dim = 2 * sum(C_levels)``.
    """

    def __init__(self, channels: Sequence[int], levels: Sequence[int]) -> None:
        super().__init__()
        self.levels = tuple(levels)
        self.dim = 2 * sum(channels[i] for i in self.levels)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        out = []
        for i in self.levels:
            f = feats[i].float().flatten(2)
            mean = f.mean(dim=2)
            out += [mean, (f.pow(2).mean(dim=2) - mean.pow(2)).clamp_min(0).sqrt()]
        return torch.cat(out, dim=1)


class ExamHead(nn.Module):
    """Pooled statistics -> MLP -> exam logits, and their Mahalanobis out-of-distribution score.

    Args:
        spec: the encoder's feature pyramid.
        num_classes: K, the exam tree's leaves.
        levels: encoder levels pooled.
        hidden: MLP width.
        dropout: dropout before the last layer (training only).
    """

    def __init__(
        self,
        spec: FeatureSpec,
        num_classes: int,
        levels: Sequence[int] = (2, 3, 4),
        hidden: int = 128,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.stats = PooledStats(spec.channels, levels)
        dim = self.stats.dim
        self.mlp = mlp(dim, hidden, num_classes, dropout)
        self.register_buffer("class_means", torch.zeros(num_classes, dim))
        self.register_buffer("precision", torch.zeros(dim, dim))

    def forward(self, feats: Sequence[torch.Tensor], image: torch.Tensor) -> dict[str, torch.Tensor]:
        del image
        x = self.stats(feats)
        return {"logits": self.mlp(x), "ood": self.distance(x)}

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        """Smallest class-conditional Mahalanobis distance of pooled stats ``[B, D]``, per dimension."""
        d = x[:, None, :] - self.class_means[None].to(x.dtype)  # [B, K, D]
        m = torch.einsum("bkd,de,bke->bk", d, self.precision.to(x.dtype), d)
        return m.min(dim=1).values / x.shape[1]

    @torch.no_grad()
    def fit_density(
        self, feats: Sequence[torch.Tensor], labels: torch.Tensor, shrinkage: float = 0.1
    ) -> None:
        """Fit the class means and the tied, shrunk precision on training features.

        Args:
            feats: the encoder levels of N training frames (``[N, C_i, H_i, W_i]`` each).
            labels: ``[N]`` their exam classes.
            shrinkage: weight of the scaled identity in the covariance (Ledoit-Wolf style).
        """
        x = self.stats(feats).double()
        means = torch.zeros_like(self.class_means, dtype=torch.float64)
        centred = []
        for k in range(means.shape[0]):
            rows = x[labels == k]
            if len(rows):
                means[k] = rows.mean(dim=0)
                centred.append(rows - means[k])
        c = torch.cat(centred)
        cov = c.T @ c / max(1, len(c) - 1)
        target = torch.eye(cov.shape[0], dtype=cov.dtype) * cov.diagonal().mean()
        cov = (1 - shrinkage) * cov + shrinkage * target
        self.class_means.copy_(means.float())
        self.precision.copy_(torch.linalg.inv(cov).float())


class ExamLoss(nn.Module):
    """Cross-entropy on ``logits``. Target: ``[B]`` int64 leaf indices (``-100`` ignores a sample)."""

    def forward(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        return nnf.cross_entropy(outputs["logits"], target)
