"""Flat-signature views of a FoundationModel, shared by the torch backend and ONNX export.

Backends exchange named arrays, so each graph has fixed input and output names:

* :class:`EncoderGraph`: ``image`` [B, 3, H, W] -> ``feat0`` .. ``feat4`` (the five levels);
* :class:`HeadGraph`: ``feat0`` .. ``feat4``, ``image`` -> that head's outputs, named as the
  head's dict keys in sorted order.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from engine.models.foundation import FoundationModel

IMAGE = "image"
FEATURES = tuple(f"feat{i}" for i in range(5))


class EncoderGraph(nn.Module):
    """The encoder as ``image -> (feat0, ..., feat4)``."""

    input_names = (IMAGE,)
    output_names = FEATURES

    def __init__(self, model: FoundationModel) -> None:
        super().__init__()
        self.encoder = model.encoder

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.encoder(image))


class HeadGraph(nn.Module):
    """One head as ``(feat0, ..., feat4, image) -> outputs``, on cached features.

    Args:
        model: the model holding the head.
        name: the head's name in ``model.heads``.
    """

    input_names = (*FEATURES, IMAGE)

    def __init__(self, model: FoundationModel, name: str) -> None:
        super().__init__()
        self.name = name
        self.head = model.heads[name]
        self.output_names = head_output_names(model, name)

    def forward(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        out = self.head(list(inputs[:5]), inputs[5])
        return tuple(out[k] for k in self.output_names)


def dummy_inputs(model: FoundationModel, batch: int = 1) -> tuple[Tensor, list[Tensor]]:
    """Zero image and features of the shapes the model's heads receive."""
    spec = model.spec
    h, w = spec.input_size
    param = next(model.parameters())
    image = torch.zeros(batch, spec.in_chans, h, w, device=param.device)
    feats = [
        torch.zeros(batch, c, -(-h // s), -(-w // s), device=param.device)
        for c, s in zip(spec.channels, spec.strides, strict=True)
    ]
    return image, feats


def head_output_names(model: FoundationModel, name: str) -> tuple[str, ...]:
    """The sorted output names of head ``name``, found by one run on zero features."""
    image, feats = dummy_inputs(model)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model.heads[name](feats, image)
    model.train(was_training)
    return tuple(sorted(out))
