"""Build the model a fine-tuning run starts from: a stored version or a fresh encoder variant.

Heads named in the config are added (or rebuilt when their labels changed); every other weight
of the starting model is kept. The heads' sizes come from their labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from engine.config import HeadCfg, ModelCfg
from engine.errors import ConfigError, ModelError
from engine.heads.spec import head_spec
from training.config import FinetuneCfg


@dataclass(frozen=True)
class Start:
    """Where a run starts.

    Attributes:
        cfg: the model configuration of the run's model (heads included).
        state: weights to load before training (possibly partial), or None.
        parent: the parent version's card, or None when starting from an encoder variant.
    """

    cfg: ModelCfg
    state: Mapping[str, Any] | None
    parent: Any | None


def locate_start(cfg: FinetuneCfg) -> tuple[ModelCfg, Any | None, Any | None]:
    """The starting model's configuration, card and folder (card and folder None for a variant).

    Raises:
        ConfigError: ``cfg.model`` names neither an encoder variant nor a stored model.
    """
    from engine import model_store
    from engine.models.echocare import ENCODERS

    if cfg.model in ENCODERS:
        name = cfg.name or f"{cfg.model}-finetuned"
        return ModelCfg(name=name, arch=cfg.model, input_size=cfg.input_size), None, None
    try:
        folder, card = model_store.locate(cfg.model)
    except ModelError:
        known = ", ".join(ENCODERS.names())
        raise ConfigError(
            None, f"model {cfg.model!r} is neither a stored model nor a variant ({known})"
        ) from None
    return card.model, card, folder


def head_cfgs(base: ModelCfg, cfg: FinetuneCfg, labels: Mapping[str, tuple[str, ...]]) -> tuple[HeadCfg, ...]:
    """The run model's heads: the starting model's, with each trained head set to its labels."""
    heads = {h.name: h for h in base.heads}
    for name in cfg.heads:
        params = {**head_spec(name).size(labels[name]), **dict(cfg.head_params.get(name, {}))}
        old = heads.get(name)
        keep = old is not None and old.labels == labels[name] and not cfg.head_params.get(name)
        heads[name] = old if keep and old is not None else HeadCfg(name, name, tuple(labels[name]), params)
    return tuple(heads.values())


def build_start(cfg: FinetuneCfg, labels: Mapping[str, tuple[str, ...]]) -> Start:
    """The run's model configuration and the weights it starts from."""
    from engine import model_store

    base, card, folder = locate_start(cfg)
    run_cfg = replace(base, heads=head_cfgs(base, cfg, labels), name=cfg.name or base.name, version="")
    state = None
    if card is not None:
        state = model_store.read_weights(folder, card)
    return Start(run_cfg, state, card)


def load_matching(model: Any, state: Mapping[str, Any]) -> list[str]:
    """Load every tensor of ``state`` whose key and shape match; returns the keys left as built."""
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    model.load_state_dict(usable, strict=False)
    return sorted(set(own) - set(usable))
