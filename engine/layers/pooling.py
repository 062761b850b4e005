"""Global pooling of encoder levels for the classification, regression and report heads."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class PooledFeatures(nn.Module):
    """Global-average-pool some levels and concatenate them.

    Args:
        channels: channels of all encoder levels.
        levels: the levels pooled, e.g. (3, 4) for the 1024- and 2048-channel maps.

    Shapes:
        ``feats[i]``: ``[B, channels[i], H_i, W_i]`` -> ``[B, dim]``, ``dim = sum(channels[levels])``.
    """

    def __init__(self, channels: Sequence[int], levels: Sequence[int] = (4,)) -> None:
        super().__init__()
        self.levels = tuple(levels)
        self.dim = sum(channels[i] for i in self.levels)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        return torch.cat([feats[i].mean(dim=(-2, -1)) for i in self.levels], dim=1)


def mlp(in_dim: int, hidden: int, out_dim: int, dropout: float = 0.0) -> nn.Sequential:
    """LayerNorm, Linear, GELU, Dropout, Linear: ``[B, in_dim] -> [B, out_dim]``."""
    return nn.Sequential(
        nn.LayerNorm(in_dim),
        nn.Linear(in_dim, hidden),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Linear(hidden, out_dim),
    )
