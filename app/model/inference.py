"""Turn the engine's task results into AI drafts: one undoable command per model run.

Each result type has one converter in ``CONVERTERS`` (a table, no if/elif) that yields draft
annotations and mask planes; ``prediction_command`` wraps them with the model's provenance
into a single ``apply_prediction`` step. Structure and class names are matched to the
project's labels by name; a name the schema lacks is added as a new label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.model.annotations import STUDY_WIDE, Annotation
from app.model.commands import apply_prediction
from app.model.document import Document
from app.model.history import Composite
from app.model.labels import MAX_LABELS, Label, LabelSet
from app.model.report import report_draft_text
from engine.provenance import ModelRef
from engine.types import (
    ClassScores,
    Detections,
    EjectionFraction,
    EnhancedFrame,
    Landmarks,
    Quantity,
    Regression,
    Report,
    SegmentationResult,
    TaskResult,
)

PALETTE = ((230, 60, 60), (60, 160, 230), (70, 200, 90), (240, 200, 40), (200, 90, 220), (250, 140, 40))


@dataclass
class Drafts:
    """What one or more results add to a document."""

    annotations: list[Annotation] = field(default_factory=list)
    masks: dict[int, np.ndarray] = field(default_factory=dict)
    enhanced: dict[int, np.ndarray] = field(default_factory=dict)
    models: set[ModelRef] = field(default_factory=set)


def label_id(labels: LabelSet, name: str) -> int:
    """The id of the label called ``name`` (any case), added to the schema when missing."""
    for lab in labels:
        if lab.name.lower() == name.lower():
            return lab.id
    new_id = next(i for i in range(1, MAX_LABELS + 1) if i not in labels)
    labels.put(Label(new_id, name, PALETTE[(new_id - 1) % len(PALETTE)]))
    return new_id


def _value(q: Quantity) -> Annotation:
    frame = STUDY_WIDE if q.frame is None else q.frame
    unit = q.unit if q.calibrated else f"{q.unit}, uncalibrated"
    return Annotation("value", frame, value=float(q.value), name=f"{q.name} ({unit})")


def _segmentation(r: SegmentationResult, labels: LabelSet, out: Drafts) -> None:
    lut = np.zeros(256, np.uint8)
    for i, name in enumerate(r.labels):
        lut[i + 1] = label_id(labels, name)
    out.masks[r.frame] = lut[r.mask]


def _detections(r: Detections, labels: LabelSet, out: Drafts) -> None:
    for box, score, k in zip(r.boxes, r.scores, r.label_ids):
        x0, y0, x1, y1 = (float(v) for v in box)
        lab = label_id(labels, r.labels[int(k)])
        out.annotations.append(
            Annotation("box", r.frame, lab, ((x0, y0), (x1, y1)), float(score), r.labels[int(k)])
        )


def _landmarks(r: Landmarks, labels: LabelSet, out: Drafts) -> None:
    for name, (x, y), score in zip(r.names, r.points, r.scores):
        lab = label_id(labels, name)
        out.annotations.append(
            Annotation("landmark", r.frame, lab, ((float(x), float(y)),), float(score), name)
        )
    out.annotations.extend(_value(q) for q in r.measurements)


def _regression(r: Regression, _labels: LabelSet, out: Drafts) -> None:
    out.annotations.extend(_value(q) for q in r.values)


def _quantity(q: Quantity, _labels: LabelSet, out: Drafts) -> None:
    """A task's summary figure (e.g. a mean area over the frames) as a study value."""
    if np.isfinite(q.value):
        out.annotations.append(_value(q))


def _class_scores(r: ClassScores, _labels: LabelSet, out: Drafts) -> None:
    scores = r.top_k(len(r.labels))
    best, prob = scores[0]
    frame = STUDY_WIDE if r.frame is None else r.frame
    name = f"p={prob:.2f}" if r.frame is not None else ""
    out.annotations.append(Annotation("class", frame, value=best, name=name, scores=scores))


def _ejection(r: EjectionFraction, _labels: LabelSet, out: Drafts) -> None:
    if np.isfinite(r.ef_percent):  # too few frames or no beat found: marks only, no number
        out.annotations.append(Annotation("value", value=float(r.ef_percent), name="EF (%)"))
    out.annotations.extend(Annotation("frame_mark", f, value="ED") for f in r.ed_frames)
    out.annotations.extend(Annotation("frame_mark", f, value="ES") for f in r.es_frames)


def _report(r: Report, _labels: LabelSet, out: Drafts) -> None:
    """The report's words; its numbers are linked to the measurements (``app.model.report``)."""
    out.annotations.append(Annotation("report", value=report_draft_text(r)))


def _enhanced(r: EnhancedFrame, _labels: LabelSet, out: Drafts) -> None:
    """Enhanced frames are a display layer, not an annotation."""
    out.enhanced[r.frame] = r.image


Converter = Callable[[Any, LabelSet, Drafts], None]
CONVERTERS: dict[type, Converter] = {
    SegmentationResult: _segmentation,
    Detections: _detections,
    Landmarks: _landmarks,
    Regression: _regression,
    ClassScores: _class_scores,
    EjectionFraction: _ejection,
    Report: _report,
    EnhancedFrame: _enhanced,
    Quantity: _quantity,
}


def _flatten(results: Iterable[object]) -> Iterable[object]:
    for r in results:
        if isinstance(r, TaskResult):
            # a report's per-frame impressions are words only; its Report summary holds them
            yield from _flatten(x for x in (*r.frames, *r.summary) if not isinstance(x, str))
        else:
            yield r


def to_drafts(results: Iterable[object], labels: LabelSet) -> Drafts:
    """Convert task results (or TaskResults) into draft annotations and mask planes.

    Raises:
        TypeError: a result type without a converter.
    """
    out = Drafts()
    for r in _flatten(results):
        converter = CONVERTERS.get(type(r))
        if converter is None:
            raise TypeError(f"no converter for {type(r).__name__}")
        converter(r, labels, out)
        model = getattr(r, "model", None)
        if model is not None:
            out.models.add(model)
    return out


def prediction_command(doc: Document, results: Iterable[object]) -> Composite:
    """One undoable step adding the results of one model run as AI drafts.

    Raises:
        ValueError: the results come from more than one model version.
    """
    drafts = to_drafts(results, doc.labels)
    if len(drafts.models) != 1:
        raise ValueError(f"one model run expected, got {len(drafts.models)} model versions")
    (model,) = drafts.models
    return apply_prediction(doc, model, drafts.annotations, drafts.masks, drafts.enhanced)
