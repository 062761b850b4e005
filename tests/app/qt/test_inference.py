"""The acceptance path with a model: open sample -> run all tasks in the background -> brush
edit -> undo -> redo -> save -> reopen; cancel; the model's training-data statement.

Runs here tick every task ("Chosen tasks"): the tiny model's random weights make its own exam
decision arbitrary, so the automatic routing is tested with a person's exam
(tests/app/qt/test_exam.py)."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
from PySide6.QtCore import QTimer

from app.model.annotations import Review
from engine.io.open import open_cine
from engine.provenance import Origin

RUN_TIMEOUT_MS = 180_000


def run_and_wait(window, qtbot, frames=(0, 2), tasks=None):
    """Run ``tasks`` (default: every task the model has) on a frame range; returns when the GUI
    thread was free meanwhile.

    A 20 ms timer ticks only while the GUI thread is free, so a window frozen by the run shows a
    long gap between ticks. The times (``perf_counter`` seconds) begin with the run's start and
    end with its finish, so a freeze at either end counts too.
    """
    panel = window.inference_panel
    items = [panel.task_list.item(i).text() for i in range(panel.task_list.count())]
    panel.set_checked(items if tasks is None else tasks)
    panel.set_scope("Frame range")
    panel.range_edit.setText(f"{frames[0]}-{frames[1]}")
    timer = QTimer(interval=20)
    ticks = [time.perf_counter()]
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    with qtbot.waitSignal(window.inference.finished, timeout=RUN_TIMEOUT_MS):
        window.actions["model.run"].trigger()
        assert window.inference.running and not panel.run_button.isEnabled()
    timer.stop()
    ticks.append(time.perf_counter())
    return ticks


def test_run_all_tasks_edit_undo_redo_save_reopen(make_window, qtbot, mouse, tmp_path, cardiac_sample,
                                                  stored_model):  # fmt: skip
    window = make_window(reader=open_cine)
    assert window.open_path(cardiac_sample), window.last_message
    key = f"{stored_model.name}@{stored_model.version}"
    window.inference.select_model(key)
    qtbot.waitUntil(lambda: window.inference_panel.task_list.count() > 0)
    assert window.inference_panel.mode == "auto", "Automatic (by exam) is the default"
    tasks = window.inference_panel.checked_tasks()
    assert tasks == ["exam", "classification", "segmentation", "detection", "landmarks", "regression",
                     "enhancement", "report"]  # fmt: skip
    ticks = run_and_wait(window, qtbot)
    longest = float(np.diff(ticks).max())  # no freeze: the GUI thread was never busy for long
    assert len(ticks) - 2 >= 3 and longest < 2.0, f"{len(ticks) - 2} ticks, longest gap {longest:.2f} s"
    assert window.inference_panel.status.text().startswith("7 task(s) on 3 frame(s)"), window.last_message
    doc = window.doc
    kinds = {a.kind for a in doc.annotations.values()}
    # no ED/ES marks are required: three frames hold no full cardiac cycle (engine.tasks.ejection)
    assert {"class", "value", "landmark", "report"} <= kinds
    assert sorted(doc.masks) == [0, 1, 2] and sorted(doc.enhanced) == [0, 1, 2]
    model = stored_model.name, stored_model.version, stored_model.weights_sha256
    for a in doc.annotations.values():
        assert a.origin is Origin.AI_DRAFT and (a.model.name, a.model.version, a.model.sha256) == model
    assert all(m.model.version == "1" and m.review is Review.PENDING for m in doc.mask_meta.values())
    assert doc.history.undo_text == f"apply {stored_model.name} v1"
    drafts = dict(doc.annotations)

    # one undo step removes the whole run; redo brings it back
    window.undo()
    assert not doc.annotations and not doc.masks and not doc.enhanced
    window.redo()
    assert doc.annotations == drafts and sorted(doc.enhanced) == [0, 1, 2]

    # a brush stroke over the AI mask: undo, redo
    doc.set_frame(1)
    before = doc.mask(1).copy()
    window.set_tool("brush")
    doc.view.active_label = 2
    mouse.drag(window, [(230, 240), (250, 244), (270, 248), (290, 252)])
    painted = doc.mask(1).copy()
    assert (painted != before).sum() > 100 and doc.mask_meta[1].origin is Origin.HUMAN_FINAL
    window.undo()
    np.testing.assert_array_equal(doc.mask(1), before)
    window.redo()
    np.testing.assert_array_equal(doc.mask(1), painted)
    window.actions["file.save"].trigger()
    assert not window.session.dirty
    window.close()

    again = make_window(project=tmp_path / "proj", reader=open_cine)
    (study,) = again.session.store.studies()
    assert again.open_study(study.id)
    np.testing.assert_array_equal(again.doc.mask(1), painted)
    assert again.doc.mask_meta[1].model.version == "1", "the corrected mask keeps its drafting model"
    assert again.doc.mask_meta[0].origin is Origin.AI_DRAFT and again.doc.mask_meta[0].model.version == "1"
    assert again.doc.annotations == drafts, "every AI draft is back with its model version"
    assert [(m.name, m.version) for m in again.session.store.models()] == [(stored_model.name, "1")]


def test_a_run_uses_the_open_cine_the_file_is_opened_and_each_frame_decoded_once(
    make_window, qtbot, cardiac_sample, stored_model, monkeypatch
):
    opened = []

    def counting_open(path):
        opened.append(path)
        return open_cine(path)

    decoded = Counter()
    reader = type(open_cine(cardiac_sample))
    decode = reader._decode

    def counting_decode(self, index):
        decoded[index] += 1
        return decode(self, index)

    monkeypatch.setattr(reader, "_decode", counting_decode)
    window = make_window(reader=counting_open)
    assert window.open_path(cardiac_sample)
    run_and_wait(window, qtbot, frames=(0, 3))
    assert window.inference_panel.status.text().startswith("7 task(s) on 4 frame(s)"), window.last_message
    assert sorted(window.doc.masks) == [0, 1, 2, 3]
    assert opened == [cardiac_sample], "opening the study is the only read of the file"
    assert {0, 1, 2, 3} <= set(decoded) and max(decoded.values()) == 1, decoded


def test_cancel_changes_nothing_and_errors_are_shown(make_window, qtbot, cardiac_sample, stored_model):
    window = make_window(reader=open_cine)
    assert window.open_path(cardiac_sample)
    window.inference_panel.set_scope("Whole cine")
    with qtbot.waitSignal(window.inference.finished, timeout=RUN_TIMEOUT_MS):
        window.actions["model.run"].trigger()
        window.actions["model.cancel"].trigger()
    assert window.last_message == "model run cancelled; nothing was changed"
    assert not window.doc.annotations and not window.doc.masks and not window.doc.history.can_undo
    assert window.inference_panel.run_button.isEnabled()
    window.inference_panel.set_checked([])
    assert not window.inference.run() and window.last_message == "pick a model and at least one task first"
    window.inference_panel.set_checked(["classification"])
    window.inference_panel.set_scope("Frame range")
    window.inference_panel.range_edit.setText("0-999")
    assert not window.inference.run() and not window.inference.running
    assert window.last_message == "frames '0-999': out of range (the cine has frames 0-59)"


def test_the_models_training_data_statement_is_always_shown(make_window, cardiac_sample, stored_model):
    window = make_window(reader=open_cine)
    expected = "echocare-all v1 · random weights; not for clinical use"
    assert window.model_card_label.text() == f"Model: {expected}"
    assert "color" in window.model_card_label.styleSheet(), "shown as a warning"
    assert window.inference_panel.notice.text() == expected
    assert window.open_path(cardiac_sample)
    assert window.model_card_label.text() == f"Model: {expected}" and window.doc.model_card == expected
    assert window.findings.notice.isVisibleTo(window.findings)
    assert window.findings.full_report().startswith(f"Model: {expected}")


def test_no_model_in_the_store_says_so(window):
    assert window.model_card_label.text() == "Model: no model loaded"
    assert not window.inference_panel.run_button.isEnabled()
    assert "No model" in window.inference_panel.notice.text()


def test_closing_the_window_during_a_run_stops_it(make_window, qtbot, cardiac_sample, stored_model):
    window = make_window(reader=open_cine)
    assert window.open_path(cardiac_sample)
    window.inference_panel.set_scope("Whole cine")
    window.actions["model.run"].trigger()
    assert window.inference.running
    window.close()
    assert not window.inference.running
    qtbot.wait(50)  # signals still queued from the stopped run are delivered and dropped
    assert not window.doc.annotations and not window.doc.masks, "a cancelled run leaves nothing"


def test_a_failing_run_shows_a_traceback_dialog_and_changes_nothing(window, qtbot, stored_model, monkeypatch):
    def broken(request, progress, cancel):
        raise RuntimeError("weights and card disagree")

    monkeypatch.setattr(window.inference.runner, "run", broken)
    window.actions["model.refresh"].trigger()  # the model was stored after the window opened
    assert window.inference_panel.model_key == "echocare-all@1"
    with qtbot.waitSignal(window.inference.finished, timeout=RUN_TIMEOUT_MS):
        window.actions["model.run"].trigger()
    assert window.last_message.endswith("RuntimeError: weights and card disagree")
    dialog = window.inference.crash_dialog
    assert dialog.isVisible() and "Traceback" in dialog.detailedText()
    dialog.close()
    assert not window.doc.annotations and not window.doc.history.can_undo


def test_the_bundled_demo_model_is_the_default_and_says_it_is_simulated(bundled_models, make_window, qtbot,
                                                                        cardiac_sample):  # fmt: skip
    from engine.model_card import read_card

    card = read_card(bundled_models / "echocare-demo")
    window = make_window(reader=open_cine)
    assert window.inference_panel.model_key == f"echocare-demo@{card.version}"
    label = window.model_card_label.text()
    assert label.startswith(f"Model: echocare-demo v{card.version} · ") and "simulated" in label
    assert "not for clinical use" in label and "color" in window.model_card_label.styleSheet()
    assert window.open_path(cardiac_sample)
    with qtbot.waitSignal(window.inference.finished, timeout=RUN_TIMEOUT_MS):
        window.actions["model.run"].trigger()  # the current frame
    doc = window.doc
    assert doc.annotations and doc.masks == {0: doc.masks[0]}
    refs = {a.model for a in doc.annotations.values()} | {doc.mask_meta[0].model}
    expect = [("echocare-demo", card.version, card.weights_sha256)]
    assert [(r.name, r.version, r.sha256) for r in refs] == expect
    assert window.findings.full_report().startswith(label)
