"""EchoCare-style pretraining: masked image modelling with hard-patch mining and a label tree.

Pixel branch: mask squares of ``mask_unit`` pixels are hidden by replacing their patch
embeddings with the encoder's ``mask_token``; a light decoder (1x1 conv + pixel shuffle on
the 1/32 level) reconstructs the grey pixels, and the L1 error on the hidden squares is the
reconstruction loss.

Adaptive hard-patch mining: a small head predicts each square's reconstruction error. Before
each masked pass, it scores the clean view and the ``hard_share`` of the squares to hide is
taken from the highest predicted errors; the rest are random. The head is
trained to rank squares like the true errors (a standardised MSE on the hidden squares).

Progressive schedule: ``mask_ratio`` and ``hard_share`` ramp linearly from their start to their
end values over ``ramp_steps`` optimiser steps.

Representation branch (the second branch, on the clean view): :class:`HierarchicalClassifier`
predicts one class per level of the metadata tree from the pooled deepest features, with one
cross-entropy per level.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as nnf

from training.config import MimCfg
from training.data.tree import UNKNOWN


class HierarchicalClassifier(nn.Module):
    """One linear classifier per tree level over globally pooled deepest features.

    Args:
        dim: channels of the pooled feature.
        sizes: classes per level (coarse to fine).
    """

    def __init__(self, dim: int, sizes: Sequence[int]) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.levels = nn.ModuleList(nn.Linear(dim, max(1, n)) for n in sizes)

    def forward(self, deepest: Tensor) -> list[Tensor]:
        """Logits per level, each ``[B, classes]``, from ``[B, C, h, w]`` features."""
        pooled = self.norm(deepest.mean(dim=(2, 3)))
        return [head(pooled) for head in self.levels]


def level_losses(logits: Sequence[Tensor], labels: Tensor) -> list[Tensor]:
    """Cross-entropy per level; ``labels`` ``[B, L]`` with UNKNOWN (-1) ignored."""
    out = []
    for i, lg in enumerate(logits):
        y = labels[:, i]
        known = y != UNKNOWN
        out.append(nnf.cross_entropy(lg[known], y[known]) if known.any() else lg.sum() * 0.0)
    return out


def ramp(start_end: tuple[float, float], step: int, ramp_steps: int) -> float:
    """Linear ramp of a (start, end) pair over ``ramp_steps`` steps."""
    lo, hi = start_end
    t = 1.0 if ramp_steps <= 0 else min(1.0, step / ramp_steps)
    return lo + (hi - lo) * t


class MimPretrainer(nn.Module):
    """The trained module of a pretraining run: ``forward(batch) -> {"loss", "recon", ...}``.

    Args:
        encoder: an EchoCare encoder (``forward(x, mask)`` with ``mask`` ``[B, H/p, W/p]``).
        input_size: model input (H, W).
        cfg: masking, mining and schedule settings.
        tree_sizes: classes per tree level (empty: no hierarchical classifier).
        tree_weight: weight of the classifier losses.
        ramp_steps: optimiser steps of the progressive schedule.
        grad_accum: micro-batches per optimiser step (the schedule counts optimiser steps).
    """

    def __init__(
        self,
        encoder: nn.Module,
        input_size: tuple[int, int],
        cfg: MimCfg,
        tree_sizes: Sequence[int] = (),
        tree_weight: float = 0.5,
        ramp_steps: int = 1,
        grad_accum: int = 1,
    ) -> None:
        super().__init__()
        self.encoder, self.cfg, self.input_size = encoder, cfg, input_size
        arch = encoder.arch  # type: ignore[attr-defined]
        self.patch, stride, deep = arch.patch_size, arch.strides[-1], arch.channels[-1]
        if cfg.mask_unit % self.patch:
            raise ValueError(f"mask_unit {cfg.mask_unit} is not a multiple of the patch size {self.patch}")
        self.decoder = nn.Sequential(nn.Conv2d(deep, stride * stride, 1), nn.PixelShuffle(stride))
        mid = arch.channels[-2]
        self.difficulty = nn.Sequential(nn.Conv2d(mid, mid // 2, 1), nn.GELU(), nn.Conv2d(mid // 2, 1, 1))
        self.classifier = HierarchicalClassifier(deep, tree_sizes) if tree_sizes else None
        self.tree_weight = tree_weight
        self.ramp_steps = ramp_steps * grad_accum
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))

    @property
    def grid(self) -> tuple[int, int]:
        return self.input_size[0] // self.cfg.mask_unit, self.input_size[1] // self.cfg.mask_unit

    def schedule(self) -> tuple[float, float]:
        """(mask ratio, hard share) at the current point of the run."""
        step = int(self.seen)
        return ramp(self.cfg.mask_ratio, step, self.ramp_steps), ramp(
            self.cfg.hard_share, step, self.ramp_steps
        )

    def predict_difficulty(self, feats: Sequence[Tensor]) -> Tensor:
        """Predicted reconstruction error per mask square ``[B, gh * gw]`` from features."""
        pred = self.difficulty(feats[-2])
        return nnf.adaptive_avg_pool2d(pred, self.grid).flatten(1)

    def plan_mask(self, images: Tensor, ratio: float, hard_share: float, difficulty: Tensor | None) -> Tensor:
        """Choose the hidden squares: ``[B, gh * gw]`` bool.

        The ``hard_share`` of them with the highest predicted error (``difficulty``, from the
        unmasked view), the rest uniformly at random.
        """
        b, n = images.shape[0], self.grid[0] * self.grid[1]
        k = max(1, min(n - 1, round(ratio * n)))
        scores = torch.rand(b, n, device=images.device)
        k_hard = round(hard_share * k)
        if k_hard > 0 and difficulty is not None:
            hard = difficulty.detach().topk(k_hard, dim=1).indices
            scores = scores.scatter(1, hard, 2.0)
        chosen = scores.topk(k, dim=1).indices
        return torch.zeros(b, n, dtype=torch.bool, device=images.device).scatter(1, chosen, True)

    def token_mask(self, units: Tensor) -> Tensor:
        """Square mask ``[B, gh * gw]`` -> patch-token mask ``[B, H / patch, W / patch]``."""
        r = self.cfg.mask_unit // self.patch
        grid = units.view(-1, *self.grid)
        return grid.repeat_interleave(r, dim=1).repeat_interleave(r, dim=2)

    def unit_errors(self, recon: Tensor, target: Tensor) -> Tensor:
        """Mean absolute error per mask square ``[B, gh * gw]``."""
        err = (recon - target).abs().mean(dim=1, keepdim=True)
        return nnf.avg_pool2d(err, self.cfg.mask_unit).flatten(1)

    def forward(self, batch: dict[str, Tensor], units: Tensor | None = None) -> dict[str, Tensor]:
        """Both branches: the clean view feeds the label tree and scores difficulty, the masked
        view is reconstructed.

        Args:
            batch: ``image`` [B, 3, H, W] in [0, 1] and ``labels`` [B, L] tree classes.
            units: an explicit square mask ``[B, gh * gw]`` (evaluation); planned when None.
        """
        images = batch["image"]
        out: dict[str, Tensor] = {}
        loss = images.new_zeros(())
        ratio, hard = self.schedule()
        clean: list[Tensor] | None = None
        if self.classifier is not None or (units is None and hard > 0):
            clean = self.encoder(images)
        if self.classifier is not None and clean is not None:
            per_level = level_losses(self.classifier(clean[-1]), batch["labels"])
            for i, value in enumerate(per_level):
                out[f"cls{i}"] = value
            loss = loss + self.tree_weight * torch.stack(per_level).mean()
        if units is None:
            difficulty = self.predict_difficulty(clean) if clean is not None and hard > 0 else None
            units = self.plan_mask(images, ratio, hard, difficulty)
            if self.training:
                self.seen += 1
        feats = self.encoder(images, self.token_mask(units))
        errors = self.unit_errors(self.decoder(feats[-1]), images[:, :1])
        hidden = units.float()
        out["recon"] = (errors * hidden).sum() / hidden.sum().clamp_min(1)
        pred = self.predict_difficulty(feats)
        truth = errors.detach()
        z = (truth - truth.mean(1, keepdim=True)) / (truth.std(1, keepdim=True) + 1e-6)
        zp = (pred - pred.mean(1, keepdim=True)) / (pred.std(1, keepdim=True) + 1e-6)
        out["hpm"] = ((zp - z) ** 2 * hidden).sum() / hidden.sum().clamp_min(1)
        out["loss"] = loss + out["recon"] + self.cfg.hpm_weight * out["hpm"]
        return out
