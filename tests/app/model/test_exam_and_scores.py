"""The study's exam without Qt (the line shown, the undoable override, saving it, the run that
follows it) and the calibrated score thresholds that hide low-scoring AI drafts."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import numpy as np
import pytest

from app.model import commands
from app.model.annotations import Annotation, Review
from app.model.document import Document
from app.model.exam import (
    AUTOMATIC,
    StudyExam,
    exam_choices,
    exam_labels,
    exam_line,
    set_exam,
    unknown_line,
    user_exam,
)
from app.model.inference import prediction_command
from app.model.model_run import ModelRunner, RunRequest, statement
from app.model.report import report_text
from app.model.scores import CardThresholds, calibration_text
from app.model.session import Session
from engine.heads.kinds.exam import ExamResult
from engine.model_card import ModelCard
from engine.project import ProjectStore
from engine.project.schema import SCHEMA_VERSION
from engine.provenance import ModelRef
from engine.tasks.presets import EXAMS, all_heads_cfg

CARDIAC, BREAST = EXAMS
MODEL = ModelRef("echocare-all", "1", "abc")


@pytest.fixture(scope="module")
def tiny():
    import torch

    from engine.factory import create_model

    torch.manual_seed(0)
    cfg = all_heads_cfg()
    return cfg, create_model(cfg).state_dict()


def test_the_exam_line_says_what_the_model_found_or_what_a_person_set():
    probs = np.array([0.97, 0.03], np.float32)
    found = StudyExam.from_result(ExamResult(EXAMS, probs, 1.5, False, "", MODEL))
    assert found == StudyExam(CARDIAC, "model", 0.97, "", "echocare-all v1")
    assert StudyExam.from_json(found.to_json()) == found and StudyExam.from_json("{not json") is None
    assert exam_line(found, None) == "Exam: cardiac / left ventricle / apical (model, 0.97)"
    assert exam_line(found, BREAST) == "Exam: breast / breast / lesion (set by you)"
    assert exam_line(found, "unknown") == "Exam: unknown (set by you)"
    assert exam_line(None, None) == "Exam: automatic (recognised when the model runs)"
    lost = StudyExam.from_result(ExamResult(EXAMS, probs, 9.0, True, "unlike the images it learned", MODEL))
    assert exam_line(lost, None) == "Exam: unknown (model: unlike the images it learned)"
    assert unknown_line(lost, None) == "The model does not recognise this study: no automatic findings"
    assert unknown_line(found, "unknown") == "Exam set to unknown: no automatic findings"
    assert unknown_line(found, None) == unknown_line(lost, CARDIAC) == ""


def test_the_override_choices_are_the_models_exam_leaves_plus_unknown_and_automatic():
    cfg = all_heads_cfg()
    assert exam_labels(cfg) == EXAMS
    assert [v for v, _ in exam_choices(exam_labels(cfg))] == [AUTOMATIC, CARDIAC, BREAST, "unknown"]
    assert exam_labels(replace(cfg, heads=cfg.heads[1:])) == ()
    chosen = user_exam(EXAMS, BREAST, MODEL)
    assert chosen is not None and chosen.source == "user" and chosen.label() == "breast / breast / lesion"
    assert user_exam(EXAMS, "unknown", MODEL).unknown  # type: ignore[union-attr]
    assert user_exam(EXAMS, None, MODEL) is None and user_exam(EXAMS, AUTOMATIC, MODEL) is None
    assert user_exam(EXAMS, "fetal/head/axial", MODEL) is None, "another model's exam: the model decides"


def test_setting_the_exam_is_undoable(cine):
    doc = Document(cine)
    seen = []
    doc.exam_changed.connect(lambda: seen.append(doc.exam_override))
    doc.apply(set_exam(doc, CARDIAC))
    doc.apply(set_exam(doc, BREAST))
    assert set_exam(doc, BREAST) is None, "choosing the exam already set changes nothing"
    assert doc.exam_override == BREAST and doc.history.undo_text == "exam: breast / breast / lesion"
    doc.history.undo()
    assert doc.exam_override == CARDIAC
    doc.apply(set_exam(doc, AUTOMATIC))
    assert doc.exam_override is None
    doc.history.undo()
    doc.history.undo()
    assert doc.exam_override is None and seen == [CARDIAC, BREAST, CARDIAC, None, CARDIAC, None]


def test_the_exam_is_saved_with_the_study_and_an_older_project_still_opens(tmp_path, sample_file, opener):
    store = ProjectStore(tmp_path / "proj")
    session = Session(store, opener)
    doc = session.open_path(sample_file)
    doc.apply(set_exam(doc, BREAST))
    found = StudyExam(CARDIAC, "model", 0.91, "", "echocare-all v1")
    doc.apply(
        prediction_command(
            doc, [_exam_task(ExamResult(EXAMS, np.array([0.91, 0.09]), 1.0, False, "", MODEL))]
        )
    )
    assert doc.found_exam == found
    assert session.save()
    study = doc.study_id
    assert store.study_settings(study) == {"exam.found": found.to_json(), "exam.override": BREAST}
    doc.apply(set_exam(doc, AUTOMATIC))
    session.save()
    assert store.study_settings(study) == {"exam.found": found.to_json()}, "automatic removes the setting"
    doc.history.undo()
    session.close()

    # a project made before study settings existed (schema 1) opens and gains them
    db = sqlite3.connect(tmp_path / "proj" / "project.sqlite")
    db.execute("DROP TABLE study_settings")
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()
    old = ProjectStore(tmp_path / "proj")
    again = Session(old, opener).open_study(study)
    assert again.exam_override is None and again.found_exam is None
    assert old._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    again.apply(set_exam(again, CARDIAC))
    old.save_study(study, [], settings={"exam.override": CARDIAC})
    assert old.study_settings(study) == {"exam.override": CARDIAC}
    old.close()


def _exam_task(exam: ExamResult) -> object:
    from engine.types import TaskResult

    return TaskResult("exam", (), (exam,))


def test_the_run_follows_the_exam_a_person_set(tiny, cine):
    from engine.model_store import save_version

    cfg, state = tiny
    save_version(ModelCard.from_cfg(cfg), state)
    runner = ModelRunner()
    cardiac = runner.run(RunRequest("echocare-all@1", ("auto",), (0, 1), cine, CARDIAC))
    assert list(cardiac.tasks) == ["exam", "segmentation", "landmarks", "regression", "enhancement", "report"]
    assert sorted(cardiac.skipped) == ["classification", "detection"] and cardiac.exam.source == "user"
    breast = runner.run(RunRequest("echocare-all@1", ("auto",), (0, 1), cine, BREAST))
    assert list(breast.tasks) == ["exam", "classification", "detection", "enhancement", "report"]
    unknown = runner.run(RunRequest("echocare-all@1", ("auto",), (0, 1), cine, "unknown"))
    assert list(unknown.tasks) == ["exam", "enhancement", "report"] and unknown.exam.unknown
    chosen = runner.run(RunRequest("echocare-all@1", ("classification",), (0,), cine, CARDIAC))
    assert list(chosen.tasks) == ["classification"], "chosen tasks run exactly as asked"
    doc = Document(cine)
    doc.apply(prediction_command(doc, cardiac.tasks.values()))
    assert doc.found_exam == StudyExam(CARDIAC, "user", None, "", "echocare-all v1")
    assert sorted(doc.masks) == [0, 1] and not doc.of_kind("class")
    assert "- Exam: cardiac / left ventricle / apical (set by you)" not in report_text(doc)
    doc.apply(set_exam(doc, CARDIAC))
    assert "- Exam: cardiac / left ventricle / apical (set by you)" in report_text(doc)
    doc.history.undo()
    doc.history.undo()
    assert doc.found_exam is None and not doc.masks, "undoing the run takes its exam back too"


def _drafts(doc: Document) -> list[Annotation]:
    cls = Annotation("class", value="abnormal", scores=(("abnormal", 0.6), ("normal", 0.4)))
    boxes = [
        Annotation("box", 0, 1, ((1, 1), (5, 5)), 0.9, "lesion"),
        Annotation("box", 0, 1, ((2, 2), (6, 6)), 0.3, "lesion"),
        Annotation("box", 0, 1, ((3, 3), (7, 7)), 0.3, "valve"),
    ]
    doc.apply(commands.apply_prediction(doc, MODEL, [cls, *boxes]))
    return list(doc.annotations.values())


def test_drafts_below_the_card_thresholds_are_hidden_until_the_minimum_score_shows_them(cine):
    cfg = replace(
        all_heads_cfg(),
        calibration={
            "classification": {"temperature": 1.5, "thresholds": {"abnormal": 0.7}, "ece_before": 0.12,
                               "ece_after": 0.031},
            "detection": {"thresholds": {"lesion": 0.5}},
        },
    )  # fmt: skip
    doc = Document(cine)
    cls, big, small, valve = _drafts(doc)
    doc.set_thresholds({("echocare-all", "1"): CardThresholds.of(cfg)})
    assert doc.hidden() == [cls, small], "below its label's threshold; valve has none (0)"
    assert set(doc.annotations) == {cls.id, big.id, small.id, valve.id}, "hidden drafts stay in the study"
    assert "Class" not in report_text(doc)
    doc.set_min_score(0.0)
    assert doc.hidden() == [] and "- Class: abnormal (p 0.60) (AI draft)" in report_text(doc)
    doc.set_min_score(0.5)
    assert doc.hidden() == [small, valve]
    doc.apply(commands.review(doc, [small.id], Review.ACCEPTED))
    assert doc.hidden() == [valve], "a draft a person accepted is always shown"
    doc.apply(commands.update(valve, valve.moved_to(((3, 3), (8, 8)))))
    assert doc.hidden() == [], "a corrected draft is a person's annotation"
    doc.set_min_score(None)
    assert doc.hidden() == [cls]


def test_the_model_card_statement_mentions_its_calibration():
    cfg = all_heads_cfg()
    assert calibration_text(cfg) == "" and "calibrated" not in statement(ModelCard(cfg))
    calibrated = replace(
        cfg,
        calibration={
            "exam": {"temperature": 1.2, "ood_threshold": 40.0},
            "classification": {"thresholds": {"abnormal": 0.7}, "ece_before": 0.12, "ece_after": 0.031},
            "detection": {"thresholds": {"lesion": 0.5, "valve": 0.4}},
        },
    )
    text = statement(ModelCard(calibrated))
    assert text == (
        "echocare-all v1 · random weights; not for clinical use"
        " · calibrated: classification ECE 0.120 → 0.031; score thresholds for 3 label(s)"
    )
