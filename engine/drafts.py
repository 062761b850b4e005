"""AI drafts: what the results of one model run add to a study, as annotations and mask planes.

Each head kind declares, per result type it produces, how that result becomes draft annotations
(``HeadSpec.drafts``); task summaries that are plain ``Quantity`` values become study values.
Label names are turned into the study's label ids by the caller's ``label_id`` (the app adds a
label the schema lacks), so this module knows nothing of the app's label set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.annotations import STUDY_WIDE, Annotation
from engine.provenance import ModelRef
from engine.types import Quantity, TaskResult

LabelIds = Callable[[str], int]  # a label name -> the study's label id


@dataclass
class Drafts:
    """What one or more results add to a study."""

    annotations: list[Annotation] = field(default_factory=list)
    masks: dict[int, np.ndarray] = field(default_factory=dict)
    enhanced: dict[int, np.ndarray] = field(default_factory=dict)
    models: set[ModelRef] = field(default_factory=set)


DraftFn = Callable[[Any, LabelIds, Drafts], None]


def value_annotation(q: Quantity) -> Annotation:
    """A quantity as a ``value`` annotation named with its unit (flagged when uncalibrated)."""
    frame = STUDY_WIDE if q.frame is None else q.frame
    unit = q.unit if q.calibrated else f"{q.unit}, uncalibrated"
    return Annotation("value", frame, value=float(q.value), name=f"{q.name} ({unit})")


def _quantity(q: Quantity, _label_id: LabelIds, out: Drafts) -> None:
    """A task's summary figure (e.g. a mean area over the frames) as a study value."""
    if np.isfinite(q.value):
        out.annotations.append(value_annotation(q))


def converters() -> dict[type, DraftFn]:
    """Result type -> draft converter, over every head kind, and ``Quantity``."""
    from engine.heads.spec import load_kinds

    out: dict[type, DraftFn] = {Quantity: _quantity}
    for spec in load_kinds():
        out.update(spec.drafts)
    return out


def _flatten(results: Iterable[object]) -> Iterable[object]:
    for r in results:
        if isinstance(r, TaskResult):
            # a report's per-frame impressions are words only; its Report summary holds them
            yield from _flatten(x for x in (*r.frames, *r.summary) if not isinstance(x, str))
        else:
            yield r


def to_drafts(results: Iterable[object], label_id: LabelIds) -> Drafts:
    """Convert task results (or TaskResults) into draft annotations and mask planes.

    Raises:
        TypeError: a result type no head kind converts.
    """
    table = converters()
    out = Drafts()
    for r in _flatten(results):
        converter = table.get(type(r))
        if converter is None:
            raise TypeError(f"no converter for {type(r).__name__}")
        converter(r, label_id, out)
        model = getattr(r, "model", None)
        if model is not None:
            out.models.add(model)
    return out
