"""LoRA on the q and v parts of every attention ``qkv`` projection, foldable back for export.

The wrapper keeps the layout of the EchoCare fine-tuning baselines that ``engine.checkpoint``
folds on import: ``attn.qkv.qkv.{weight,bias}`` (the frozen projection) plus
``attn.qkv.linear_{a,b}_{q,v}.weight``; the update is ``W[:C] += B_q A_q`` and
``W[-C:] += B_v A_v`` with no extra scale. :func:`merge_lora` folds it into plain ``qkv``
layers so a stored version has the official key layout.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class LoraQkv(nn.Module):
    """A frozen ``qkv`` Linear plus trainable low-rank updates of its q and v rows.

    Args:
        qkv: the attention's ``nn.Linear(C, 3C)``.
        rank: r, the rank of each update.
    """

    def __init__(self, qkv: nn.Linear, rank: int) -> None:
        super().__init__()
        c = qkv.in_features
        self.qkv = qkv
        self.dim = c
        self.linear_a_q = nn.Linear(c, rank, bias=False)
        self.linear_b_q = nn.Linear(rank, c, bias=False)
        self.linear_a_v = nn.Linear(c, rank, bias=False)
        self.linear_b_v = nn.Linear(rank, c, bias=False)
        for a, b in ((self.linear_a_q, self.linear_b_q), (self.linear_a_v, self.linear_b_v)):
            nn.init.kaiming_uniform_(a.weight, a=math.sqrt(5))
            nn.init.zeros_(b.weight)

    def forward(self, x: Tensor) -> Tensor:
        out = self.qkv(x)
        c = self.dim
        dq = self.linear_b_q(self.linear_a_q(x))
        dv = self.linear_b_v(self.linear_a_v(x))
        return torch.cat([out[..., :c] + dq, out[..., c:-c], out[..., -c:] + dv], dim=-1)

    def folded(self) -> nn.Linear:
        """A plain Linear equal to this wrapper (the update folded into the weights)."""
        lin = nn.Linear(self.dim, 3 * self.dim, bias=self.qkv.bias is not None)
        with torch.no_grad():
            w = self.qkv.weight.detach().clone().double()
            w[: self.dim] += self.linear_b_q.weight.double() @ self.linear_a_q.weight.double()
            w[-self.dim :] += self.linear_b_v.weight.double() @ self.linear_a_v.weight.double()
            lin.weight.copy_(w.to(self.qkv.weight.dtype))
            if self.qkv.bias is not None:
                lin.bias.copy_(self.qkv.bias)
        return lin.to(self.qkv.weight.device)


def _attention_modules(encoder: nn.Module) -> list[nn.Module]:
    return [m for m in encoder.modules() if isinstance(getattr(m, "qkv", None), nn.Linear | LoraQkv)]


def add_lora(encoder: nn.Module, rank: int) -> int:
    """Wrap every attention's ``qkv`` in :class:`LoraQkv` and freeze everything but the updates.

    Returns:
        the number of wrapped projections.
    """
    for p in encoder.parameters():
        p.requires_grad_(False)
    count = 0
    for attn in _attention_modules(encoder):
        if isinstance(attn.qkv, nn.Linear):
            attn.qkv = LoraQkv(attn.qkv, rank).to(attn.qkv.weight.device)
            count += 1
    return count


def merge_lora(encoder: nn.Module) -> int:
    """Fold every :class:`LoraQkv` back into a plain ``qkv`` Linear; returns how many."""
    count = 0
    for attn in _attention_modules(encoder):
        if isinstance(attn.qkv, LoraQkv):
            attn.qkv = attn.qkv.folded()
            count += 1
    return count
