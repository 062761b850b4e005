"""The whole loop from the panels: correct -> fine-tune -> new version -> compare -> roll back."""

from __future__ import annotations

import numpy as np
from loop_project import store_tiny_model, truth_mask
from PySide6.QtCore import Qt

from app.model.commands import mask_diff
from app.qt.actions import ACTIONS
from engine import model_store

RUN_MS = 150_000


def correct_studies(window, count: int) -> None:
    """Open each study and paint its exact lesion mask as a human correction; saved to the project."""
    for study in window.session.store.studies()[:count]:
        assert window.open_study(study.id)
        doc = window.doc
        i = int(study.rel_path.split("case")[1][:2])
        doc.apply(mask_diff(0, np.zeros(doc.shape, np.uint8), truth_mask(i), None))
        window.save()


def set_up_run(panel, epochs: int, activate: str = "always") -> None:
    panel.refresh()
    panel.model.setCurrentText("loop-seg")
    panel.name.setCurrentText("loop-seg")
    panel.epochs.setValue(epochs)
    panel.batch.setValue(2)
    panel.activate.setCurrentText(activate)


def finish(qtbot, panel, timeout: int = RUN_MS) -> str:
    qtbot.waitUntil(lambda: panel.run is not None and panel.run.status != "running", timeout=timeout)
    panel.poll()
    return panel.run.status


def test_correct_finetune_compare_and_roll_back(make_window, qtbot):
    base = store_tiny_model()
    window = make_window(studies=10)
    correct_studies(window, 10)
    panels = window.loop_panels
    training, versions = panels.training, panels.versions
    set_up_run(training, epochs=2)
    assert len(training.choice().study_ids) == 10  # every corrected study is chosen
    qtbot.mouseClick(training.start_button, Qt.MouseButton.LeftButton)
    assert training.run is not None and not training.start_button.isEnabled()
    window.show_message("still responsive")  # the window works while the run goes on
    with qtbot.waitSignal(training.version_registered, timeout=RUN_MS) as registered:
        pass
    assert registered.args == ["loop-seg@2"]
    assert finish(qtbot, training) == "finished"
    assert training.loss_curve.getData()[0] is not None and len(training.loss_curve.getData()[0]) > 0
    assert len(training.epoch_curve.getData()[0]) == 2  # one validation figure per epoch
    assert "val_segmentation.dice per epoch" in training.plot.plotItem.titleLabel.text
    assert "loop-seg@2 stored (active)" in training.status.text()

    rows = {r.ref: r for r in versions.rows}
    assert rows["loop-seg@2"].active and rows["loop-seg@2"].parent == "1"
    assert "test.segmentation.dice" in rows["loop-seg@2"].metrics
    assert "parent.segmentation.dice" in rows["loop-seg@2"].metrics  # v1 scored on the same split

    window.open_study(window.session.store.studies()[0].id)
    versions.select([base, "loop-seg@2"])
    qtbot.mouseClick(versions.compare_button, Qt.MouseButton.LeftButton)
    table = {
        versions.metrics_row(r)[0]: versions.metrics_row(r)[1:] for r in range(versions.metrics.rowCount())
    }
    assert table["version"] == (base, "loop-seg@2")
    assert table["test.segmentation.dice"][0] == "-" and table["test.segmentation.dice"][1] != "-"
    qtbot.waitUntil(lambda: not versions.busy(), timeout=60_000)
    now = {
        versions.metrics_row(r)[0]: versions.metrics_row(r)[1:] for r in range(versions.metrics.rowCount())
    }
    assert "now.segmentation.dice" in now  # both scored now on the frozen test split
    assert set(versions.compare_view.planes) == {base, "loop-seg@2"}
    assert versions.compare_view.planes[base].shape == window.doc.shape

    versions.select(["loop-seg@2"])
    qtbot.mouseClick(versions.rollback_button, Qt.MouseButton.LeftButton)
    assert model_store.active_version("loop-seg") == "1"
    assert {r.ref for r in versions.rows if r.active} == {base}


def test_cancel_leaves_no_version_and_kill_leaves_the_app_working(make_window, qtbot):
    store_tiny_model()
    window = make_window(studies=10)
    correct_studies(window, 10)
    training, versions = window.loop_panels.training, window.loop_panels.versions
    set_up_run(training, epochs=200)
    qtbot.mouseClick(training.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: training.run.done >= 2, timeout=RUN_MS)
    assert training.eta.text().startswith("ETA")
    qtbot.mouseClick(training.cancel_button, Qt.MouseButton.LeftButton)
    assert finish(qtbot, training, 60_000) == "cancelled"
    assert "no version stored" in training.status.text()
    assert training.resume_button.isEnabled()
    versions.refresh()
    assert [r.ref for r in versions.rows] == ["loop-seg@1"]

    qtbot.mouseClick(training.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: training.run.done >= 3, timeout=RUN_MS)
    training.run.kill()  # the training process dies; the window carries on
    assert finish(qtbot, training, 30_000) == "killed"
    assert "ended unexpectedly" in training.status.text()
    assert training.start_button.isEnabled() and training.resume_button.isEnabled()
    versions.refresh()
    assert [r.ref for r in versions.rows] == ["loop-seg@1"]
    assert model_store.active_version("loop-seg") == "1"
    assert window.open_study(window.session.store.studies()[1].id)
    window.doc.apply(mask_diff(0, window.doc.mask_plane(0).copy(), np.ones(window.doc.shape, np.uint8), None))
    assert window.doc.history.can_undo


def test_the_study_choice_survives_a_refresh(make_window):
    window = make_window(studies=3)
    correct_studies(window, 2)
    training = window.loop_panels.training
    training.refresh()
    ids = [s.id for s in window.session.store.studies()]
    assert training.choice().study_ids == tuple(ids[:2])  # corrected studies are ticked
    training.studies.item(0).setCheckState(Qt.CheckState.Unchecked)
    training.refresh()
    assert training.choice().study_ids == (ids[1],)
    correct_studies(window, 3)  # the third study gets its first correction: ticked now
    training.refresh()
    assert training.choice().study_ids == (ids[1], ids[2])


def test_the_loop_menu_is_built_from_the_action_table(make_window):
    window = make_window(studies=1)
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Loop")
    specs = [s for s in ACTIONS if s.menu == "&Loop"]
    assert [a.text() for a in menu.actions()] == [s.text for s in specs]
    assert {s.target for s in specs} == set(window.loop_panels.targets)
    window.actions["loop.rollback"].trigger()  # nothing stored yet: the versions panel says so
    assert window.last_message == "select a version of the model to roll back"
