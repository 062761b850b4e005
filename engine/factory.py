"""The only way models get built: ``create_encoder``, ``create_model`` and ``load_model``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from engine.config import ModelCfg
from engine.errors import ModelError
from engine.model_card import ModelCard
from engine.models.echocare import ENCODERS, EchoCareEncoder, EncoderArch, build_encoder
from engine.models.foundation import FoundationModel
from engine.provenance import ModelRef


def create_encoder(arch: str | EncoderArch) -> EchoCareEncoder:
    """Build a registered encoder variant with random weights.

    Args:
        arch: a name in ``engine.models.echocare.ENCODERS`` ("echocare_swin_b",
            "echocare_lite", "echocare_small", "echocare_test") or explicit hyper-parameters.

    Raises:
        ModelError: the name is not registered.
    """
    if isinstance(arch, str) and arch not in ENCODERS:
        raise ModelError(None, f"unknown architecture {arch!r} (known: {', '.join(ENCODERS.names())})")
    return build_encoder(arch)


def create_model(cfg: ModelCfg) -> FoundationModel:
    """Build the encoder and the heads ``cfg`` names, with random weights.

    Raises:
        ModelError: the architecture or a head kind is unknown, or the input size does not
            suit the encoder.
    """
    encoder = create_encoder(cfg.arch)
    if cfg.in_chans != encoder.arch.in_chans:
        raise ModelError(None, f"{cfg.arch} takes {encoder.arch.in_chans} input channels, not {cfg.in_chans}")
    if any(s % encoder.arch.strides[-1] for s in cfg.input_size):
        raise ModelError(None, f"input size {cfg.input_size} is not a multiple of {encoder.arch.strides[-1]}")
    try:
        return FoundationModel(cfg, encoder)
    except KeyError as err:
        raise ModelError(None, str(err.args[0])) from None


@dataclass(frozen=True)
class LoadedModel:
    """A model version ready for inference.

    Attributes:
        card: the version's model card.
        module: the model in eval mode on ``device``.
        ref: provenance (name, version, weights sha256) for results it produces.
        device: the torch device the module lives on.
        folder: the version's folder in the store.
    """

    card: ModelCard
    module: FoundationModel
    ref: ModelRef
    device: torch.device
    folder: Path

    @property
    def cfg(self) -> ModelCfg:
        return self.module.cfg


def load_model(name_or_dir: str | Path, device: str = "auto") -> LoadedModel:
    """Load a stored model version, verifying its weights' sha256.

    Args:
        name_or_dir: a model name (its active version), ``name@version``, or a version folder
            holding ``card.json`` and ``model.safetensors``.
        device: ``auto|cpu|cuda|mps``.

    Raises:
        ModelError: the model is missing, tampered with or does not match its card.
    """
    from engine import model_store
    from engine.backends.device import resolve_device

    folder, card = model_store.locate(name_or_dir)
    state = model_store.read_weights(folder, card)
    module = create_model(card.model)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[1:2] or ["keys or shapes differ"]
        raise ModelError(folder, f"weights do not match the card's model: {first[0].strip()}") from None
    dev = resolve_device(device)
    module = module.to(dev).eval()
    return LoadedModel(card, module, ModelRef(card.name, card.version, card.weights_sha256), dev, folder)
