"""Plain records the project store reads and writes; shared by the app and training."""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.annotations import Review
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
    against the schema when it becomes an ``Annotation`` again.

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
