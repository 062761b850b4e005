"""Enhancement head: image-to-image despeckling/denoising at full input resolution.

A light decoder fuses the two finest encoder levels, upsamples to the input size, joins a
few convolutions of the input image and predicts a residual added to the input's first channel.

Outputs: ``enhanced`` ``[B, 1, H, W]``, the enhanced frame in the normalised space of the input's
first channel (``(x - mean[0]) / std[0]`` with x in [0, 1]); the task maps it back to pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as nnf

from engine.heads.base import FeatureSpec
from engine.layers.blocks import ConvNormAct, PyramidFuse


class ResidualEnhancementHead(nn.Module):
    """Fused levels 0-1 + image convs -> residual image.

    Args:
        spec: the encoder's feature pyramid.
        levels: fused encoder levels.
        width: decoder width (kept small: this head runs at full resolution).
    """

    def __init__(self, spec: FeatureSpec, levels: Sequence[int] = (0, 1), width: int = 16) -> None:
        super().__init__()
        self.fuse = PyramidFuse(spec.channels, levels, width)
        self.image = ConvNormAct(spec.in_chans, width)
        self.mix = ConvNormAct(2 * width, width)
        self.out = nn.Conv2d(width, 1, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, feats: Sequence[torch.Tensor], image: torch.Tensor) -> dict[str, torch.Tensor]:
        up = nnf.interpolate(self.fuse(feats), size=image.shape[-2:], mode="bilinear", align_corners=False)
        x = self.mix(torch.cat([up, self.image(image)], 1))
        return {"enhanced": image[:, :1] + self.out(x)}


class EnhancementLoss(nn.Module):
    """L1 between ``enhanced`` and the clean target.

    Target: ``[B, 1, H, W]`` float32, the clean frame preprocessed like the input's first channel.
    """

    def forward(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        return nnf.l1_loss(outputs["enhanced"], target)
