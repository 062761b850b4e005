"""The model card: the JSON that describes one immutable model version in the store.

``card.json`` is parsed here, at the edge, into a frozen :class:`ModelCard`; unknown keys are
rejected. ``ModelCard.cfg()`` gives the :class:`~engine.config.ModelCfg` the factory builds from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.config import HeadCfg, ModelCfg
from engine.errors import ConfigError

CARD_FILE = "card.json"
WEIGHTS_FILE = "model.safetensors"


def utc_now() -> str:
    """The current time as an ISO-8601 UTC string, seconds precision."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class ModelCard:
    """What the store records about one model version.

    Attributes:
        name: model name, e.g. "echocare-demo".
        version: version string, unique per name ("1", "2", ...).
        architecture: registered encoder variant (``engine.models.echocare.ENCODERS``).
        input_size: (H, W) the encoder runs at, pixels.
        in_chans: input channels.
        mean, std: per-channel normalisation after scaling pixels to [0, 1].
        crop_to_fan: crop frames to the ultrasound fan before resizing.
        heads: the heads: name, kind, labels, params.
        measurements: named measurements between landmarks.
        source_sha256: sha256 of the file the weights were imported or trained from.
        weights_sha256: sha256 of ``model.safetensors``; verified on every load.
        parent: the version this one was derived from, or None.
        metrics: evaluation figures, name -> value.
        created: ISO-8601 UTC creation time.
        trained_on: a plain statement of the training data.
        clinical_use: False unless clinical validity has been shown.
        notes: free text (recipe, import report).
    """

    name: str
    version: str
    architecture: str
    input_size: tuple[int, int] = (256, 256)
    in_chans: int = 3
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    crop_to_fan: bool = False
    heads: tuple[HeadCfg, ...] = ()
    measurements: tuple[Mapping[str, Any], ...] = ()
    source_sha256: str = ""
    weights_sha256: str = ""
    parent: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    created: str = field(default_factory=utc_now)
    trained_on: str = "unknown"
    clinical_use: bool = False
    notes: str = ""

    def cfg(self) -> ModelCfg:
        """The model configuration the factory builds this version from."""
        return ModelCfg(
            name=self.name,
            arch=self.architecture,
            version=self.version,
            input_size=self.input_size,
            in_chans=self.in_chans,
            mean=self.mean,
            std=self.std,
            crop_to_fan=self.crop_to_fan,
            heads=self.heads,
            measurements=self.measurements,
            trained_on=self.trained_on,
            clinical_use=self.clinical_use,
        )

    @classmethod
    def from_cfg(cls, cfg: ModelCfg, **extra: Any) -> ModelCard:
        """A card for ``cfg``; ``extra`` sets the store fields (sha256s, parent, metrics...)."""
        return cls(
            name=cfg.name,
            version=cfg.version,
            architecture=cfg.arch,
            input_size=cfg.input_size,
            in_chans=cfg.in_chans,
            mean=cfg.mean,
            std=cfg.std,
            crop_to_fan=cfg.crop_to_fan,
            heads=cfg.heads,
            measurements=cfg.measurements,
            trained_on=cfg.trained_on,
            clinical_use=cfg.clinical_use,
            **extra,
        )

    def to_json(self) -> str:
        """The card as indented JSON text."""
        data = asdict(self)
        data["heads"] = [
            {"name": h.name, "kind": h.kind, "labels": list(h.labels), "params": dict(h.params)}
            for h in self.heads
        ]
        return json.dumps(data, indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str, path: str | Path | None = None) -> ModelCard:
        """Parse card JSON; unknown or missing keys raise ConfigError naming ``path``."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(path, f"not a model card ({err.msg} at line {err.lineno})") from None
        if not isinstance(data, dict):
            raise ConfigError(path, "not a model card (expected a JSON object)")
        return cls.from_dict(data, path)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: str | Path | None = None) -> ModelCard:
        """Build a card from a decoded JSON object, validating its keys and types."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(path, f"unknown model card keys: {', '.join(unknown)}")
        missing = [k for k in ("name", "version", "architecture") if k not in data]
        if missing:
            raise ConfigError(path, f"model card lacks {', '.join(missing)}")
        values = dict(data)
        try:
            values["heads"] = tuple(_head(h) for h in data.get("heads", ()))
            for key in ("input_size", "mean", "std", "measurements"):
                if key in values:
                    values[key] = tuple(values[key])
            values["version"] = str(values["version"])
            return cls(**values)
        except (TypeError, ValueError, KeyError) as err:
            raise ConfigError(path, f"invalid model card ({err})") from None


def _head(data: Mapping[str, Any]) -> HeadCfg:
    unknown = set(data) - {"name", "kind", "labels", "params"}
    if unknown:
        raise ValueError(f"unknown head keys {sorted(unknown)}")
    return HeadCfg(
        name=str(data["name"]),
        kind=str(data["kind"]),
        labels=tuple(str(x) for x in data.get("labels", ())),
        params=dict(data.get("params", {})),
    )


def read_card(folder: Path) -> ModelCard:
    """Read ``folder/card.json``; a missing or invalid card raises ConfigError."""
    path = folder / CARD_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(path, f"cannot read model card ({err.strerror or err})") from None
    return ModelCard.from_json(text, path)
