"""Landmark head: one heatmap per landmark from the fused fine levels of the pyramid.

Outputs: ``heatmaps`` ``[B, L, H / s, W / s]`` where ``s`` is the stride of the first fused
level (4 by default); the peak of channel ``l`` is landmark ``l`` (``engine.tasks.landmarks``
finds it with sub-pixel refinement).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as nnf

from engine.heads.base import FeatureSpec
from engine.layers.blocks import ConvNormAct, PyramidFuse


class HeatmapLandmarkHead(nn.Module):
    """Predicts one heatmap per landmark from levels fused at the 1/4 scale.

    Args:
        spec: the encoder's feature pyramid.
        num_landmarks: L, one per landmark name of the model card.
        levels: fused encoder levels; the heatmaps are at the first one's scale.
        width: channels of the fused map.
    """

    def __init__(
        self, spec: FeatureSpec, num_landmarks: int, levels: Sequence[int] = (1, 2, 3), width: int = 64
    ) -> None:
        super().__init__()
        self.fuse = PyramidFuse(spec.channels, levels, width)
        self.refine = ConvNormAct(width, width)
        self.out = nn.Conv2d(width, num_landmarks, 1)
        self.stride = spec.strides[levels[0]]

    def forward(self, feats: Sequence[torch.Tensor], image: torch.Tensor) -> dict[str, torch.Tensor]:
        del image
        return {"heatmaps": self.out(self.refine(self.fuse(feats)))}


def gaussian_heatmaps(points: torch.Tensor, size: tuple[int, int], stride: int, sigma: float) -> torch.Tensor:
    """Render ``[B, L, 2]`` (x, y) model-input points as ``[B, L, h, w]`` Gaussians (peak 1).

    Args:
        points: model-input pixel coordinates; NaN points give an all-zero map.
        size: (h, w) of the heatmaps.
        stride: model-input pixels per heatmap pixel.
        sigma: Gaussian width in heatmap pixels.
    """
    h, w = size
    ys = torch.arange(h, dtype=points.dtype, device=points.device).view(1, 1, h, 1)
    xs = torch.arange(w, dtype=points.dtype, device=points.device).view(1, 1, 1, w)
    # heatmap pixel j covers model pixels [j*s, (j+1)*s): its centre is j*s + (s-1)/2
    px = ((points[..., 0] - (stride - 1) / 2) / stride)[..., None, None]
    py = ((points[..., 1] - (stride - 1) / 2) / stride)[..., None, None]
    maps = torch.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2 * sigma**2))
    return torch.nan_to_num(maps, nan=0.0)


class LandmarkLoss(nn.Module):
    """MSE between predicted heatmaps and Gaussians rendered at the target points.

    Target: ``[B, L, 2]`` float32 (x, y) in model-input pixels; NaN marks a missing landmark,
    whose channel is ignored.

    Args:
        stride: model-input pixels per heatmap pixel (the head's ``stride``).
        sigma: Gaussian width in heatmap pixels.
    """

    def __init__(self, stride: int = 4, sigma: float = 2.0) -> None:
        super().__init__()
        self.stride, self.sigma = stride, sigma

    def forward(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        pred = outputs["heatmaps"]
        maps = gaussian_heatmaps(target.to(pred), tuple(pred.shape[-2:]), self.stride, self.sigma)
        known = torch.isfinite(target).all(-1)
        if not known.any():
            return pred.sum() * 0.0
        return nnf.mse_loss(pred[known], maps[known]) * 100.0
