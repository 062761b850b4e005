"""The annotation schema: frozen records of what a person or a model marked on a frame.

Every annotation has an id, a kind (a key of ``KINDS``), a frame (``STUDY_WIDE`` for the whole
study), a label, geometry in pixels of the original frame, an optional value and its
provenance (``Origin`` and the ``ModelRef`` of the model that drafted it) with a review state.
Mask pixels live in label planes; their provenance is a ``MaskMeta`` per frame.

This is the one definition of the schema: the app's document (``app.model.annotations``
re-exports it), engine code that drafts annotations and the project store's
``AnnotationRecord`` all refer to it. Plain Python: no Qt, no torch.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from enum import StrEnum

from engine.provenance import ModelRef, Origin

Point = tuple[float, float]
STUDY_WIDE = -1  # frame index of annotations that belong to the whole study


class Review(StrEnum):
    """Review state: AI drafts wait as PENDING until a person accepts or rejects them."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class KindSpec:
    """What an annotation kind means: how many points it takes and whether it is per frame."""

    min_points: int
    max_points: int | None
    per_frame: bool = True
    measured: bool = False


KINDS: dict[str, KindSpec] = {
    "box": KindSpec(2, 2),  # two opposite corners
    "landmark": KindSpec(1, 1),
    "distance": KindSpec(2, 2, measured=True),
    "ellipse": KindSpec(2, 2, measured=True),  # corners of the bounding box
    "area": KindSpec(3, None, measured=True),  # a closed trace
    "angle": KindSpec(3, 3, measured=True),  # arm, vertex, arm
    "frame_mark": KindSpec(0, 0),  # value "ED" or "ES"
    "class": KindSpec(0, 0, per_frame=False),  # value: class name
    "value": KindSpec(0, 0, per_frame=False),  # name: quantity, value: number
    "report": KindSpec(0, 0, per_frame=False),  # value: report text
}
CALIPER_KINDS = tuple(k for k, spec in KINDS.items() if spec.measured)
FRAME_MARKS = ("ED", "ES")


def new_id() -> str:
    """A fresh, globally unique annotation id."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Annotation:
    """One annotation.

    Attributes:
        kind: a key of ``KINDS``.
        frame: the frame index, or ``STUDY_WIDE``.
        label_id: the label (0 where the kind has none).
        points: geometry in pixels of the original frame, (x, y).
        value: class name, number, report text or frame mark, depending on the kind.
        name: what a value is (e.g. "EF"), or a caption.
        origin: AI draft or human final.
        model: the model that drafted it; None for human annotations.
        review: pending, accepted or rejected.
        id: unique id, kept across saves.
        scores: (class name, probability) pairs a model gave, best first (class drafts).
    """

    kind: str
    frame: int = STUDY_WIDE
    label_id: int = 0
    points: tuple[Point, ...] = ()
    value: str | float | None = None
    name: str = ""
    origin: Origin = Origin.HUMAN_FINAL
    model: ModelRef | None = None
    review: Review = Review.ACCEPTED
    id: str = field(default_factory=new_id)
    scores: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", tuple((float(x), float(y)) for x, y in self.points))
        object.__setattr__(self, "scores", tuple((str(k), float(p)) for k, p in self.scores))
        spec = KINDS.get(self.kind)
        if spec is None:
            raise ValueError(f"unknown annotation kind {self.kind!r}")
        n = len(self.points)
        if n < spec.min_points or (spec.max_points is not None and n > spec.max_points):
            raise ValueError(f"a {self.kind} takes {spec.min_points}..{spec.max_points} points, got {n}")

    def moved_to(self, points: tuple[Point, ...]) -> Annotation:
        """A copy with new geometry; an edited AI draft becomes a human correction."""
        return self.corrected(points=tuple(points))

    def corrected(self, **changes: object) -> Annotation:
        """A copy with ``changes`` applied, marked as a person's final, accepted word.

        The drafting model stays recorded, so training can tell corrected drafts apart.
        """
        return replace(self, origin=Origin.HUMAN_FINAL, review=Review.ACCEPTED, **changes)  # type: ignore[arg-type]

    def reviewed(self, review: Review) -> Annotation:
        """A copy with a new review state (accepting keeps the AI origin)."""
        return replace(self, review=review)


def draft(annotation: Annotation, model: ModelRef) -> Annotation:
    """Mark a model output as an AI draft of ``model`` awaiting review."""
    return replace(annotation, origin=Origin.AI_DRAFT, model=model, review=Review.PENDING)


@dataclass(frozen=True)
class MaskMeta:
    """Provenance of one frame's mask plane."""

    origin: Origin = Origin.HUMAN_FINAL
    model: ModelRef | None = None
    review: Review = Review.ACCEPTED


def corrected_meta(meta: MaskMeta | None) -> MaskMeta:
    """Provenance after a person edits a plane: human final, keeping the drafting model."""
    return MaskMeta(Origin.HUMAN_FINAL, None if meta is None else meta.model, Review.ACCEPTED)
