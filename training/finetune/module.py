"""The trained module of a fine-tuning run, and the encoder-feature cache of heads-only mode."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from engine.heads.base import FeatureSpec
from engine.heads.spec import head_spec
from training.finetune.samples import PreparedSet

if TYPE_CHECKING:
    from training.recipes.data import RecipeSet


def build_losses(spec: FeatureSpec, heads: Mapping[str, Mapping[str, Any]]) -> nn.ModuleDict:
    """The training loss of every head, as its kind declares it (``HeadSpec.build_loss``)."""
    return nn.ModuleDict({name: head_spec(name).build_loss(spec, params) for name, params in heads.items()})


def run_heads(model: nn.Module, feats: Sequence[Tensor], image: Tensor, targets: Mapping[str, Any]) -> dict:
    """Every trained head's raw outputs; teacher-forced kinds (the report) get their target as
    input, prompted kinds the prompts their spec makes from it (``HeadSpec.train_inputs``)."""
    out = {}
    for name in targets:
        head = model.heads[name]
        spec = head_spec(name)
        if spec.teacher_forced:
            out[name] = head(feats, image, tokens=targets[name])
        elif spec.train_inputs is not None:
            extra = {k: v.to(image.device) for k, v in spec.train_inputs(targets[name]).items()}
            out[name] = head(feats, image, **extra)
        else:
            out[name] = head(feats, image)
    return out


def head_losses(
    losses: nn.ModuleDict,
    outputs: Mapping[str, Any],
    targets: Mapping[str, Any],
    zero: Tensor,
    weights: Mapping[str, float] | None = None,
) -> dict[str, Tensor]:
    """``loss_<head>`` of every target's head and their sum (weighted when given) as ``loss``."""
    out: dict[str, Tensor] = {}
    total = zero
    for name, target in targets.items():
        loss = losses[name](outputs[name], target)
        out[f"loss_{name}"] = loss
        total = total + (weights[name] * loss if weights is not None else loss)
    out["loss"] = total
    return out


class FinetuneModule(nn.Module):
    """``forward(batch) -> {"loss", "loss_<head>"...}`` for the chosen heads.

    Args:
        model: the FoundationModel (encoder + heads).
        heads: the trained heads with their params (for the losses).
    """

    def __init__(self, model: nn.Module, heads: Mapping[str, Mapping[str, Any]]) -> None:
        super().__init__()
        self.model = model
        self.losses = build_losses(model.spec, heads)

    def forward(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        image, targets = batch["image"], batch["targets"]
        if "feats" in batch:
            feats = [f.to(image.dtype) for f in batch["feats"]]
        else:
            feats = self.model.encoder(image)
        outputs = run_heads(self.model, feats, image, targets)
        return head_losses(self.losses, outputs, targets, image.new_zeros(()))


def cache_features(
    data: PreparedSet | RecipeSet, encoder: nn.Module, device: str, batch: int = 16, half: bool = False
) -> None:
    """Run the (frozen) encoder once over ``data`` and keep its five maps per sample on the CPU.

    Afterwards ``data[i]`` carries ``feats`` and an epoch of heads-only training costs no
    encoder pass. ``half`` stores them as float16 (half the memory).
    """
    feats: list[list[Tensor]] = []
    encoder.eval()
    with torch.no_grad():
        for start in range(0, len(data), batch):
            images = torch.stack([data[i]["image"] for i in range(start, min(len(data), start + batch))])
            maps = encoder(images.to(device))
            for j in range(images.shape[0]):
                feats.append([m[j].to("cpu", torch.float16 if half else torch.float32) for m in maps])
    data.feats = feats
