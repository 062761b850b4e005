"""Overrides and review of class and value results, ED/ES from EF, the enhanced view, and the
report whose numbers follow the measurements while its free text is kept."""

from __future__ import annotations

import numpy as np
import pytest

from app.model import commands
from app.model.annotations import Annotation, Review
from app.model.inference import prediction_command
from engine.errors import ConfigError
from engine.provenance import ModelRef, Origin
from engine.types import ClassScores, EjectionFraction, EnhancedFrame, Report, TaskResult

MODEL = ModelRef("echocare-demo", "2", "cafe")


@pytest.fixture
def drafted(window):
    """The window with a model run's class, EF, report and enhanced frames applied."""
    doc = window.doc
    per_frame = [
        ClassScores(("normal", "abnormal"), np.array([0.4, 0.6], np.float32), MODEL, i) for i in (0, 1)
    ]
    cine = ClassScores(("normal", "abnormal"), np.array([0.3, 0.7], np.float32), MODEL)
    ef = EjectionFraction("lv", 58.0, (1,), (6,), np.array([1.0]), np.array([1]), "ml", True, MODEL)
    enhanced = [EnhancedFrame(i, np.full(doc.shape, 100 + i, np.uint8), MODEL) for i in (0, 1)]
    rep = Report("Model: x\nFindings:\n- EF: 58.0 %\nImpression:\nnormal size\n", (), "normal size", MODEL)
    results = [
        TaskResult("classification", tuple(per_frame), (cine,)),
        ef,
        rep,
        TaskResult("enhancement", tuple(enhanced)),
    ]
    doc.apply(prediction_command(doc, results))
    return window


def _select(tree, column, text):
    for i in range(tree.topLevelItemCount()):
        if tree.topLevelItem(i).text(column) == text:
            tree.setCurrentItem(tree.topLevelItem(i))
            return tree.topLevelItem(i)
    raise AssertionError(f"no row with {text!r}")


def test_class_rows_list_probabilities_and_take_an_override(drafted):
    panel, doc = drafted.results, drafted.doc
    rows = [[panel.class_tree.topLevelItem(i).text(c) for c in range(3)] for i in range(3)]
    per_frame = "abnormal 0.60, normal 0.40"
    assert rows == [
        ["study", "abnormal", "abnormal 0.70, normal 0.30"],
        ["0", "abnormal", per_frame],
        ["1", "abnormal", per_frame],
    ]
    _select(panel.class_tree, 0, "study")
    panel.class_box.setCurrentText("normal")
    panel.class_button.click()
    cls = doc.study_value("class")
    assert cls.value == "normal" and cls.origin is Origin.HUMAN_FINAL and cls.model == MODEL
    assert cls.scores == (("abnormal", pytest.approx(0.7)), ("normal", pytest.approx(0.3)))
    assert panel.class_tree.topLevelItem(0).text(1) == "normal"
    drafted.undo()
    assert doc.study_value("class").value == "abnormal" and doc.study_value("class").origin is Origin.AI_DRAFT


def test_ef_value_override_and_ed_es_marks_from_the_ef_result(drafted):
    panel, doc = drafted.results, drafted.doc
    assert doc.frame_marks() == {"ED": [1], "ES": [6]}
    assert drafted.cine_panel.timeline.marks == {"ED": [1], "ES": [6]}
    assert panel.marks_label.text() == "ED/ES frames: ED 1; ES 6"
    _select(panel.value_tree, 1, "EF (%)")
    assert panel.value_spin.value() == 58.0
    panel.value_spin.setValue(61.5)
    panel.value_button.click()
    ef = doc.study_value("value", "EF (%)")
    assert ef.value == 61.5 and ef.origin is Origin.HUMAN_FINAL and ef.model == MODEL
    assert "- EF (%): 61.5 (ED 1; ES 6)" in drafted.findings.numbers.toPlainText()
    drafted.undo()
    assert doc.study_value("value", "EF (%)").value == 58.0


def test_accept_and_reject_from_the_results_panel(drafted):
    panel, doc = drafted.results, drafted.doc
    _select(panel.value_tree, 1, "EF (%)")
    panel.reject_button.click()
    assert doc.study_value("value", "EF (%)").review is Review.REJECTED
    assert "EF" not in drafted.findings.numbers.toPlainText(), "a rejected value leaves the report"
    _select(panel.class_tree, 0, "0")
    panel.accept_button.click()
    (first,) = [a for a in doc.of_kind("class") if a.frame == 0]
    assert first.review is Review.ACCEPTED and first.origin is Origin.AI_DRAFT
    drafted.undo()
    drafted.undo()
    assert all(a.review is Review.PENDING for a in doc.annotations.values())


def test_enhanced_frames_toggle_and_side_by_side(drafted):
    view, doc = drafted.view, drafted.doc
    doc.set_frame(1)
    original = doc.frame_image(1)
    np.testing.assert_array_equal(view.image.image, original)
    drafted.actions["view.enhanced"].trigger()
    assert view.showing_enhanced == "on" and (view.image.image == 101).all()
    assert drafted.results.enhance_box.currentData() == "on"
    drafted.actions["view.side_by_side"].trigger()
    assert view.showing_enhanced == "side" and view.side_box in view.ci.items
    np.testing.assert_array_equal(view.image.image, original)
    assert (view.side_image.image == 101).all()
    doc.set_frame(5)  # no enhanced frame here: the original alone
    assert view.showing_enhanced == "off" and view.side_box not in view.ci.items
    drafted.results.enhance_box.setCurrentIndex(0)
    assert doc.view.enhancement == "off"
    doc.set_frame(1)
    drafted.undo()  # undoing the run removes its enhanced frames too
    assert doc.enhanced == {}


