"""The contract between the encoder and every head.

A head is an ``nn.Module`` built as ``cls(spec: FeatureSpec, **params)`` and called as
``head(feats, image) -> dict[str, Tensor]`` where

* ``feats`` is the encoder's five feature maps, level ``i`` (0..4) shaped
  ``[B, spec.channels[i], H / 2**(i+1), W / 2**(i+1)]``;
* ``image`` is the normalised model input ``[B, 3, H, W]`` (dense decoders use it as the
  full-resolution skip);
* the returned dict holds named raw outputs (logits, heatmaps, ...) that the matching task
  in ``engine.tasks`` turns into results; names are documented per head.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.registry import Registry

# networks outside the head kinds (``engine.heads.kinds``): plug-ins and test heads, by kind name
HEADS: Registry[Callable[..., object]] = Registry("head")


def register_head(name: str) -> Callable[[type], type]:
    """Class decorator registering a network under ``name`` that no head kind declares."""
    return HEADS.register(name)  # type: ignore[return-value]


@dataclass(frozen=True)
class FeatureSpec:
    """Shapes of the encoder's output pyramid, as heads need them.

    Attributes:
        channels: channels of the five levels, e.g. (128, 256, 512, 1024, 2048) for EchoCare.
        strides: input pixels per feature pixel at each level, (2, 4, 8, 16, 32).
        input_size: (H, W) of the model input.
        in_chans: channels of the model input image.
    """

    channels: tuple[int, ...]
    strides: tuple[int, ...] = (2, 4, 8, 16, 32)
    input_size: tuple[int, int] = (256, 256)
    in_chans: int = 3
