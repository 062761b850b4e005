"""Segmentation head: the UNETR-style decoder EchoCare's baselines use (echocare.md section 3.2).

Skips from the input image and the five encoder levels go through MONAI ``UnetrBasicBlock``s,
five ``UnetrUpBlock``s climb back to full resolution and ``UnetOutBlock`` gives per-class logits.
The decoder width is a parameter (64 in the baselines; smaller for light models).

Outputs: ``logits`` ``[B, K + 1, H, W]`` at model input size; channel 0 is background.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.losses import DiceCELoss
from monai.networks.blocks import UnetOutBlock, UnetrBasicBlock, UnetrUpBlock
from torch import nn

from engine.heads.base import FeatureSpec


def _skip(in_ch: int, out_ch: int, norm: str) -> UnetrBasicBlock:
    return UnetrBasicBlock(2, in_ch, out_ch, kernel_size=3, stride=1, norm_name=norm, res_block=True)


def _up(in_ch: int, out_ch: int, norm: str) -> UnetrUpBlock:
    return UnetrUpBlock(
        2, in_ch, out_ch, kernel_size=3, upsample_kernel_size=2, norm_name=norm, res_block=True
    )


class UnetrSegmentationHead(nn.Module):
    """UNETR decoder over the image and the five encoder levels.

    Args:
        spec: the encoder's feature pyramid (five levels at strides 2..32).
        num_classes: structures, background excluded (logits have ``num_classes + 1`` channels).
        width: decoder width ``w``; level ``i`` is decoded at ``w * 2**i`` channels.
        norm: MONAI norm name ("instance" as in the baselines, or "batch", "group").
    """

    def __init__(self, spec: FeatureSpec, num_classes: int, width: int = 64, norm: str = "instance") -> None:
        super().__init__()
        c, w = spec.channels, width
        self.skip0 = _skip(spec.in_chans, w, norm)
        self.skips = nn.ModuleList(_skip(c[i], w * 2**i, norm) for i in range(4))
        self.bottleneck = _skip(c[4], w * 16, norm)
        # up i: w*2**(i+1) -> w*2**i with the skip of level i; the last one joins the image skip
        self.ups = nn.ModuleList(_up(w * 2 ** (i + 1), w * 2**i, norm) for i in reversed(range(4)))
        self.up_image = _up(w, w, norm)
        self.out = UnetOutBlock(2, w, num_classes + 1)

    def forward(self, feats: Sequence[torch.Tensor], image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.bottleneck(feats[4])
        for up, level in zip(self.ups, reversed(range(4))):
            x = up(x, self.skips[level](feats[level]))
        x = self.up_image(x, self.skip0(image))
        return {"logits": self.out(x)}


class SegmentationLoss(nn.Module):
    """Dice + cross-entropy (MONAI ``DiceCELoss``, softmax, one-hot target).

    Target: ``[B, 1, H, W]`` int64 label map at model input size (0 = background, i + 1 = labels[i]).
    """

    def __init__(self, include_background: bool = False, lambda_dice: float = 1.0, lambda_ce: float = 1.0):
        super().__init__()
        self.loss = DiceCELoss(
            include_background=include_background,
            to_onehot_y=True,
            softmax=True,
            lambda_dice=lambda_dice,
            lambda_ce=lambda_ce,
        )

    def forward(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        return self.loss(outputs["logits"], target)
