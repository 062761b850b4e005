"""The acceptance path: open -> edit -> undo -> redo -> save -> reopen; calipers; bad files."""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pytest

from app.model import commands
from app.model.annotations import Annotation
from app.qt.actions import ACTIONS
from engine.errors import EchoCareError
from engine.io.open import open_cine


def test_sample_brush_undo_redo_save_reopen_keeps_the_edit(make_window, mouse, tmp_path, cardiac_sample):
    window = make_window(reader=open_cine)
    assert window.open_path(cardiac_sample), window.last_message
    assert window.doc.n_frames > 1 and window.session.store.studies()[0].rel_path.endswith(
        "cardiac_lv_cine.dcm"
    )
    window.doc.set_frame(3)
    window.set_tool("brush")
    mouse.drag(window, [(230, 240), (250, 244), (270, 248), (290, 252)])
    painted = window.doc.mask(3).copy()
    assert (painted == 1).sum() > 300, "the drag painted the active label"
    assert window.actions["edit.undo"].text() == "&Undo brush stroke"
    window.actions["edit.undo"].trigger()
    assert not window.doc.mask(3).any()
    window.actions["edit.redo"].trigger()
    np.testing.assert_array_equal(window.doc.mask(3), painted)
    window.actions["file.save"].trigger()
    assert not window.session.dirty
    window.close()

    again = make_window(project=tmp_path / "proj", reader=open_cine)
    (study,) = again.session.store.studies()
    assert again.open_study(study.id)
    np.testing.assert_array_equal(again.doc.mask(3), painted)
    assert again.doc.mask_meta[3].origin.value == "human_final"


def test_caliper_on_the_calibrated_sample_shows_the_hand_computed_mm(make_window, mouse, cardiac_sample):
    window = make_window(reader=open_cine)
    assert window.open_path(cardiac_sample)
    region = window.doc.calibration().region_at(300, 300)
    assert region is not None and region.unit_x == region.unit_y == "mm"
    window.set_tool("distance")
    asked = [(200, 200), (230, 240), (260, 280)]
    mouse.drag(window, asked)
    (ann,) = window.doc.of_kind("distance")
    (x0, y0), (x1, y1) = ann.points
    # the pointer sits on whole viewport pixels: the ends are the frame points of those pixels
    ends = (asked[0], asked[-1])
    landed = [window.view.box.mapSceneToView(window.view.mapToScene(mouse.pos(window, *p))) for p in ends]
    assert [x0, y0, x1, y1] == pytest.approx([c for p in landed for c in (p.x(), p.y())], abs=1e-6)
    pixel_w, pixel_h = window.view.box.viewPixelSize()  # one viewport pixel, in frame pixels
    for (x, y), (ax, ay) in zip(ann.points, ends, strict=True):
        assert abs(x - ax) <= pixel_w and abs(y - ay) <= pixel_h, "the drag landed on the pixels asked for"
    expected = math.hypot((x1 - x0) * region.spacing_x, (y1 - y0) * region.spacing_y)  # by hand
    text = f"{expected:.1f} mm"
    assert window.last_message == f"distance: {text}"
    labels = [i.toPlainText() for i in window.view.overlays.items if hasattr(i, "toPlainText")]
    assert labels == [text]
    assert window.annotations.tree.topLevelItem(0).text(5) == text


def test_caliper_uses_the_scale_of_the_region_under_it(window, mouse, mm_per_px):
    window.set_tool("distance")
    mouse.drag(window, [(10, 10), (25, 30), (40, 50)])
    (ann,) = window.doc.of_kind("distance")
    dx, dy = ann.points[1][0] - ann.points[0][0], ann.points[1][1] - ann.points[0][1]
    assert window.last_message == f"distance: {math.hypot(dx, dy) * mm_per_px:.1f} mm"


def test_caliper_across_regions_is_refused(window):
    window.set_tool("distance")
    window.tool.press(20, 20)
    window.tool.move(120, 20)
    assert window.tool.release(120, 20) is None
    assert "different ultrasound regions" in window.last_message
    assert window.doc.of_kind("distance") == []


