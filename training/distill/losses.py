"""Distillation losses: per-level feature matching and one output loss per head kind.

Output losses are registered by head kind in :data:`OUTPUT_LOSSES` (a kind without one matches
its outputs by mean squared difference, :func:`output_loss`) and called as
``loss(student_outputs, teacher_outputs, temperature)`` with both heads' raw output dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as nnf
from torch import Tensor, nn

from engine.registry import Registry

OutputLoss = Callable[[dict[str, Tensor], dict[str, Tensor], float], Tensor]
OUTPUT_LOSSES: Registry[OutputLoss] = Registry("distillation loss")


def matched_outputs(s: dict[str, Tensor], t: dict[str, Tensor], temperature: float) -> Tensor:
    """Mean squared difference of every floating-point output (kinds without their own loss)."""
    del temperature
    terms = [nnf.mse_loss(s[k], t[k]) for k in t if torch.is_floating_point(t[k])]
    return torch.stack(terms).sum() if terms else next(iter(s.values())).sum() * 0.0


def output_loss(kind: str) -> OutputLoss:
    """The distillation loss of head kind ``kind``: its own where registered, else ``matched_outputs``."""
    return OUTPUT_LOSSES.get(kind) if kind in OUTPUT_LOSSES else matched_outputs


def soft_kl(student: Tensor, teacher: Tensor, temperature: float, dim: int = 1) -> Tensor:
    """KL(teacher || student) of logits softened by ``temperature``, scaled by T**2, mean per item."""
    t = temperature
    log_p = nnf.log_softmax(student / t, dim)
    q = nnf.softmax(teacher / t, dim)
    kl = (q * (torch.log(q.clamp_min(1e-8)) - log_p)).sum(dim)
    return kl.mean() * t * t


@OUTPUT_LOSSES.register("classification")
def _classification(s: dict[str, Tensor], t: dict[str, Tensor], temperature: float) -> Tensor:
    return soft_kl(s["logits"], t["logits"], temperature)


@OUTPUT_LOSSES.register("segmentation")
def _segmentation(s: dict[str, Tensor], t: dict[str, Tensor], temperature: float) -> Tensor:
    """Soft masks: per-pixel KL over the class channel, plus Dice against the teacher's mask.

    The KL is a mean over pixels, so on ultrasound frames (a lesion is a few percent of the
    image) it is almost all background and a student can settle on predicting background
    everywhere. The Dice term (MONAI ``DiceLoss`` on the teacher's argmax, foreground classes
    only) weighs each structure by its own size, as the teacher's own training loss did.
    """
    from monai.losses import DiceLoss

    teacher_mask = t["logits"].argmax(1, keepdim=True)
    dice = DiceLoss(include_background=False, to_onehot_y=True, softmax=True)(s["logits"], teacher_mask)
    return soft_kl(s["logits"], t["logits"], temperature) + dice


@OUTPUT_LOSSES.register("detection")
def _detection(s: dict[str, Tensor], t: dict[str, Tensor], temperature: float) -> Tensor:
    """Soft class and centre-ness targets; boxes matched where the teacher sees an object."""
    del temperature
    cls = nnf.binary_cross_entropy_with_logits(s["cls_logits"], torch.sigmoid(t["cls_logits"]))
    ctr = nnf.binary_cross_entropy_with_logits(s["ctr_logits"], torch.sigmoid(t["ctr_logits"]))
    weight = torch.sigmoid(t["cls_logits"]).amax(-1) * torch.sigmoid(t["ctr_logits"])
    box = (nnf.smooth_l1_loss(s["boxes"], t["boxes"], reduction="none").mean(-1) * weight).sum()
    return cls + ctr + box / weight.sum().clamp_min(1.0)


@OUTPUT_LOSSES.register("landmarks")
def _landmarks(s: dict[str, Tensor], t: dict[str, Tensor], temperature: float) -> Tensor:
    del temperature
    return nnf.mse_loss(s["heatmaps"], t["heatmaps"]) * 100.0


@OUTPUT_LOSSES.register("regression")
def _regression(s: dict[str, Tensor], t: dict[str, Tensor], temperature: float) -> Tensor:
    """MSE relative to each output's typical magnitude (values in mm must not swamp the rest)."""
    del temperature
    scale = t["values"].abs().mean(0, keepdim=True).clamp_min(1.0)
    return nnf.mse_loss(s["values"] / scale, t["values"] / scale)


@OUTPUT_LOSSES.register("enhancement")
def _enhancement(s: dict[str, Tensor], t: dict[str, Tensor], temperature: float) -> Tensor:
    del temperature
    return nnf.mse_loss(s["enhanced"], t["enhanced"])


@OUTPUT_LOSSES.register("report")
def _report(s: dict[str, Tensor], t: dict[str, Tensor], temperature: float) -> Tensor:
    """Token KL under teacher forcing on the teacher's own sentence (``logits`` [B, T, V])."""
    return soft_kl(s["logits"], t["logits"], temperature, dim=-1)


class FeatureProjector(nn.Module):
    """1x1 convolutions mapping each student level to the teacher's channels.

    A level whose channels match the teacher's starts as the identity, so a student initialised
    from the teacher starts with no feature-matching loss.

    Args:
        student_channels: channels of the student's five levels.
        teacher_channels: channels of the teacher's five levels.
    """

    def __init__(self, student_channels: Sequence[int], teacher_channels: Sequence[int]) -> None:
        super().__init__()
        self.proj = nn.ModuleList(
            nn.Conv2d(s, t, 1) for s, t in zip(student_channels, teacher_channels, strict=True)
        )
        with torch.no_grad():
            for conv in self.proj:
                if conv.in_channels == conv.out_channels:
                    conv.weight.copy_(torch.eye(conv.in_channels).reshape(conv.weight.shape))
                    conv.bias.zero_()

    def forward(self, student: Sequence[Tensor], teacher: Sequence[Tensor]) -> Tensor:
        """Mean over levels of the MSE between projected student and teacher maps."""
        terms = []
        for proj, s, t in zip(self.proj, student, teacher, strict=True):
            p = proj(s)
            if p.shape[-2:] != t.shape[-2:]:
                p = nnf.interpolate(p, size=t.shape[-2:], mode="bilinear", align_corners=False)
            terms.append(nnf.mse_loss(p, t))
        return torch.stack(terms).mean()
