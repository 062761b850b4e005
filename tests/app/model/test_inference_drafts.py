from __future__ import annotations

import numpy as np
import pytest

from app.model.annotations import Review
from app.model.document import Document
from app.model.inference import prediction_command, to_drafts
from app.model.labels import LabelSet
from engine.provenance import ModelRef, Origin
from engine.types import (
    ClassScores,
    Detections,
    EjectionFraction,
    Landmarks,
    Quantity,
    Report,
    SegmentationResult,
    TaskResult,
)

MODEL = ModelRef("echocare-demo", "1", "beef")


def results(shape):
    mask = np.zeros(shape, np.uint8)
    mask[10:20, 10:30] = 1  # "lv"
    mask[30:40, 10:30] = 2  # "pericardium", not in the default schema
    seg = SegmentationResult(2, ("lv", "pericardium"), mask, (), np.array([200, 200]), MODEL)
    det = Detections(2, ("lesion",), np.array([[5.0, 6.0, 25.0, 30.0]]), np.array([0.9], np.float32),
                     np.array([0]), np.full((1, 2), np.nan), MODEL)  # fmt: skip
    marks = Landmarks(2, ("apex",), np.array([[12.5, 7.25]]), np.array([0.8], np.float32),
                      (Quantity("LV length", 41.2, "mm", True, 2),), MODEL)  # fmt: skip
    cls = ClassScores(("A4C", "PLAX"), np.array([0.3, 0.7], np.float32), MODEL)
    ef = EjectionFraction("lv", 58.0, (1,), (6,), np.array([1.0]), np.array([1]), "ml", True, MODEL)
    rep = Report("EF 58 %. Normal LV size.", (("EF", "58 %"),), "Normal LV size.", MODEL)
    return [TaskResult("segmentation", (seg,)), det, marks, TaskResult("report", (), (cls, ef, rep))]


def test_every_result_becomes_a_pending_draft_in_one_undo_step(cine):
    doc = Document(cine, LabelSet())
    doc.apply(prediction_command(doc, results(doc.shape)))
    kinds = sorted(a.kind for a in doc.annotations.values())
    assert kinds == ["box", "class", "frame_mark", "frame_mark", "landmark", "report", "value", "value"]
    assert all(a.origin is Origin.AI_DRAFT and a.model == MODEL for a in doc.annotations.values())
    assert all(a.review is Review.PENDING for a in doc.annotations.values())
    pericardium = next(lab.id for lab in doc.labels if lab.name == "pericardium")
    assert doc.mask(2)[15, 15] == 1 and doc.mask(2)[35, 15] == pericardium
    assert doc.mask_meta[2].origin is Origin.AI_DRAFT
    assert doc.frame_marks() == {"ED": [1], "ES": [6]}
    assert doc.study_value("class").value == "PLAX"
    (lesion,) = doc.of_kind("box")
    assert doc.labels.get(lesion.label_id).name == "lesion" and lesion.points == ((5.0, 6.0), (25.0, 30.0))
    doc.history.undo()
    assert not doc.annotations and not doc.mask(2).any()


def test_results_of_two_models_are_two_runs(cine):
    doc = Document(cine)
    other = ModelRef("echocare-demo", "2")
    seg = SegmentationResult(0, ("lv",), np.zeros(doc.shape, np.uint8), (), np.array([0]), other)
    with pytest.raises(ValueError, match="one model run"):
        prediction_command(doc, [*results(doc.shape), seg])


def test_unknown_result_types_are_refused():
    with pytest.raises(TypeError, match="no converter for str"):
        to_drafts(["not a result"], LabelSet())


def test_a_run_announces_its_drafts_once(cine):
    doc = Document(cine, LabelSet())
    calls = {"annotations": 0, "masks": []}
    doc.annotations_changed.connect(lambda ids: calls.__setitem__("annotations", calls["annotations"] + 1))
    doc.mask_changed.connect(calls["masks"].append)
    many = [ClassScores(("A4C", "PLAX"), np.array([0.3, 0.7], np.float32), MODEL, i) for i in range(10)]
    doc.apply(prediction_command(doc, [*results(doc.shape), *many]))
    assert len(doc.annotations) == 18 and calls == {"annotations": 1, "masks": [2]}
    doc.history.undo()
    assert not doc.annotations and calls["annotations"] == 2 and calls["masks"] == [2, 2]