def _garbage(path, _sample):
    path.write_bytes(b"DICM" + bytes(range(256)) * 4)


def _truncated(path, sample):
    path.write_bytes(sample.read_bytes()[:5000])


@pytest.mark.parametrize("damage", [_garbage, _truncated])
def test_corrupt_file_shows_the_reader_error_and_changes_nothing(make_window, sample_file, tmp_path, damage,
                                                                 cardiac_sample):  # fmt: skip
    w = make_window()
    assert w.open_path(sample_file)
    w.set_tool("landmark")
    w.tool.press(5, 5)
    w.tool.release(5, 5)
    w.save()
    db = w.session.store.db_path

    def snapshot():
        con = sqlite3.connect(db)
        rows = [
            con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
            for t in ("studies", "annotations", "masks")
        ]
        con.close()
        return rows

    before, doc = snapshot(), w.doc
    bad = tmp_path / "corrupt.dcm"
    damage(bad, cardiac_sample)
    with pytest.raises(EchoCareError) as err:
        open_cine(bad)
    expected = err.value.one_line()  # the reader's own one-line error
    w.session.opener = open_cine
    assert not w.open_path(bad)
    assert w.last_message == expected and "corrupt.dcm" in expected and "\n" not in expected
    assert "color" in w.message_label.styleSheet()
    assert w.doc is doc and len(doc.annotations) == 1
    assert snapshot() == before


def test_every_shortcut_is_unique_and_in_the_cheat_sheet(window):
    shortcuts = [a.shortcut for a in ACTIONS if a.shortcut]
    assert len(shortcuts) == len(set(shortcuts))
    window.actions["help.cheat_sheet"].trigger()
    table = window._cheat_sheet.table
    shown = {table.item(r, 2).text() for r in range(table.rowCount())}
    assert shown == set(shortcuts)
    for spec in ACTIONS:
        if spec.group == "tools":
            window.actions[spec.id].trigger()
            assert window.doc.view.tool == spec.arg


def test_model_card_and_cursor_readout(window, mouse):
    assert window.model_card_label.text() == "Model: no model loaded"
    window.doc.set_model_card("echocare-demo v1 · demo model trained on simulated data")
    assert "simulated" in window.model_card_label.text()
    mouse.hover(window, 20, 30)
    assert "mm" in window.cursor_label.text() and "0.250 mm/px" in window.cursor_label.text()
    mouse.hover(window, 120, 30)
    assert "0.500 mm/px" in window.cursor_label.text()


def test_a_frame_that_fails_to_decode_is_reported_not_fatal(window):
    from engine.errors import ReadError

    def broken(_index):
        raise ReadError(window.doc.cine.path, "frame 4: truncated pixel data")

    window.doc.cine._decode = broken
    window.doc.cine._cache.clear()
    window.doc.set_frame(4)
    assert window.last_message.endswith("frame 4: truncated pixel data")


def test_switching_projects_saves_the_old_one_and_opens_the_new(window, tmp_path, sample_file):
    old_store = window.session.store.db_path
    window.doc.apply(commands.add(Annotation("landmark", 0, 1, ((7, 7),))))
    assert window.open_project(tmp_path / "other")
    assert window.doc is None and not window.annotations.isEnabled()
    assert window.studies.tree.topLevelItemCount() == 0
    window.set_tool("brush")  # no study open: nothing to edit, nothing breaks
    con = sqlite3.connect(old_store)
    assert con.execute("SELECT kind FROM annotations").fetchall() == [("landmark",)]
    con.close()
    assert window.open_path(sample_file) and window.annotations.isEnabled()
    assert window.doc.annotations == {}
    assert window.open_project(tmp_path / "proj")  # back: its last study reopens with the edit
    assert [a.kind for a in window.doc.annotations.values()] == ["landmark"]