def test_report_numbers_follow_calipers_and_values_and_free_text_is_kept(drafted, mm_per_px):
    doc, findings = drafted.doc, drafted.findings
    assert doc.study_value("report").value == "Impression: normal size"
    findings.report.setPlainText("Impression: normal size. Reviewed by the sonographer.")
    findings.report_button.click()
    line = Annotation("distance", 0, 0, ((10, 10), (10, 50)))
    doc.apply(commands.add(line))
    assert f"- distance, frame 0: {40 * mm_per_px:.1f} mm" in findings.numbers.toPlainText()
    doc.apply(commands.update(line, line.moved_to(((10, 10), (10, 90)))))
    numbers = findings.numbers.toPlainText()
    assert f"{80 * mm_per_px:.1f} mm" in numbers and f"{40 * mm_per_px:.1f} mm" not in numbers
    assert findings.report.toPlainText() == "Impression: normal size. Reviewed by the sonographer."
    ef = doc.study_value("value", "EF (%)")
    doc.apply(commands.update(ef, ef.corrected(value=49.0)))
    text = findings.full_report()
    assert "- EF (%): 49.0" in text and text.rstrip().endswith("Reviewed by the sonographer.")
    assert "- Class: abnormal (p 0.70) (AI draft)" in text
    drafted.undo()
    drafted.undo()
    assert (
        f"{40 * mm_per_px:.1f} mm" in findings.numbers.toPlainText()
        and "58.0" in findings.numbers.toPlainText()
    )


def test_every_kind_of_draft_is_drawn_and_can_be_accepted_or_rejected(drafted):
    from engine.types import Detections, Landmarks, SegmentationResult

    doc, tree = drafted.doc, drafted.annotations.tree
    mask = np.zeros(doc.shape, np.uint8)
    mask[10:30, 10:30] = 1
    seg = SegmentationResult(0, ("lv",), mask, (), np.array([400]), MODEL)
    det = Detections(0, ("lesion",), np.array([[40.0, 40.0, 70.0, 60.0]]), np.array([0.91], np.float32),
                     np.array([0]), np.full((1, 2), np.nan), MODEL)  # fmt: skip
    marks = Landmarks(0, ("apex",), np.array([[50.0, 20.0]]), np.array([0.8], np.float32), (), MODEL)
    doc.apply(prediction_command(doc, [seg, det, marks]))
    doc.set_frame(0)
    shown = {i.toPlainText() for i in drafted.view.overlays.items if hasattr(i, "toPlainText")}
    assert shown == {"lesion 0.91", "apex 0.80"}
    kinds = set()
    for state in (Review.REJECTED, Review.ACCEPTED):
        for i in range(tree.topLevelItemCount()):
            tree.setCurrentItem(tree.topLevelItem(i))
            (button := drafted.annotations.reject_button if state is Review.REJECTED else
             drafted.annotations.accept_button).click()  # fmt: skip
            row = str(tree.topLevelItem(i).data(0, 256))
            reviewed = doc.mask_meta[0].review if row.startswith("mask:") else doc.annotations[row].review
            assert reviewed is state, (row, button.text())
            kinds.add(tree.topLevelItem(i).text(0))
    assert kinds == {"box", "landmark", "mask", "class", "value", "frame_mark", "report"}


def test_the_frame_scope_of_a_run(window):
    panel = window.inference_panel
    panel.set_frame_count(12, 4)
    assert panel.frames(12, 4) == (4,)
    panel.set_scope("Frame range")
    assert panel.range_edit.text() == "4-11"
    assert panel.frames(12, 4) == tuple(range(4, 12))
    panel.range_edit.setText("6-9, 0, 10:12")
    assert panel.frames(12, 4) == (0, 6, 7, 8, 9, 10, 11)
    panel.range_edit.setText("9-6")
    with pytest.raises(ConfigError, match="runs backwards"):
        panel.frames(12, 4)
    panel.set_scope("Whole cine")
    assert panel.frames(12, 4) == tuple(range(12))


def test_file_export_saves_first_and_exports_the_open_study(drafted, tmp_path):
    doc = drafted.doc
    doc.apply(commands.add(Annotation("landmark", 0, 1, ((5, 5),))))
    drafted.actions["file.export"].trigger()
    dialog = drafted.export_dialog
    assert dialog.isVisible() and dialog.study_id == doc.study_id and not drafted.session.dirty
    dialog.format.setCurrentIndex(dialog.format.findData("csv"))
    dialog.out.setText(str(tmp_path / "export"))
    dialog.only_study.setChecked(True)
    dialog.buttons.accepted.emit()
    assert dialog.result is not None and dialog.result.files, dialog.status.text()
    assert drafted.last_message == dialog.status.text() and "files written" in drafted.last_message
