"""Annotations become records of the project store and back, checked against the schema."""

from __future__ import annotations

import pytest

from engine.annotations import Annotation, Review
from engine.project import AnnotationRecord, ProjectStore, from_record, to_record
from engine.provenance import ModelRef, Origin

MODEL = ModelRef("demo", "2", "ff")
ANNOTATIONS = [
    Annotation("distance", 3, 1, ((10.5, 20.0), (30.0, 40.25))),
    Annotation("landmark", 0, 2, ((7.0, 8.0),), 0.9, "apex", Origin.AI_DRAFT, MODEL, Review.PENDING),
    Annotation("class", value="cyst", name="lesion", scores=(("cyst", 0.75), ("mass", 0.25))),
    Annotation("value", value=57.25, name="EF (%)", origin=Origin.AI_DRAFT, model=MODEL),
    Annotation("frame_mark", 10, value="ED", review=Review.REJECTED),
]


@pytest.mark.parametrize("annotation", ANNOTATIONS, ids=lambda a: a.kind)
def test_every_field_survives_the_store(annotation, tmp_path):
    (tmp_path / "a.dcm").write_bytes(b"x")
    store = ProjectStore(tmp_path / "proj")
    study = store.add_study(tmp_path / "a.dcm")
    store.save_study(study.id, [to_record(annotation)])
    (stored,) = store.annotations(study.id)
    store.close()
    assert from_record(stored) == annotation


def test_the_record_keeps_points_and_only_the_values_that_are_set():
    bare, drafted = to_record(ANNOTATIONS[0]), to_record(ANNOTATIONS[1])
    assert bare.data == {"points": [[10.5, 20.0], [30.0, 40.25]]}
    assert (bare.origin, bare.model, bare.review) == (Origin.HUMAN_FINAL, None, "accepted")
    assert drafted.data == {"points": [[7.0, 8.0]], "value": 0.9, "name": "apex"}
    assert (drafted.origin, drafted.model, drafted.review) == (Origin.AI_DRAFT, MODEL, "pending")
    assert to_record(ANNOTATIONS[2]).data["scores"] == [["cyst", 0.75], ["mass", 0.25]]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (AnnotationRecord("a", "scribble", 0, 0, {"points": [[1, 2]]}), "unknown annotation kind"),
        (AnnotationRecord("b", "box", 0, 0, {"points": [[1, 2]]}), "a box takes 2..2 points, got 1"),
        (AnnotationRecord("c", "landmark", 0, 0, {"points": [[1, 2]]}, review="maybe"), "'maybe'"),
    ],
)
def test_a_record_that_breaks_the_schema_is_refused(record, message):
    with pytest.raises(ValueError, match=message):
        from_record(record)
