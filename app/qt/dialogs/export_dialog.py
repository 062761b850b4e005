"""ExportDialog: export the open project (any registered format) and manage remembered fan masks.

A self-contained dialog over the Qt-free API (``engine.interop.export_project``,
``engine.deid.ScannerMasks``). The export runs on accept, with a wait cursor; errors are
shown as their one-line message and leave no partial output.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QWidget,
)

from engine.deid import ScannerMasks, scanner_key
from engine.errors import EchoCareError
from engine.interop import DESCRIPTIONS, ExportResult, export_project, list_formats
from engine.interop.project_data import load_project


class ExportDialog(QDialog):
    """Choose a format, an output folder, de-identification and scope, then export.

    Args:
        project: the project folder.
        study_id: the open study, offered as "only this study"; None when no study is open.
        parent: the parent widget.
    """

    def __init__(
        self, project: str | Path, study_id: int | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.project = Path(project)
        self.study_id = study_id
        self.result: ExportResult | None = None
        self.format = QComboBox()
        for name in list_formats():
            self.format.addItem(f"{name} — {DESCRIPTIONS[name]}", name)
        self.out = QLineEdit()
        self.out.setPlaceholderText("a new or empty folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.out)
        row.addWidget(browse)
        self.deidentify = QCheckBox("Remove patient data (PS3.15 basic profile, blank text outside the fan)")
        self.only_study = QCheckBox("Only the open study")
        self.only_study.setEnabled(study_id is not None)
        self.masks = QListWidget()
        forget = QPushButton("Forget selected fan mask")
        forget.clicked.connect(self._forget_mask)
        set_mask = QPushButton("Set the open study's fan mask from an image…")
        set_mask.setEnabled(study_id is not None)
        set_mask.clicked.connect(self._choose_mask_image)
        self.status = QLabel()
        self.status.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Format", self.format)
        form.addRow("Folder", row)
        form.addRow(self.deidentify)
        form.addRow(self.only_study)
        form.addRow("Remembered fan masks", self.masks)
        form.addRow(forget)
        form.addRow(set_mask)
        form.addRow(self.status)
        std = QDialogButtonBox.StandardButton
        self.buttons = QDialogButtonBox(std.Ok | std.Cancel)
        self.buttons.button(std.Ok).setText("Export")
        self.buttons.accepted.connect(self.run_export)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self._load_masks()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into", str(self.project.parent))
        if folder:
            self.out.setText(folder)

    def _load_masks(self) -> None:
        self.masks.clear()
        try:
            self.masks.addItems(ScannerMasks(self.project).keys())
        except EchoCareError as err:
            self.status.setText(err.one_line())

    def _forget_mask(self) -> None:
        item = self.masks.currentItem()
        if item is None:
            return
        from engine.deid.scanner_masks import ScannerKey

        maker, model, size = item.text().rsplit("|", 2)
        rows, columns = (int(v) for v in size.split("x"))
        try:
            store = ScannerMasks(self.project)
            store.remove(ScannerKey(maker, model, rows, columns))
            store.save()
        except EchoCareError as err:
            self.status.setText(err.one_line())
            return
        self._load_masks()

    def _choose_mask_image(self) -> None:
        image, _ = QFileDialog.getOpenFileName(self, "Fan mask (white = keep)", "", "Images (*.png *.bmp)")
        if image:
            self.set_mask_from(Path(image))

    def set_mask_from(self, image: Path) -> bool:
        """Remember ``image`` (white = inside the fan) as the open study's scanner mask."""
        import cv2

        try:
            data = load_project(self.project, self.study_id)
            key = scanner_key(data.studies[0].path)
            pixels = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE)
            if pixels is None:
                self.status.setText(f"{image}: not an image")
                return False
            store = ScannerMasks(self.project)
            store.set(key, pixels > 127)
            store.save()
        except (EchoCareError, ValueError) as err:
            text = err.one_line() if isinstance(err, EchoCareError) else f"{image}: {err}"
            self.status.setText(text)
            return False
        self._load_masks()
        self.status.setText(f"Fan mask set for {key.text()}")
        return True

    def run_export(self) -> bool:
        """Export with the chosen options; accept on success, show the one-line error otherwise."""
        if not self.out.text().strip():
            self.status.setText("Choose a folder to export into.")
            return False
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.result = export_project(
                self.project,
                self.format.currentData(),
                Path(self.out.text().strip()),
                deidentify=self.deidentify.isChecked(),
                study_id=self.study_id if self.only_study.isChecked() else None,
            )
        except EchoCareError as err:
            self.status.setText(err.one_line())
            return False
        finally:
            QApplication.restoreOverrideCursor()
        self.status.setText(f"{len(self.result.files)} files written to {self.result.out}")
        self.accept()
        return True
