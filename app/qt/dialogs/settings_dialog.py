"""SettingsDialog: edit AppSettings; the caller saves the result as JSON.

The DICOM nodes are a table (name, AE title, host, port, or a DICOMweb URL); a row that is not
a valid node keeps the dialog open with a one-line reason.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from app.model.settings import AppSettings
from engine.net.nodes import Node

NODE_COLUMNS = ("Name", "AE title", "Host", "Port", "DICOMweb URL")


class SettingsDialog(QDialog):
    """One form row per setting the user can change."""

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._base = settings
        self.brush = QDoubleSpinBox(minimum=0.5, maximum=200.0, value=settings.brush_radius, suffix=" px")
        self.autosave = QSpinBox(minimum=100, maximum=2000, value=settings.autosave_delay_ms, suffix=" ms")
        self.speed = QDoubleSpinBox(minimum=0.1, maximum=8.0, value=settings.playback_speed, suffix=" ×")
        self.loop = QCheckBox(checked=settings.playback_loop)
        self.recent = QSpinBox(minimum=0, maximum=50, value=settings.max_recent)
        form = QFormLayout(self)
        form.addRow("Brush radius", self.brush)
        form.addRow("Autosave after", self.autosave)
        form.addRow("Playback speed", self.speed)
        form.addRow("Loop playback", self.loop)
        form.addRow("Recent files kept", self.recent)
        self.ae_title = QLineEdit(settings.listen_ae_title)
        self.port = QSpinBox(minimum=1, maximum=65535, value=settings.listen_port)
        form.addRow("Our AE title", self.ae_title)
        form.addRow("Receive on port", self.port)
        self.nodes = QTableWidget(0, len(NODE_COLUMNS))
        self.nodes.setHorizontalHeaderLabels(NODE_COLUMNS)
        self.nodes.setMinimumWidth(560)
        for node in settings.dicom_nodes:
            self.add_node_row(node)
        add, remove = QPushButton("Add node"), QPushButton("Remove node")
        add.clicked.connect(lambda: self.add_node_row(None))
        remove.clicked.connect(lambda: self.nodes.removeRow(self.nodes.currentRow()))
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(remove)
        row.addStretch(1)
        form.addRow("DICOM nodes", self.nodes)
        form.addRow("", row)
        self.error = QLabel()
        self.error.setStyleSheet("color: #ff6b6b")
        form.addRow(self.error)
        std = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(std.Ok | std.Cancel)
        buttons.accepted.connect(self._accept_if_valid)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def add_node_row(self, node: Node | None) -> None:
        """A table row for ``node`` (an empty row to fill in when None)."""
        row = self.nodes.rowCount()
        self.nodes.insertRow(row)
        values = ("", "", "", "", "") if node is None else (
            node.name, node.ae_title, node.host, str(node.port or ""), node.url,
        )  # fmt: skip
        for column, text in enumerate(values):
            self.nodes.setItem(row, column, QTableWidgetItem(text))

    def node_rows(self) -> tuple[Node, ...]:
        """The table as nodes (empty rows skipped).

        Raises:
            ValueError: a row is not a valid node (named in the message).
        """
        nodes = []
        for row in range(self.nodes.rowCount()):
            cells = [
                (self.nodes.item(row, c).text() if self.nodes.item(row, c) else "").strip() for c in range(5)
            ]
            if not any(cells):
                continue
            name, ae, host, port, url = cells
            if not port.isdigit() and not url:
                raise ValueError(f"node {name or row + 1!r}: the port {port!r} is not a number")
            nodes.append(Node(name or f"node {row + 1}", ae, host, int(port or 0), url))
        return tuple(nodes)

    def _accept_if_valid(self) -> None:
        try:
            self.result_settings()
        except ValueError as err:
            self.error.setText(str(err))
            return
        self.accept()

    def result_settings(self) -> AppSettings:
        """The settings as edited.

        Raises:
            ValueError: a DICOM node or our AE title is not valid.
        """
        return replace(
            self._base,
            dicom_nodes=self.node_rows(),
            listen_ae_title=self.ae_title.text().strip(),
            listen_port=self.port.value(),
            brush_radius=self.brush.value(),
            autosave_delay_ms=self.autosave.value(),
            playback_speed=self.speed.value(),
            playback_loop=self.loop.isChecked(),
            max_recent=self.recent.value(),
        )
