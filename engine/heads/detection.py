"""Detection head: anchor-free (FCOS-style) over levels of the feature pyramid.

Every feature pixel of the chosen levels is a candidate point. A shared tower predicts per
point class logits, a centerness logit and distances (left, top, right, bottom) to the box
edges, scaled by the level's stride.

Outputs, with ``N`` = points over all chosen levels (``anchor_points`` gives their order):
    ``cls_logits`` ``[B, N, C]``; ``ctr_logits`` ``[B, N]``;
    ``boxes`` ``[B, N, 4]`` (x0, y0, x1, y1) in model-input pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as nnf

from engine.heads.base import FeatureSpec
from engine.layers.blocks import ConvNormAct


def anchor_points(spec: FeatureSpec, levels: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Centres of the feature pixels of ``levels`` in model-input pixels.

    Returns:
        points ``[N, 2]`` (x, y) and the stride of each point ``[N]``.
    """
    pts, strides = [], []
    for i in levels:
        s = spec.strides[i]
        h, w = -(-spec.input_size[0] // s), -(-spec.input_size[1] // s)
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        pts.append(torch.stack([xs, ys], -1).reshape(-1, 2).float() * s + (s - 1) / 2)
        strides.append(torch.full((h * w,), float(s)))
    return torch.cat(pts), torch.cat(strides)


class FcosDetectionHead(nn.Module):
    """FCOS-style head with a tower shared across levels.

    Args:
        spec: the encoder's feature pyramid.
        num_classes: C, the number of box labels.
        levels: encoder levels used (default strides 8, 16, 32 as the DINO baseline).
        width: tower width.
        convs: tower depth.
        prior: initial foreground probability of the class logits.
        cross_label_iou: kept for the task (``engine.tasks.detect``), unused by forward.
    """

    def __init__(
        self,
        spec: FeatureSpec,
        num_classes: int,
        levels: Sequence[int] = (2, 3, 4),
        width: int = 64,
        convs: int = 2,
        prior: float = 0.01,
        cross_label_iou: float | None = None,
    ) -> None:
        super().__init__()
        del cross_label_iou
        self.levels = tuple(levels)
        self.proj = nn.ModuleList(nn.Conv2d(spec.channels[i], width, 1) for i in self.levels)
        self.tower = nn.Sequential(*(ConvNormAct(width, width) for _ in range(convs)))
        self.cls = nn.Conv2d(width, num_classes, 3, padding=1)
        self.reg = nn.Conv2d(width, 4, 3, padding=1)
        self.ctr = nn.Conv2d(width, 1, 3, padding=1)
        self.scales = nn.Parameter(torch.ones(len(self.levels)))
        nn.init.constant_(self.cls.bias, -float(torch.log(torch.tensor((1 - prior) / prior))))
        self.strides = tuple(spec.strides[i] for i in self.levels)

    def forward(self, feats: Sequence[torch.Tensor], image: torch.Tensor) -> dict[str, torch.Tensor]:
        del image
        cls, ctr, boxes = [], [], []
        for k, (proj, i) in enumerate(zip(self.proj, self.levels)):
            t = self.tower(proj(feats[i]))
            h, w = t.shape[-2:]
            s = self.strides[k]
            ys, xs = torch.meshgrid(
                torch.arange(h, device=t.device), torch.arange(w, device=t.device), indexing="ij"
            )
            centres = torch.stack([xs, ys], -1).reshape(1, -1, 2).to(t.dtype) * s + (s - 1) / 2
            ltrb = nnf.softplus(self.reg(t) * self.scales[k]).flatten(2).transpose(1, 2) * s
            boxes.append(torch.cat([centres - ltrb[..., :2], centres + ltrb[..., 2:]], -1))
            cls.append(self.cls(t).flatten(2).transpose(1, 2))
            ctr.append(self.ctr(t).flatten(2).squeeze(1))
        return {
            "cls_logits": torch.cat(cls, 1),
            "ctr_logits": torch.cat(ctr, 1),
            "boxes": torch.cat(boxes, 1),
        }


def _giou_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - generalised IoU of matched ``[M, 4]`` boxes."""
    lt = torch.max(pred[:, :2], target[:, :2])
    rb = torch.min(pred[:, 2:], target[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area_p = (pred[:, 2:] - pred[:, :2]).clamp(min=0).prod(1)
    area_t = (target[:, 2:] - target[:, :2]).clamp(min=0).prod(1)
    union = area_p + area_t - inter + 1e-6
    hull = (torch.max(pred[:, 2:], target[:, 2:]) - torch.min(pred[:, :2], target[:, :2])).prod(1) + 1e-6
    return 1 - (inter / union - (hull - union) / hull)


class DetectionLoss(nn.Module):
    """Sigmoid focal loss (classes) + GIoU (boxes) + BCE (centerness), FCOS assignment.

    A point is positive for the smallest target box that contains it and whose longest
    distance to its edges lies in the point's level range (0-64, 64-128, >128 px times
    stride / 8 by default).

    Target: a list of length B of ``(boxes [M, 4] float32 in model-input pixels,
    labels [M] int64)``; M may be 0.

    Args:
        spec: the encoder's feature pyramid (to rebuild the points).
        levels: the head's levels.
        alpha, gamma: focal loss parameters.
    """

    def __init__(
        self, spec: FeatureSpec, levels: Sequence[int] = (2, 3, 4), alpha: float = 0.25, gamma: float = 2.0
    ) -> None:
        super().__init__()
        points, strides = anchor_points(spec, levels)
        self.register_buffer("points", points, persistent=False)
        self.register_buffer("limit", strides * 8.0, persistent=False)
        self.alpha, self.gamma = alpha, gamma

    def _assign(self, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Index of the target box of each point (-1 for background) and its centerness."""
        n = self.points.shape[0]
        if boxes.numel() == 0:
            return torch.full((n,), -1, dtype=torch.long), torch.zeros(n)
        x, y = self.points[:, :1], self.points[:, 1:]
        ltrb = torch.stack([x - boxes[:, 0], y - boxes[:, 1], boxes[:, 2] - x, boxes[:, 3] - y], -1)
        inside = ltrb.min(-1).values > 0
        reach = ltrb.max(-1).values
        lo = torch.where(self.limit > self.limit.min(), self.limit / 2, torch.zeros_like(self.limit))
        hi = torch.where(self.limit < self.limit.max(), self.limit, torch.full_like(self.limit, 1e9))
        ok = inside & (reach >= lo[:, None]) & (reach <= hi[:, None])
        areas = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))[None].expand(n, -1)
        areas = torch.where(ok, areas, torch.full_like(areas, float("inf")))
        best_area, best = areas.min(1)
        index = torch.where(torch.isfinite(best_area), best, torch.full_like(best, -1))
        d = ltrb[torch.arange(n), best].clamp(min=1e-6)
        lr, tb = d[:, [0, 2]], d[:, [1, 3]]
        ctr = torch.sqrt((lr.min(1).values / lr.max(1).values) * (tb.min(1).values / tb.max(1).values))
        return index, torch.where(index >= 0, ctr, torch.zeros_like(ctr))

    def forward(
        self, outputs: dict[str, torch.Tensor], target: Sequence[tuple[torch.Tensor, torch.Tensor]]
    ) -> torch.Tensor:
        cls_logits, ctr_logits, pred = outputs["cls_logits"], outputs["ctr_logits"], outputs["boxes"]
        total, positives = cls_logits.sum() * 0.0, 0
        for b, (boxes, labels) in enumerate(target):
            index, ctr = self._assign(boxes.to(self.points))
            pos = index >= 0
            onehot = torch.zeros_like(cls_logits[b])
            onehot[pos, labels.to(cls_logits.device)[index[pos]]] = 1.0
            p = torch.sigmoid(cls_logits[b])
            ce = nnf.binary_cross_entropy_with_logits(cls_logits[b], onehot, reduction="none")
            pt = p * onehot + (1 - p) * (1 - onehot)
            weight = (self.alpha * onehot + (1 - self.alpha) * (1 - onehot)) * (1 - pt) ** self.gamma
            total = total + (weight * ce).sum()
            if pos.any():
                matched, weight_ctr = boxes.to(pred)[index[pos]], ctr[pos]
                giou = (_giou_loss(pred[b][pos], matched) * weight_ctr).sum()
                giou = giou / weight_ctr.sum().clamp(min=1e-6)
                bce = nnf.binary_cross_entropy_with_logits(ctr_logits[b][pos], weight_ctr, reduction="sum")
                total = total + giou * pos.sum() + bce
            positives += int(pos.sum())
        return total / max(1, positives)
