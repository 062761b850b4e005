"""Plain records the project store reads and writes; shared by the app and training.

An ``AnnotationRecord`` is converted to and from the schema's ``engine.annotations.Annotation``
here, and nowhere else (``to_record``, ``from_record``).
"""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.annotations import Annotation, Review
from engine.provenance import ModelRef, Origin


@dataclass(frozen=True)
class StudyRecord:
    """One study of a project; ``rel_path`` is relative to the project folder (posix)."""

    id: int
    rel_path: str
    frames: int = 0
    rows: int = 0
    columns: int = 0


@dataclass(frozen=True)
class InstanceRecord:
    """One DICOM instance held by a project (received or retrieved).

    Attributes:
        sop_instance_uid, study_uid, series_uid, sop_class_uid: its UIDs.
        rel_path: its file, relative to the project folder (posix).
        study_id: the study entry that opens it (images), or None (SEG, SR).
        calling_ae: who sent it ("" when retrieved or imported).
        title: what the study list calls it (patient, description, date).
    """

    sop_instance_uid: str
    study_uid: str
    series_uid: str
    sop_class_uid: str
    rel_path: str
    study_id: int | None = None
    calling_ae: str = ""
    title: str = ""


@dataclass(frozen=True)
class LabelRecord:
    """One label of the project's schema."""

    id: int
    name: str
    color: tuple[int, int, int]
    opacity: float = 0.45


@dataclass(frozen=True)
class AnnotationRecord:
    """One ``engine.annotations.Annotation`` as stored: its fields, geometry and value as JSON.

    The schema (which kinds exist, how many points each takes, the review states) is defined
    once, in ``engine.annotations``; the store keeps records as given, and a record is checked
    against the schema when it becomes an ``Annotation`` again (``from_record``).

    Attributes:
        id: ``Annotation.id``.
        kind: ``Annotation.kind``, a key of ``engine.annotations.KINDS``.
        frame: ``Annotation.frame`` (``STUDY_WIDE``, -1, for study-wide).
        label_id: ``Annotation.label_id`` (0 if none).
        data: the rest of the annotation as JSON: {"points": [[x, y], ...], "value": ...,
            "name": ..., "scores": [[class, p], ...]}.
        origin: ``Annotation.origin``.
        model: ``Annotation.model``.
        review: the value of ``Annotation.review`` (an ``engine.annotations.Review``).
    """

    id: str
    kind: str
    frame: int
    label_id: int
    data: dict[str, Any] = field(default_factory=dict)
    origin: Origin = Origin.HUMAN_FINAL
    model: ModelRef | None = None
    review: str = Review.ACCEPTED.value

    def data_json(self) -> str:
        return json.dumps(self.data, sort_keys=True, separators=(",", ":"))


def to_record(a: Annotation) -> AnnotationRecord:
    """``a`` as stored: ``data`` holds its points, and its value, name and scores where set."""
    data: dict[str, Any] = {"points": [list(p) for p in a.points]}
    if a.value is not None:
        data["value"] = a.value
    if a.name:
        data["name"] = a.name
    if a.scores:
        data["scores"] = [[k, p] for k, p in a.scores]
    return AnnotationRecord(a.id, a.kind, a.frame, a.label_id, data, a.origin, a.model, a.review.value)


def from_record(r: AnnotationRecord) -> Annotation:
    """The ``Annotation`` that ``r`` stores.

    Raises:
        ValueError: ``r`` breaks the schema (an unknown kind or review state, a wrong number
            of points).
    """
    d = r.data
    return Annotation(
        r.kind, r.frame, r.label_id, tuple(d.get("points", ())), d.get("value"), d.get("name", ""),
        r.origin, r.model, Review(r.review), r.id, tuple(d.get("scores", ())),
    )  # fmt: skip


@dataclass(frozen=True, eq=False)
class MaskRecord:
    """One frame's label plane [H, W] uint8 with its provenance."""

    frame: int
    plane: np.ndarray
    origin: Origin = Origin.HUMAN_FINAL
    model: ModelRef | None = None
    review: str = Review.ACCEPTED.value  # the value of an ``engine.annotations.Review``


def encode_plane(plane: np.ndarray) -> bytes:
    """Lossless blob of a plane: zlib-compressed .npy bytes."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(plane), allow_pickle=False)
    return zlib.compress(buf.getvalue(), 6)


def decode_plane(blob: bytes) -> np.ndarray:
    """Inverse of ``encode_plane``; returns a writable, contiguous array."""
    arr = np.load(io.BytesIO(zlib.decompress(blob)), allow_pickle=False)
    return np.ascontiguousarray(arr).copy()