def test_a_folder_of_frames_opens_as_one_uncalibrated_study(make_window, tmp_path, mouse):
    from PIL import Image

    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((40, 50), 60 * i, np.uint8)).save(folder / f"f{i:02d}.png")
    w = make_window(reader=open_cine)
    assert w.open_path(folder), w.last_message
    assert w.doc.n_frames == 3 and w.session.store.studies()[0].rel_path == "../frames"
    mouse.hover(w, 10, 10)
    assert w.cursor_label.text().endswith("uncalibrated")
    w.set_tool("distance")
    w.tool.press(0, 0)
    w.tool.release(30, 40)
    assert w.last_message == "distance: 50.0 px (uncalibrated)"


def _failing_saves(window, monkeypatch):
    from engine.errors import ProjectError

    def refuse(*_args, **_kwargs):
        raise ProjectError(window.session.store.db_path, "cannot save (No space left on device)")

    monkeypatch.setattr(window.session.store, "save_study", refuse)
    window.doc.apply(commands.add(Annotation("landmark", 0, 1, ((7, 7),))))
    assert window.session.dirty


def test_closing_after_a_failed_save_asks_and_keeps_the_edits_on_cancel(window, monkeypatch):
    _failing_saves(window, monkeypatch)
    asked = []
    monkeypatch.setattr(window, "confirm_discard", lambda error: asked.append(error) or False)
    assert not window.close()
    assert window.isVisible() and window.session.dirty
    assert len(asked) == 1 and "No space left on device" in asked[0]
    assert "No space left on device" in window.last_message
    monkeypatch.undo()  # the disk has room again: closing saves the edit
    store = window.session.store.db_path
    assert window.close()
    con = sqlite3.connect(store)
    assert con.execute("SELECT kind FROM annotations").fetchall() == [("landmark",)]
    con.close()


def test_closing_after_a_failed_save_closes_when_the_user_discards(window, monkeypatch):
    _failing_saves(window, monkeypatch)
    monkeypatch.setattr(window, "confirm_discard", lambda error: True)
    assert window.close()
    assert not window.isVisible()


def test_switching_projects_after_a_failed_save_stays_on_cancel(window, monkeypatch, tmp_path):
    _failing_saves(window, monkeypatch)
    monkeypatch.setattr(window, "confirm_discard", lambda error: False)
    before = window.session
    assert not window.open_project(tmp_path / "other")
    assert window.session is before and window.doc is not None and window.session.dirty


def test_settings_that_cannot_be_written_do_not_stop_a_file_from_opening(
    make_window, monkeypatch, sample_file
):
    from app.qt import main_window
    from engine.errors import ProjectError

    def refuse(settings, path=None):
        raise ProjectError("settings.json", "cannot save the settings (Permission denied)")

    monkeypatch.setattr(main_window, "save_settings", refuse)
    window = make_window()
    assert window.open_path(sample_file)
    assert window.doc is not None and window.doc.cine.path.name == sample_file.name
    assert "cannot save the settings" in window.last_message


def test_the_only_dock_tab_bars_shown_are_the_live_ones_and_none_covers_the_cine(window, qtbot):
    from PySide6.QtWidgets import QTabBar

    window.resize(1280, 900)
    window.show()
    qtbot.waitExposed(window)
    inside = window.rect()
    shown = [
        bar
        for bar in window.findChildren(QTabBar)
        if bar.isVisible() and bar.parent() is window and bar.geometry().intersects(inside)
    ]
    tabs = sorted(tuple(bar.tabText(i) for i in range(bar.count())) for bar in shown)
    assert tabs == [
        ("Annotations", "AI results"),
        ("Findings and report", "Training", "Model versions", "Correct next"),
    ]
    cine = window.docks["Cine"].geometry()
    assert not any(bar.geometry().intersects(cine) for bar in shown)


def test_the_window_fits_a_1280x800_screen_with_the_forms_scrolling_instead_of_overlapping(window):
    # a window whose minimum exceeds the screen is squeezed, and its docks' rows are painted over
    # each other (the model statement over the Run settings, the report over its origin line)
    window.findings.notice.setText("Model: a statement long enough to wrap over several lines " * 4)
    least = window.minimumSizeHint()
    assert least.width() <= 1280 and least.height() <= 800
