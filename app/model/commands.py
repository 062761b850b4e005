"""The document's commands: every edit is one of these, so every edit can be undone.

Commands hold the before and after state they need and change the document only through its
``put_annotation``/``remove_annotation``/``write_mask`` mutators.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from app.model.annotations import Annotation, MaskMeta, Review, draft
from app.model.history import Command, Composite
from engine.provenance import ModelRef, Origin

if TYPE_CHECKING:
    from app.model.document import Document

HUMAN = MaskMeta()


@dataclass(frozen=True)
class PutAnnotation:
    """Add ``new`` (``old`` is None) or replace ``old`` with ``new`` (same id)."""

    new: Annotation
    old: Annotation | None = None
    text: str = "edit annotation"

    def do(self, doc: Document) -> None:
        doc.put_annotation(self.new)

    def undo(self, doc: Document) -> None:
        if self.old is None:
            doc.remove_annotation(self.new.id)
        else:
            doc.put_annotation(self.old)


@dataclass(frozen=True)
class RemoveAnnotation:
    """Delete an annotation; undo puts it back."""

    old: Annotation
    text: str = "delete annotation"

    def do(self, doc: Document) -> None:
        doc.remove_annotation(self.old.id)

    def undo(self, doc: Document) -> None:
        doc.put_annotation(self.old)


@dataclass(frozen=True, eq=False)
class PaintMask:
    """Change some pixels of one frame's mask plane.

    Attributes:
        frame: the frame index.
        index: flat indices of the changed pixels.
        before, after: their values before and after the edit.
        meta_before, meta_after: the plane's provenance before and after.
    """

    frame: int
    index: np.ndarray
    before: np.ndarray
    after: np.ndarray
    meta_before: MaskMeta | None
    meta_after: MaskMeta
    text: str = "paint mask"

    def do(self, doc: Document) -> None:
        doc.write_mask(self.frame, self.index, self.after, self.meta_after)

    def undo(self, doc: Document) -> None:
        doc.write_mask(self.frame, self.index, self.before, self.meta_before)


@dataclass(frozen=True, eq=False)
class PutEnhanced:
    """Show a model's enhanced frames; undo restores what was shown before (None: nothing)."""

    after: Mapping[int, np.ndarray]
    before: Mapping[int, np.ndarray | None]
    text: str = "enhanced frames"

    def do(self, doc: Document) -> None:
        doc.put_enhanced(dict(self.after))

    def undo(self, doc: Document) -> None:
        doc.put_enhanced(dict(self.before))


def mask_diff(
    frame: int,
    before: np.ndarray,
    after: np.ndarray,
    meta_before: MaskMeta | None,
    meta_after: MaskMeta = HUMAN,
    text: str = "paint mask",
) -> PaintMask | None:
    """The PaintMask that turns plane ``before`` into ``after``; None if they are equal."""
    index = np.flatnonzero(before.ravel() != after.ravel())
    if index.size == 0 and meta_before == meta_after:
        return None
    return PaintMask(frame, index, before.ravel()[index], after.ravel()[index], meta_before, meta_after, text)


def add(annotation: Annotation, text: str = "") -> PutAnnotation:
    return PutAnnotation(annotation, None, text or f"add {annotation.kind}")


def update(old: Annotation, new: Annotation, text: str = "") -> PutAnnotation:
    return PutAnnotation(new, old, text or f"edit {old.kind}")


def review(doc: Document, ids: Iterable[str], state: Review) -> Composite:
    """Accept or reject annotations (and, for mask ids ``mask:<frame>``, mask planes)."""
    cmds: list[Command] = []
    for ann_id in ids:
        if ann_id.startswith("mask:"):
            frame = int(ann_id.split(":", 1)[1])
            meta = doc.mask_meta.get(frame, HUMAN)
            new_meta = MaskMeta(meta.origin, meta.model, state)
            empty = np.empty(0, dtype=np.int64)
            cmds.append(
                PaintMask(frame, empty, empty.astype(np.uint8), empty.astype(np.uint8), meta, new_meta)
            )
        elif ann_id in doc.annotations:
            old = doc.annotations[ann_id]
            cmds.append(update(old, old.reviewed(state)))
    return Composite(f"{state.value} {len(cmds)} item(s)", cmds)


def apply_prediction(
    doc: Document,
    model: ModelRef,
    annotations: Iterable[Annotation] = (),
    masks: Mapping[int, np.ndarray] | None = None,
    enhanced: Mapping[int, np.ndarray] | None = None,
) -> Composite:
    """One undoable step that adds a model's results as AI drafts with its provenance.

    Args:
        doc: the document the drafts go into.
        model: the exact model version that produced them.
        annotations: boxes, landmarks, measurements, classes, values, report text.
        masks: label planes [H, W] uint8 by frame, replacing those frames' masks.
        enhanced: enhanced images [H, W] by frame, shown instead of or next to the frame.
    """
    cmds: list[Command] = [add(draft(a, model)) for a in annotations]
    if enhanced:
        cmds.append(PutEnhanced(dict(enhanced), {f: doc.enhanced.get(f) for f in enhanced}))
    meta = MaskMeta(Origin.AI_DRAFT, model, Review.PENDING)
    for frame, plane in (masks or {}).items():
        before = doc.mask(frame)
        cmd = mask_diff(frame, before, np.asarray(plane, dtype=np.uint8), doc.mask_meta.get(frame), meta)
        if cmd is not None:
            cmds.append(cmd)
    return Composite(f"apply {model.label()}", cmds)


def set_study_value(doc: Document, kind: str, value: str | float | None, name: str = "") -> Command | None:
    """Set (or with None/"" clear) a study-wide class, value or report text; None if unchanged.

    A value the person types is a human override, even where a model drafted the old one.
    """
    old = doc.study_value(kind, name)
    if value in (None, ""):
        return None if old is None else RemoveAnnotation(old, f"clear {kind}")
    if old is None:
        return add(Annotation(kind, value=value, name=name), f"set {kind}")
    if old.value == value:
        return None
    return update(old, old.corrected(value=value), f"override {kind}")
