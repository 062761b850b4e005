"""Regression head: pooled encoder levels -> MLP -> K scalars (e.g. EF %, biometry mm).

Outputs: ``values`` ``[B, K]`` in the units the model card names (``units`` parameter).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as nnf

from engine.heads.base import FeatureSpec
from engine.layers.pooling import PooledFeatures, mlp


class RegressionHead(nn.Module):
    """Pooled levels 3 and 4 (by default) -> MLP -> scalars.

    Args:
        spec: the encoder's feature pyramid.
        num_outputs: K, one per label of the model card.
        levels: encoder levels pooled and concatenated.
        hidden: MLP width.
        units: unit of each output ("%", "mm", ...); kept for the task, unused by forward.
    """

    def __init__(
        self,
        spec: FeatureSpec,
        num_outputs: int,
        levels: Sequence[int] = (3, 4),
        hidden: int = 256,
        units: Sequence[str] = (),
    ) -> None:
        super().__init__()
        if units and len(units) != num_outputs:
            raise ValueError(f"{len(units)} units for {num_outputs} outputs")
        self.units = tuple(units)
        self.pool = PooledFeatures(spec.channels, levels)
        self.mlp = mlp(self.pool.dim, hidden, num_outputs)

    def forward(self, feats: Sequence[torch.Tensor], image: torch.Tensor) -> dict[str, torch.Tensor]:
        del image
        return {"values": self.mlp(self.pool(feats))}


class RegressionLoss(nn.Module):
    """L1 (default) or MSE on ``values``; NaN targets are missing and ignored.

    Target: ``[B, K]`` float32 in the head's units.
    """

    def __init__(self, kind: str = "l1") -> None:
        super().__init__()
        self.fn = {"l1": nnf.l1_loss, "mse": nnf.mse_loss}[kind]

    def forward(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        known = torch.isfinite(target)
        if not known.any():
            return outputs["values"].sum() * 0.0
        return self.fn(outputs["values"][known], target[known])
