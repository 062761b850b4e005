"""Playback timing, ED/ES marks, review of drafts, findings, autosave, settings, drag and drop."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app.model import commands
from app.model.annotations import Annotation, Review
from app.model.settings import AppSettings, load_settings
from app.qt.autosave import MAX_WAIT_MS
from engine.provenance import ModelRef, Origin


def test_playback_follows_elapsed_time_and_stops_without_loop(window, qtbot):
    doc = window.doc  # 12 frames at 25 fps: 480 ms per pass
    doc.view.loop = False
    start = time.monotonic()
    window.actions["cine.play"].trigger()
    assert doc.view.playing and window.cine_panel.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: doc.view.frame_index >= 3, timeout=2000)
    elapsed_ms = (time.monotonic() - start) * 1000
    assert doc.view.frame_index <= elapsed_ms / 40 + 1, "frames never run ahead of the clock"
    qtbot.waitUntil(lambda: not doc.view.playing, timeout=3000)
    assert doc.view.frame_index == doc.n_frames - 1
    assert (time.monotonic() - start) * 1000 >= 480 * 0.9


def test_step_speed_and_timeline_scrub(window):
    window.actions["cine.next"].trigger()
    window.actions["cine.next"].trigger()
    assert window.doc.view.frame_index == 2
    window.actions["cine.last"].trigger()
    assert window.doc.view.frame_index == window.doc.n_frames - 1
    window.actions["cine.faster"].trigger()
    assert window.doc.view.speed == 2.0
    tl = window.cine_panel.timeline
    tl.frame_picked.emit(tl.frame_at(tl.x_of(5)))
    assert window.doc.view.frame_index == 5
    assert window.cine_panel.frame_label.text().startswith("frame 6 / 12 · 200 ms")


def test_ed_es_marks_are_editable_and_undoable(window):
    window.doc.set_frame(1)
    window.actions["cine.mark_ed"].trigger()
    window.doc.set_frame(7)
    window.actions["cine.mark_es"].trigger()
    assert window.doc.frame_marks() == {"ED": [1], "ES": [7]}
    assert window.cine_panel.timeline.marks == {"ED": [1], "ES": [7]}
    window.actions["cine.mark_es"].trigger()  # toggling on the same frame removes it
    assert window.doc.frame_marks()["ES"] == []
    window.undo()
    assert window.doc.frame_marks()["ES"] == [7]


def test_drafts_show_their_model_and_can_be_accepted_or_rejected(window):
    doc = window.doc
    model = ModelRef("echocare-demo", "3")
    plane = np.zeros(doc.shape, np.uint8)
    plane[10:20, 10:20] = 1
    box, mark = Annotation("box", 0, 1, ((5, 5), (9, 9))), Annotation("landmark", 0, 2, ((3, 3),))
    doc.apply(commands.apply_prediction(doc, model, [box, mark], {0: plane}))
    tree = window.annotations.tree
    origins = [tree.topLevelItem(i).text(3) for i in range(tree.topLevelItemCount())]
    assert origins == ["ai_draft (echocare-demo v3)"] * 3
    tree.setCurrentItem(tree.topLevelItem(0))
    window.annotations.reject_button.click()
    assert doc.annotations[box.id].review is Review.REJECTED
    window.actions["review.accept_all"].trigger()
    assert doc.annotations[mark.id].review is Review.ACCEPTED and doc.mask_meta[0].review is Review.ACCEPTED
    assert doc.annotations[mark.id].origin is Origin.AI_DRAFT
    window.undo()
    window.undo()
    window.undo()
    assert not doc.annotations and not doc.mask(0).any()


def test_findings_class_value_and_report_are_overrides(window):
    panel, doc = window.findings, window.doc
    panel.class_edit.setText("apical four-chamber")
    panel.commit_class()
    panel.value_spin.setValue(55.5)
    panel.commit_value()
    panel.report.setPlainText("Normal LV size. EF 55 %.")
    panel.report_button.click()
    assert doc.study_value("class").value == "apical four-chamber"
    assert doc.study_value("value", "EF").value == 55.5
    assert doc.study_value("report").value == "Normal LV size. EF 55 %."
    window.undo()
    assert doc.study_value("report") is None and panel.report.toPlainText() == ""


def test_autosave_is_due_within_two_seconds_of_an_edit(window, qtbot):
    """An edit starts the quiet-time timer and a MAX_WAIT_MS deadline; the deadline alone saves."""
    autosave = window.autosave
    window.doc.apply(commands.add(Annotation("landmark", 0, 1, ((4, 4),))))
    assert window.session.dirty and autosave.pending
    deadline, quiet = autosave._deadline, autosave._quiet
    assert deadline.isActive() and deadline.isSingleShot() and deadline.interval() == MAX_WAIT_MS
    assert quiet.isActive() and quiet.interval() <= MAX_WAIT_MS
    quiet.stop()  # as if the edits never paused: only the deadline is left to save
    with qtbot.waitSignal(autosave.saved, timeout=30_000):  # generous: the machine may be loaded
        pass
    assert not window.session.dirty and not autosave.pending
    assert len(window.session.store.annotations(window.doc.study_id)) == 1


def test_settings_are_saved_as_json_and_recent_files_kept(window, sample_file):
    window.apply_settings(AppSettings(brush_radius=3.0, autosave_delay_ms=500))
    loaded, warning = load_settings()
    assert warning == "" and loaded.brush_radius == 3.0 and window.tool_ctx.brush_radius == 3.0
    window.open_path(sample_file)
    assert load_settings()[0].recent_files[0] == str(sample_file.resolve())
    assert [a.text() for a in window.recent_menu.actions()] == [str(sample_file.resolve())]


def test_drop_a_file_opens_it(make_window, sample_file):
    w = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(sample_file))])
    event = QDropEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)  # fmt: skip
    w.dropEvent(event)
    assert w.doc is not None and w.session.study.rel_path.endswith("sample.npy")
    assert w.studies.tree.topLevelItemCount() == 1


def test_label_colour_and_opacity_are_kept_in_the_project(window):
    window.annotations.opacity.setValue(80)
    stored = {lab.id: lab for lab in window.session.store.labels()}
    assert stored[1].opacity == 0.8
    lut = window.doc.labels.lut()
    assert lut[1, 3] == round(255 * 0.8)


def test_settings_dialog_edits_every_field(window, qtbot):
    from app.qt.dialogs.settings_dialog import SettingsDialog

    dialog = SettingsDialog(AppSettings(), window)
    qtbot.addWidget(dialog)
    dialog.brush.setValue(12.0)
    dialog.autosave.setValue(700)
    dialog.speed.setValue(0.5)
    dialog.loop.setChecked(False)
    dialog.recent.setValue(3)
    got = dialog.result_settings()
    assert got == AppSettings(brush_radius=12.0, autosave_delay_ms=700, playback_speed=0.5,
                              playback_loop=False, max_recent=3)  # fmt: skip
    window.apply_settings(got)
    assert load_settings()[0] == got


def test_dragging_a_mark_on_the_timeline_moves_it(window, qtbot):
    window.doc.set_frame(2)
    window.actions["cine.mark_ed"].trigger()
    tl = window.cine_panel.timeline
    tl.resize(600, 28)
    start, end = QPoint(int(tl.x_of(2)), 10), QPoint(int(tl.x_of(9)), 10)
    qtbot.mousePress(tl, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseRelease(tl, Qt.MouseButton.LeftButton, pos=end)
    assert window.doc.frame_marks()["ED"] == [9] and window.doc.view.frame_index == 9
    window.undo()
    assert window.doc.frame_marks()["ED"] == [2]


def test_opening_another_study_starts_at_its_first_frame(make_window, sample_file, tmp_path):
    w = make_window()
    assert w.open_path(sample_file)
    w.doc.set_frame(7)
    other = tmp_path / "clips" / "other.npy"
    np.save(other, np.zeros((5, 120, 160), np.uint8))
    assert w.open_path(other)
    assert w.doc.view.frame_index == 0 and w.cine_panel.strip.currentRow() == 0
