"""The export dialog drives the Qt-free export and shows errors as one line."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from test_export_cli import _project

from app.qt.dialogs.export_dialog import ExportDialog
from engine.deid import ScannerKey, ScannerMasks


def test_dialog_exports_and_reports_errors(qtbot, tmp_path):
    proj = _project(tmp_path / "p")
    masks = ScannerMasks(proj)
    masks.set(ScannerKey("ACME", "S1", 4, 4), np.ones((4, 4), bool))
    masks.save()
    dialog = ExportDialog(proj, study_id=1)
    qtbot.addWidget(dialog)
    assert dialog.masks.count() == 1
    dialog.masks.setCurrentRow(0)
    dialog._forget_mask()
    assert dialog.masks.count() == 0 and ScannerMasks(proj).keys() == []

    dialog.format.setCurrentIndex(dialog.format.findData("csv"))
    (tmp_path / "file").write_text("x")
    dialog.out.setText(str(tmp_path / "file" / "o"))
    assert not dialog.run_export()
    assert "cannot write" in dialog.status.text() and "\n" not in dialog.status.text()

    dialog.out.setText(str(tmp_path / "o"))
    dialog.only_study.setChecked(True)
    assert dialog.run_export()
    assert (tmp_path / "o" / "measurements.csv").is_file() and dialog.result is not None


def test_dialog_sets_the_open_studys_fan_mask_from_an_image(qtbot, tmp_path):
    import cv2

    proj = _project(tmp_path / "p")
    dialog = ExportDialog(proj, study_id=1)
    qtbot.addWidget(dialog)
    mask = np.zeros((480, 640), np.uint8)
    mask[40:440, 100:540] = 255
    cv2.imwrite(str(tmp_path / "fan.png"), mask)
    assert dialog.set_mask_from(tmp_path / "fan.png")
    (key,) = ScannerMasks(proj).keys()
    assert key.endswith("|480x640") and dialog.masks.count() == 1
    cv2.imwrite(str(tmp_path / "small.png"), mask[:10, :10])
    assert not dialog.set_mask_from(tmp_path / "small.png") and "480" in dialog.status.text()
