"""Convolution blocks shared by the dense heads (landmarks, enhancement, detection)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as nnf


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 8 groups that divide ``channels`` (works for tiny widths)."""
    groups = max(g for g in (8, 4, 2, 1) if channels % g == 0)
    return nn.GroupNorm(groups, channels)


class ConvNormAct(nn.Sequential):
    """3x3 (or ``kernel``) conv, GroupNorm, ReLU: ``[B, in, H, W] -> [B, out, H, W]``."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False),
            group_norm(out_channels),
            nn.ReLU(inplace=True),
        )


class PyramidFuse(nn.Module):
    """Project some encoder levels to one width and sum them at the finest chosen level.

    Args:
        channels: channels of all encoder levels (``FeatureSpec.channels``).
        levels: the levels to fuse, e.g. (0, 1, 2); the output is at the first one's scale.
        width: output channels.

    Shapes:
        ``feats[i]``: ``[B, channels[i], H_i, W_i]`` -> ``[B, width, H_l, W_l]`` with ``l = levels[0]``.
    """

    def __init__(self, channels: Sequence[int], levels: Sequence[int], width: int) -> None:
        super().__init__()
        self.levels = tuple(levels)
        self.proj = nn.ModuleList(nn.Conv2d(channels[i], width, 1) for i in self.levels)
        self.smooth = ConvNormAct(width, width)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        target = feats[self.levels[0]].shape[-2:]
        out = self.proj[0](feats[self.levels[0]])
        for proj, i in zip(self.proj[1:], self.levels[1:]):
            out = out + nnf.interpolate(proj(feats[i]), size=target, mode="bilinear", align_corners=False)
        return self.smooth(out)
