"""The stored model versions as the versions panel shows them; activate, roll back, compare."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class VersionRow:
    """One model version as the versions panel lists it."""

    ref: str
    name: str
    version: str
    parent: str
    active: bool
    bundled: bool
    created: str
    mode: str
    metrics: Mapping[str, float]
    gate: str
    heads: tuple[str, ...] = ()

    @property
    def primary(self) -> str:
        """The test Dice (or the first test metric) as short text."""
        keys = sorted(k for k in self.metrics if k.startswith("test."))
        key = next((k for k in keys if k.endswith(".dice")), keys[0] if keys else None)
        return "-" if key is None else f"{key[5:]} {self.metrics[key]:.3f}"


def version_rows() -> list[VersionRow]:
    """Every stored version (bundled first), with lineage, metrics and which one is active."""
    from engine import model_store

    rows = []
    for card in model_store.list_cards():
        bundled = not (model_store.user_root() / card.name / card.version).is_dir()
        rows.append(
            VersionRow(
                ref=f"{card.name}@{card.version}",
                name=card.name,
                version=card.version,
                parent=card.lineage.parent or "",
                active=not bundled and model_store.active_version(card.name) == card.version,
                bundled=bundled,
                created=card.created,
                mode=card.lineage.mode,
                metrics=dict(card.metrics),
                gate=card.lineage.gate,
                heads=tuple(h.name for h in card.model.heads),
            )
        )
    return rows


def model_names() -> list[str]:
    """The stored models' names, bundled first."""
    return list(dict.fromkeys(r.name for r in version_rows()))


def segmentation_refs() -> list[str]:
    """``NAME@VERSION`` of every version with a segmentation head, active versions first."""
    rows = [r for r in version_rows() if "segmentation" in r.heads]
    rows.sort(key=lambda r: (not r.active, r.ref))
    return [r.ref for r in rows]


def activate(ref: str) -> None:
    """Make ``NAME@VERSION`` the active version of its model."""
    from engine import model_store

    name, _, version = ref.partition("@")
    model_store.activate_version(name, version)


def rollback(name: str) -> str:
    """One step back: activate the active version's parent; returns ``NAME@VERSION`` now active."""
    from engine import model_store

    return f"{name}@{model_store.rollback(name)}"


def compare_rows(ref_a: str, ref_b: str) -> list[tuple[str, str, str]]:
    """(field, A, B) rows: lineage, gate and every metric of two versions."""
    from training.api import compare_versions

    return compare_versions(ref_a, ref_b)


def evaluate_versions(refs: Sequence[str], config: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Score versions now on the frozen test split of a run's ``config``: ``{ref: {metric: value}}``."""
    from training.api import evaluate_versions as evaluate

    return evaluate(refs, config)
