"""Exam-aware runs in the window: the exam line and its override (undoable, saved, reloaded,
followed by the next run), an unknown exam, and the score slider over calibrated thresholds.

The tiny model's random weights make its own exam decision arbitrary, so routing is checked
through a person's exam; the model's "unknown" is made certain by its card (an organ
probability no exam reaches)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from app.model import commands
from app.model.annotations import Annotation, Review
from engine.io.open import open_cine
from engine.tasks.presets import EXAMS

CARDIAC, BREAST = EXAMS
RUN_TIMEOUT_MS = 180_000


def choose_exam(window, value):
    """Pick ``value`` in the panel's exam list, as a person does."""
    box = window.inference_panel.exam_box
    index = box.findData(value)
    assert index >= 0, [box.itemData(i) for i in range(box.count())]
    box.setCurrentIndex(index)


def run(window, qtbot, frames="0-1"):
    panel = window.inference_panel
    panel.set_scope("Frame range")
    panel.range_edit.setText(frames)
    with qtbot.waitSignal(window.inference.finished, timeout=RUN_TIMEOUT_MS):
        window.actions["model.run"].trigger()
    return panel.status.text()


def store(cfg, state):
    from engine.model_card import ModelCard
    from engine.model_store import save_version

    return save_version(ModelCard.from_cfg(cfg), state)


def skipped_items(panel):
    items = (panel.task_list.item(i) for i in range(panel.task_list.count()))
    return [it.text() for it in items if it.font().strikeOut()]


def test_the_exam_override_is_undoable_saved_reloaded_and_decides_the_next_run(
    make_window, qtbot, tmp_path, cardiac_sample, stored_model
):
    window = make_window(reader=open_cine)
    assert window.open_path(cardiac_sample), window.last_message
    panel, doc = window.inference_panel, window.doc
    assert panel.mode == "auto" and not panel.task_list.isEnabled(), "Automatic (by exam) is the default"
    box = panel.exam_box
    assert [box.itemData(i) for i in range(box.count())] == ["automatic", CARDIAC, BREAST, "unknown"]
    assert panel.exam_label.text() == "Exam: automatic (recognised when the model runs)"

    choose_exam(window, CARDIAC)
    assert doc.exam_override == CARDIAC
    assert panel.exam_label.text() == "Exam: cardiac / left ventricle / apical (set by you)"
    assert window.actions["edit.undo"].text() == "&Undo exam: cardiac / left ventricle / apical"
    assert skipped_items(panel) == ["classification", "detection"], "greyed before the run"
    status = run(window, qtbot)
    assert status.startswith("5 task(s) on 2 frame(s)"), status
    assert "2 task(s) skipped for the exam (cardiac / left ventricle / apical)" in status
    assert panel.routing_label.text().splitlines() == [
        "Ran: segmentation, landmarks, regression, enhancement, report",
        "Skipped classification, detection: applies to breast, not to cardiac / left ventricle / apical",
    ]
    assert sorted(doc.masks) == [0, 1] and doc.of_kind("landmark"), "segmentation and landmarks ran"
    assert not doc.of_kind("class") and not doc.of_kind("box"), "classification and detection did not"
    assert window.results.class_tree.topLevelItemCount() == 0
    assert "- Exam: cardiac / left ventricle / apical (set by you)" in window.findings.full_report()

    before = dict(doc.annotations)
    masks = {f: m.copy() for f, m in doc.masks.items()}
    choose_exam(window, BREAST)
    assert skipped_items(panel) == ["segmentation", "landmarks", "regression"]
    status = run(window, qtbot)
    assert status.startswith("4 task(s) on 2 frame(s)"), status
    new = [a for a in doc.annotations.values() if a.id not in before]
    assert "class" in {a.kind for a in new} and window.results.class_tree.topLevelItemCount() > 0
    assert not {"landmark", "frame_mark"} & {a.kind for a in new}, "no landmarks, no EF from this run"
    assert sorted(doc.masks) == sorted(masks) and all(
        np.array_equal(doc.masks[f], masks[f]) for f in masks
    ), "segmentation did not run: the masks are those of the cardiac run"

    window.undo()  # the breast run
    assert doc.annotations == before and doc.exam_override == BREAST
    window.undo()  # the breast exam
    assert doc.exam_override == CARDIAC and box.currentData() == CARDIAC
    assert panel.exam_label.text() == "Exam: cardiac / left ventricle / apical (set by you)"
    assert skipped_items(panel) == ["classification", "detection"]
    window.redo()
    assert doc.exam_override == BREAST
    window.undo()
    window.actions["file.save"].trigger()
    assert not window.session.dirty
    window.close()

    again = make_window(project=tmp_path / "proj", reader=open_cine)
    (study,) = again.session.store.studies()
    assert again.open_study(study.id)
    panel = again.inference_panel
    assert again.doc.exam_override == CARDIAC and panel.exam_box.currentData() == CARDIAC
    assert panel.exam_label.text() == "Exam: cardiac / left ventricle / apical (set by you)"
    assert again.doc.annotations == before
    status = run(again, qtbot, "2-3")
    assert status.startswith("5 task(s) on 2 frame(s)"), status
    assert sorted(again.doc.masks) == [0, 1, 2, 3] and not again.doc.of_kind("class")


