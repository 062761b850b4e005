"""Calibrated score thresholds: which AI drafts the app shows.

A model card may give each classification and detection label a threshold
(``calibration.classification.thresholds``, ``calibration.detection.thresholds``: label ->
score; a label without one has 0). A pending or rejected AI draft scored below its label's
threshold stays in the study (saved, exported, counted) but the app hides it from the overlays,
the drafts list and the result panels. The score slider replaces the card's thresholds with one
minimum for every label (0 shows everything). A draft a person accepted or corrected is always
shown. Qt-free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.annotations import Annotation, Review
from engine.config import ModelCfg
from engine.provenance import Origin

CARD = "card thresholds"
KIND_HEADS = {"class": "classification", "box": "detection"}  # draft kind -> the head it comes from


def _thresholds(cfg: ModelCfg, head: str) -> dict[str, float]:
    raw = dict(cfg.calibration.get(head, {})).get("thresholds", {}) or {}
    return {str(k): float(v) for k, v in dict(raw).items()}


@dataclass(frozen=True)
class CardThresholds:
    """One model version's thresholds, by head (classification, detection) then label."""

    by_head: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @classmethod
    def of(cls, cfg: ModelCfg) -> CardThresholds:
        return cls({head: _thresholds(cfg, head) for head in KIND_HEADS.values()})

    def limit(self, kind: str, label: str) -> float:
        """The threshold of ``label`` for drafts of ``kind`` (0 when the card has none)."""
        return float(self.by_head.get(KIND_HEADS.get(kind, ""), {}).get(label, 0.0))

    def __bool__(self) -> bool:
        return any(self.by_head.values())


def draft_score(a: Annotation) -> tuple[str, float] | None:
    """(label, score) of a class or box draft: the chosen class's probability, the box's score."""
    if a.kind == "class":
        p = dict(a.scores).get(str(a.value))
        return None if p is None else (str(a.value), float(p))
    if a.kind == "box" and isinstance(a.value, int | float) and not isinstance(a.value, bool):
        return (a.name, float(a.value))
    return None


def calibration_text(cfg: ModelCfg) -> str:
    """What the model card says of its calibration, e.g. "calibrated: classification ECE 0.120
    -> 0.031; thresholds for 2 labels" ("" when it has none)."""
    parts = []
    for head, cal in cfg.calibration.items():
        before, after = dict(cal).get("ece_before"), dict(cal).get("ece_after")
        if before is not None and after is not None:
            parts.append(f"{head} ECE {float(before):.3f} → {float(after):.3f}")
    labels = sum(len(v) for v in CardThresholds.of(cfg).by_head.values())
    if labels:
        parts.append(f"score thresholds for {labels} label(s)")
    return "calibrated: " + "; ".join(parts) if parts else ""


class ScoreFilter:
    """Which AI drafts are hidden: scored below the card threshold, or below ``minimum``.

    Attributes:
        minimum: None to use each card's thresholds, else one minimum score for every label.
        cards: each model version's thresholds, keyed by (name, version).
    """

    def __init__(self) -> None:
        self.minimum: float | None = None
        self.cards: dict[tuple[str, str], CardThresholds] = {}

    def limit(self, a: Annotation, label: str) -> float:
        if self.minimum is not None:
            return self.minimum
        card = self.cards.get((a.model.name, a.model.version)) if a.model is not None else None
        return card.limit(a.kind, label) if card is not None else 0.0

    def hides(self, a: Annotation) -> bool:
        """Whether the app hides ``a``: an AI draft not accepted, scored below its limit."""
        if a.origin is not Origin.AI_DRAFT or a.review is Review.ACCEPTED:
            return False
        scored = draft_score(a)
        return scored is not None and scored[1] < self.limit(a, scored[0])
