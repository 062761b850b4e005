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