def test_an_unknown_exam_says_so_and_offers_what_needs_no_recognition(
    make_window, qtbot, cardiac_sample, tiny_state
):
    cfg, state = tiny_state
    store(replace(cfg, calibration={"exam": {"min_prob": 1.01}}), state)  # no exam is ever likely enough
    window = make_window(reader=open_cine)
    assert window.open_path(cardiac_sample)
    panel, doc = window.inference_panel, window.doc
    assert not panel.unknown_box.isVisibleTo(panel)
    status = run(window, qtbot)
    assert panel.unknown_label.text().startswith(
        "The model does not recognise this study: no automatic findings"
    )
    assert panel.unknown_box.isVisibleTo(panel)
    assert "The model does not recognise this study: no automatic findings" in status, status
    assert panel.exam_label.text().startswith("Exam: unknown (model: no exam is likely enough (")
    assert status.startswith("2 task(s) on 2 frame(s)"), "enhancement and the report need no recognition"
    assert not doc.masks and not doc.of_kind("class") and sorted(doc.enhanced) == [0, 1]
    assert skipped_items(panel) == ["classification", "segmentation", "detection", "landmarks", "regression"]
    assert "- Exam: unknown (model: no exam is likely enough" in window.findings.full_report()

    panel.enhance_button.click()
    assert doc.view.enhancement == "side" and window.view.showing_enhanced == "side"
    panel.manual_button.click()
    assert doc.view.tool == "brush" and window.actions["tool.brush"].isChecked()

    choose_exam(window, CARDIAC)  # a person knows better: the next run finds what applies
    assert not panel.unknown_box.isVisibleTo(panel)
    run(window, qtbot)
    assert sorted(doc.masks) == [0, 1]
    choose_exam(window, "unknown")
    assert panel.unknown_label.text().startswith("Exam set to unknown: no automatic findings")


def test_drafts_below_the_calibrated_thresholds_are_hidden_until_the_score_slider_shows_them(
    make_window, qtbot, cardiac_sample, tiny_state
):
    cfg, state = tiny_state
    calibration = {
        "classification": {
            "thresholds": {"normal": 1.0, "abnormal": 1.0},
            "ece_before": 0.12,
            "ece_after": 0.03,
        },
        "detection": {"thresholds": {"lesion": 1.0, "valve": 1.0}},
    }
    card = store(replace(cfg, calibration=calibration), state)
    window = make_window(reader=open_cine)
    label = window.model_card_label.text()
    assert "calibrated: classification ECE 0.120 → 0.030" in label and "not for clinical use" in label
    assert window.open_path(cardiac_sample)
    doc, results = window.doc, window.results
    window.inference_panel.set_checked(["classification", "detection"])
    run(window, qtbot)
    ref = next(a.model for a in doc.annotations.values())
    box = Annotation("box", 0, 1, ((100, 100), (180, 160)), 0.95, "lesion")
    doc.apply(commands.apply_prediction(doc, ref, [box]))
    classes, boxes = doc.of_kind("class"), doc.of_kind("box")
    assert classes and boxes and ref.version == card.version
    hidden = len(classes) + len(boxes)
    assert len(doc.hidden()) == hidden, "every score is below 1.0"
    assert results.score_label.text() == "Minimum score: card thresholds"
    assert (
        results.hidden_label.text() == f"{hidden} draft(s) below the minimum score hidden (kept in the study)"
    )
    rows = window.annotations.tree
    listed = {rows.topLevelItem(i).text(0) for i in range(rows.topLevelItemCount())}
    assert rows.topLevelItemCount() == len(doc.annotations) - hidden and listed == {"value"}, "counts only"
    assert results.class_tree.topLevelItemCount() == 0
    doc.set_frame(0)
    assert window.view.overlays.items == [] and window.findings.class_edit.text() == ""
    window.findings.commit_class()
    assert doc.study_value("class") is not None, (
        "leaving the empty class field does not delete the hidden class"
    )
    window.actions["review.accept_all"].trigger()
    assert all(a.review is Review.PENDING for a in classes + boxes), "hidden drafts are not accepted unseen"

    results.set_min_score(0.0)
    assert results.score_label.text() == "Minimum score: 0.00" and results.score_slider.isEnabled()
    assert doc.hidden() == [] and results.hidden_label.text() == ""
    assert results.class_tree.topLevelItemCount() == len(classes)
    assert rows.topLevelItemCount() == len(doc.annotations)
    assert window.view.overlays.items, "the boxes of frame 0 are drawn"
    results.set_min_score(0.96)
    scores = {a.id: dict(a.scores)[a.value] if a.kind == "class" else a.value for a in classes + boxes}
    assert {a.id for a in doc.hidden()} == {i for i, p in scores.items() if p < 0.96}
    assert box.id in {a.id for a in doc.hidden()}, "the 0.95 box is below 0.96"
    results.set_min_score(0.9)
    assert box.id not in {a.id for a in doc.hidden()}, "and above 0.90"
    results.set_min_score(None)
    assert len(doc.hidden()) == hidden and results.class_tree.topLevelItemCount() == 0
