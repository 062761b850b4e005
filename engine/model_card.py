"""The model card: the JSON that describes one immutable model version in the store.

A card holds the model's :class:`~engine.config.ModelCfg` (architecture, input, heads), its
:class:`Lineage` (parent version, data and label hashes, the gate's verdict), its metrics and the
sha256s of its files. ``card.json`` is parsed here, at the edge, into a frozen
:class:`ModelCard`; unknown keys are rejected.

The file lays the card out as ``{"model": {...}, "lineage": {...}, "metrics": ..., ...}``.
Cards written before lineage was typed (the bundled model's among them) are flat: the model
fields at the top level with ``architecture`` for ``arch``, ``parent`` beside them and the
lineage as JSON inside ``notes``. :meth:`ModelCard.from_dict` reads both layouts.
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
class Lineage:
    """Where a model version came from.

    Attributes:
        parent: the version it was derived from (a version of the same name, else
            ``NAME@VERSION``), or None.
        method: how it was made: "fine-tune", "distillation" ("" when not recorded).
        mode: the fine-tuning mode ("heads", "lora", "full"), else "".
        data_sha256: sha256 over the training frames.
        labels_sha256: sha256 over the training labels.
        test_split_sha256: sha256 of the frozen test split's frame keys.
        label_counts: labelled frames per head (and per class for classification).
        patients: patients in the training data.
        config: the run's configuration, as JSON values.
        gate: the better-than-parent gate's one-line reason ("" when no gate ran).
        worse: heads the gate found worse than the parent on the frozen test split.
        activated: whether the version was made active when it was stored (None: not recorded).
        details: further facts of the method (distillation: teacher sha256, losses, minutes).
    """

    parent: str | None = None
    method: str = ""
    mode: str = ""
    data_sha256: str = ""
    labels_sha256: str = ""
    test_split_sha256: str = ""
    label_counts: Mapping[str, Any] = field(default_factory=dict)
    patients: int = 0
    config: Mapping[str, Any] = field(default_factory=dict)
    gate: str = ""
    worse: tuple[str, ...] = ()
    activated: bool | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lineage:
        """Lineage from JSON values; keys that are not fields are kept in ``details``.

        Also reads the layout kept in ``notes`` before lineage was typed: ``gate`` as
        ``{"worse": [...], "reason": "..."}``.
        """
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names - {"details"}}
        details = {**data.get("details", {}), **{k: v for k, v in data.items() if k not in names}}
        gate = values.get("gate")
        if isinstance(gate, Mapping):
            values["gate"] = str(gate.get("reason") or "")
            values.setdefault("worse", gate.get("worse", ()))
        values["worse"] = tuple(str(h) for h in values.get("worse", ()))
        return cls(**values, details=details)


@dataclass(frozen=True)
class ModelCard:
    """What the store records about one model version.

    Attributes:
        model: architecture, input contract, heads and training-data statement; its ``name``
            and ``version`` are the card's.
        lineage: the parent version and how this version was made from it.
        metrics: evaluation figures, name -> value.
        source_sha256: sha256 of the file the weights were imported or trained from.
        weights_sha256: sha256 of ``model.safetensors``; verified on every load.
        created: ISO-8601 UTC creation time.
        notes: free text (recipe, import report).
    """

    model: ModelCfg
    lineage: Lineage = field(default_factory=Lineage)
    metrics: Mapping[str, float] = field(default_factory=dict)
    source_sha256: str = ""
    weights_sha256: str = ""
    created: str = field(default_factory=utc_now)
    notes: str = ""

    @property
    def name(self) -> str:
        """The model's name in the store."""
        return self.model.name

    @property
    def version(self) -> str:
        """The version, unique per name ("1", "2", ...)."""
        return self.model.version

    @classmethod
    def from_cfg(cls, cfg: ModelCfg, **extra: Any) -> ModelCard:
        """A card for ``cfg``; ``extra`` sets the other fields (lineage, metrics, sha256s...)."""
        return cls(cfg, **extra)

    def to_json(self) -> str:
        """The card as indented JSON text."""
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"

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
        """Build a card from a decoded JSON object (either layout), validating keys and types."""
        flat = "model" not in data and "architecture" in data
        known = _FLAT_KEYS if flat else {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(path, f"unknown model card keys: {', '.join(unknown)}")
        missing = [k for k in (("name", "version") if flat else ("model",)) if k not in data]
        if missing:
            raise ConfigError(path, f"model card lacks {', '.join(missing)}")
        try:
            values = _from_flat(data) if flat else dict(data)
            values["model"] = _model(values["model"])
            values["lineage"] = Lineage.from_dict(values.get("lineage", {}))
            return cls(**values)
        except (TypeError, ValueError, KeyError, AttributeError) as err:
            raise ConfigError(path, f"invalid model card ({err})") from None


_STORE_KEYS = frozenset({"metrics", "source_sha256", "weights_sha256", "created", "notes"})
_FLAT_KEYS = (_STORE_KEYS | {f.name for f in fields(ModelCfg)} | {"architecture", "parent"}) - {"arch"}


def _from_flat(data: Mapping[str, Any]) -> dict[str, Any]:
    """The card layout of ``data`` written before lineage was typed (see the module docstring)."""
    model = {k: v for k, v in data.items() if k not in _STORE_KEYS | {"parent", "architecture"}}
    model["arch"] = data["architecture"]
    out: dict[str, Any] = {k: v for k, v in data.items() if k in _STORE_KEYS}
    lineage: dict[str, Any] = {"parent": data.get("parent")}
    notes = _json_object(str(data.get("notes") or ""))
    if notes is not None and "lineage" in notes:
        lineage.update(notes.pop("lineage"))
        if "activated" in notes:
            lineage["activated"] = notes.pop("activated")
        out["notes"] = json.dumps(notes, sort_keys=True) if notes else ""
    out["model"], out["lineage"] = model, lineage
    return out


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _model(data: Mapping[str, Any]) -> ModelCfg:
    unknown = sorted(set(data) - {f.name for f in fields(ModelCfg)})
    if unknown:
        raise ValueError(f"unknown model keys {unknown}")
    missing = [k for k in ("name", "arch") if k not in data]
    if missing:
        raise ValueError(f"the model lacks {', '.join(missing)}")
    values = dict(data)
    values["heads"] = tuple(_head(h) for h in data.get("heads", ()))
    for key in ("input_size", "mean", "std", "measurements"):
        if key in values:
            values[key] = tuple(values[key])
    if "version" in values:
        values["version"] = str(values["version"])
    if "exams" in values:
        values["exams"] = {str(k): tuple(str(x) for x in v) for k, v in dict(values["exams"]).items()}
    if "calibration" in values:
        values["calibration"] = {str(k): dict(v) for k, v in dict(values["calibration"]).items()}
    return ModelCfg(**values)


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


def encoder_only(name: str) -> str:
    """What an encoder-only model (an imported encoder, no heads) needs before it runs a task."""
    return (
        f"model {name!r} is an encoder only, with no task heads: give it every head with"
        f" `echocare train heads --encoder {name}` (trained on simulated data),"
        " then fine-tune them on your labels"
    )
