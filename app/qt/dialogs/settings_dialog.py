"""SettingsDialog: edit AppSettings; the caller saves the result as JSON."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QSpinBox,
    QWidget,
)

from app.model.settings import AppSettings


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
        std = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(std.Ok | std.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def result_settings(self) -> AppSettings:
        """The settings as edited."""
        return replace(
            self._base,
            brush_radius=self.brush.value(),
            autosave_delay_ms=self.autosave.value(),
            playback_speed=self.speed.value(),
            playback_loop=self.loop.isChecked(),
            max_recent=self.recent.value(),
        )
