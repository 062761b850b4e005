"""Prompt head: a class-agnostic mask from clicks, a box and the previous mask, on cached features.

Prompts arrive as four maps at model input size (``engine.heads.kinds.prompt.prompt_maps``):
positive clicks, negative clicks (each a small Gaussian disk), the box (filled) and the previous
mask (probabilities), the dense click encoding of interactive-segmentation networks. The
decoder is a light top-down pyramid over encoder levels 3 -> 0: at each level the features
(1x1 projection) and the prompt maps pooled to that level (max-pooled clicks, so a click never
vanishes; average-pooled box and mask) are added and refined by a MONAI convolution block; at
the output resolution (model input size divided by ``stride``) the prompt maps and the image
join a last, narrower block (half the width). With ``stride`` 2 that block runs on a quarter of
the pixels and the logits are upsampled (bilinear) to the input size, as SAM's decoder answers
at a fraction of its input: at 256x256 input it roughly halves the decoder's time per click.

Outputs: ``masks`` ``[B, 2, H, W]`` logits at model input size and ``quality`` ``[B, 2]`` (the
predicted IoU of each, in [0, 1]). The two outputs are the two readings of a click: the
structure under it, and the structure around that one, filled (``engine.heads.kinds.prompt.whole``:
a click in the LV cavity gives the cavity and the whole ventricle; on a compact structure the
two agree).

Without prompts (``prompt=None``: a plain ``head(feats, image)`` call, as export and the
output-name probe make) the maps are zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.losses import DiceLoss
from monai.networks.blocks import Convolution
from torch import nn
from torch.nn import functional as nnf

from engine.heads.base import FeatureSpec

PROMPT_CHANNELS = 4  # positive clicks, negative clicks, box, previous mask
OUTPUTS = 2


def _block(in_ch: int, out_ch: int) -> Convolution:
    groups = 8 if out_ch % 8 == 0 else 1
    return Convolution(2, in_ch, out_ch, kernel_size=3, norm=("group", {"num_groups": groups}), act="relu")


def pool_prompt(prompt: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """The prompt maps at ``size`` (H, W): clicks max-pooled, box and mask averaged."""
    size = (int(size[0]), int(size[1]))
    if tuple(prompt.shape[-2:]) == size:
        return prompt
    clicks = nnf.adaptive_max_pool2d(prompt[:, :2], size)
    rest = nnf.adaptive_avg_pool2d(prompt[:, 2:], size)
    return torch.cat([clicks, rest], 1)


class PromptHead(nn.Module):
    """Top-down decoder over encoder levels ``levels`` with the prompt maps added at each.

    Args:
        spec: the encoder's feature pyramid.
        width: decoder channels.
        levels: encoder levels used, finest last is level 0 (stride 2).
        stride: the last block's resolution, model input size divided by it (1 or 2); its
            logits are upsampled to the input size.
    """

    def __init__(
        self, spec: FeatureSpec, width: int = 32, levels: Sequence[int] = (3, 2, 1, 0), stride: int = 1
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"prompt head stride must be 1 or 2, not {stride}")
        self.stride = int(stride)
        self.levels = tuple(sorted((int(i) for i in levels), reverse=True))
        self.proj = nn.ModuleDict({str(i): nn.Conv2d(spec.channels[i], width, 1) for i in self.levels})
        self.prompt_in = nn.ModuleDict({str(i): nn.Conv2d(PROMPT_CHANNELS, width, 1) for i in self.levels})
        self.refine = nn.ModuleDict({str(i): _block(width, width) for i in self.levels})
        fine = max(8, width // 2)
        self.full = _block(width + PROMPT_CHANNELS + spec.in_chans, fine)
        self.out = nn.Conv2d(fine, OUTPUTS, 1)
        self.quality = nn.Sequential(nn.Linear(2 * fine, width), nn.ReLU(), nn.Linear(width, 1))

    def forward(
        self, feats: Sequence[torch.Tensor], image: torch.Tensor, prompt: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        b, _, h, w = image.shape
        if prompt is None:
            prompt = image.new_zeros(b, PROMPT_CHANNELS, h, w)
        prompt = prompt.to(image.dtype)
        x: torch.Tensor | None = None
        for i in self.levels:
            f = feats[i]
            y = self.proj[str(i)](f) + self.prompt_in[str(i)](pool_prompt(prompt, f.shape[-2:]))
            if x is not None:
                y = y + nnf.interpolate(x, size=f.shape[-2:], mode="bilinear", align_corners=False)
            x = self.refine[str(i)](y)
        assert x is not None
        size = (-(-h // self.stride), -(-w // self.stride))
        if size != (h, w):
            prompt = pool_prompt(prompt, size)
            image = nnf.adaptive_avg_pool2d(image, size)
        x = nnf.interpolate(x, size=size, mode="bilinear", align_corners=False)
        x = self.full(torch.cat([x, prompt, image], 1))
        masks = self.out(x)
        pooled = x.mean((2, 3))
        quality = []
        for k in range(OUTPUTS):
            weight = torch.sigmoid(masks[:, k : k + 1])
            inside = (x * weight).sum((2, 3)) / weight.sum((2, 3)).clamp_min(1.0)
            quality.append(torch.sigmoid(self.quality(torch.cat([inside, pooled], 1))))
        if size != (h, w):
            masks = nnf.interpolate(masks, size=(h, w), mode="bilinear", align_corners=False)
        return {"masks": masks, "quality": torch.cat(quality, 1)}


def mask_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of each thresholded output ``[B, K, H, W]`` with its target (``[B, K, H, W]``, or one
    ``[B, 1, H, W]`` for all): ``[B, K]``."""
    pred = logits > 0
    truth = target > 0.5
    inter = (pred & truth).sum((2, 3)).float()
    union = (pred | truth).sum((2, 3)).float()
    return torch.where(union > 0, inter / union.clamp_min(1.0), torch.ones_like(inter))


class PromptLoss(nn.Module):
    """Mask loss of each output against its own target, plus the quality regression.

    Each output's loss is Dice (MONAI ``DiceLoss``, sigmoid) plus binary cross-entropy against
    its target, averaged over the outputs, and ``quality`` learns each output's actual IoU with
    its target (mean squared error, weight ``quality_weight``).

    Target: ``[B, 2, H, W]`` float masks at model input size, the structure asked for and the
    structure around it (``engine.heads.kinds.prompt.whole``); a ``[B, 1, H, W]`` target trains
    both outputs on the same mask.
    """

    def __init__(self, quality_weight: float = 1.0) -> None:
        super().__init__()
        self.dice = DiceLoss(sigmoid=True, reduction="none")
        self.quality_weight = quality_weight

    def forward(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        logits = outputs["masks"].float()
        target = target.float().expand(-1, logits.shape[1], -1, -1)
        per = []
        for k in range(logits.shape[1]):
            one, truth = logits[:, k : k + 1], target[:, k : k + 1]
            dice = self.dice(one, truth).reshape(one.shape[0])
            bce = nnf.binary_cross_entropy_with_logits(one, truth, reduction="none").mean((1, 2, 3))
            per.append(dice + bce)
        mask_loss = torch.stack(per, 1).mean()
        iou = mask_iou(logits.detach(), target)
        quality = nnf.mse_loss(outputs["quality"].float(), iou)
        return mask_loss + self.quality_weight * quality
