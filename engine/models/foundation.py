"""FoundationModel: one EchoCare encoder feeding any number of named task heads."""

from __future__ import annotations

from collections.abc import Iterable

from torch import Tensor, nn

from engine.config import ModelCfg
from engine.heads.base import FeatureSpec
from engine.heads.spec import network_class
from engine.models.echocare import EchoCareEncoder


class FoundationModel(nn.Module):
    """The encoder plus the heads of one model version.

    State-dict keys are ``encoder.<official EchoCare keys>`` and ``heads.<task>.<head keys>``.

    Args:
        cfg: the model's configuration (architecture, input size, heads).
        encoder: the encoder, built from ``cfg.arch``.
    """

    def __init__(self, cfg: ModelCfg, encoder: EchoCareEncoder) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = encoder
        self.spec: FeatureSpec = encoder.feature_spec(cfg.input_size)
        self.heads = nn.ModuleDict(
            {h.name: network_class(h.kind)(self.spec, **dict(h.params)) for h in cfg.heads}
        )

    @property
    def head_names(self) -> tuple[str, ...]:
        return tuple(self.heads.keys())

    def forward_features(self, x: Tensor) -> list[Tensor]:
        """Encode normalised images [B, 3, H, W] into five maps (see ``EchoCareEncoder.forward``)."""
        return self.encoder(x)

    def forward_heads(
        self, feats: list[Tensor], x: Tensor, names: Iterable[str] | None = None
    ) -> dict[str, dict[str, Tensor]]:
        """Run heads on already computed features.

        Args:
            feats: the encoder's five maps for ``x``.
            x: the normalised images [B, 3, H, W] the features came from.
            names: heads to run; all heads when None.

        Returns:
            ``{head name: {output name: tensor}}``.

        Raises:
            KeyError: a requested head does not exist.
        """
        wanted = self.head_names if names is None else tuple(names)
        out: dict[str, dict[str, Tensor]] = {}
        for name in wanted:
            if name not in self.heads:
                raise KeyError(f"model {self.cfg.name!r} has no head {name!r} (has: {self.head_names})")
            out[name] = self.heads[name](feats, x)
        return out

    def forward(self, x: Tensor) -> dict[str, dict[str, Tensor]]:
        """Encode once and run every head on normalised images [B, 3, H, W]."""
        return self.forward_heads(self.forward_features(x), x)
