"""InferencePanel: pick a model version and tasks, the frames to analyse, run and cancel.

The panel only collects the choice and shows progress; ``InferenceController`` runs the work
in the background and applies the results. The model's training-data statement is shown
under the model list, in orange when the model is not for clinical use.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.model.model_run import ModelChoice
from engine.frames import HELP as FRAMES_HELP
from engine.frames import parse_frames

SCOPES = ("Current frame", "Frame range", "Whole cine")
WARN_STYLE = "color: #ff9f1a; font-weight: bold"


class InferencePanel(QWidget):
    """``model_changed(key)``, ``run_requested()`` and ``cancel_requested()`` go to the controller."""

    model_changed = Signal(str)
    run_requested = Signal()
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_box = QComboBox()
        self.notice = QLabel("No model in the model store")
        self.notice.setWordWrap(True)
        self.notice.setObjectName("model_notice")
        self.task_list = QListWidget()
        self.task_list.setMaximumHeight(150)
        self.scope_box = QComboBox()
        self.scope_box.addItems(SCOPES)
        self.range_edit = QLineEdit()
        self.range_edit.setPlaceholderText("e.g. 0,5,10-20")
        self.range_edit.setToolTip(f"Frames: {FRAMES_HELP}")
        self.run_button, self.cancel_button = QPushButton("Run"), QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self._layout()
        self.model_box.currentIndexChanged.connect(self._on_model_box_changed)
        self.scope_box.currentIndexChanged.connect(self._on_scope_changed)
        self.run_button.clicked.connect(self.run_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self._on_scope_changed(0)

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("Model", self.model_box)
        form.addRow(self.notice)
        form.addRow("Tasks", self.task_list)
        form.addRow("Frames", self.scope_box)
        form.addRow("", self.range_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        col = QVBoxLayout(self)
        col.setContentsMargins(4, 4, 4, 4)
        col.addLayout(form)
        col.addLayout(buttons)
        col.addWidget(self.progress)
        col.addWidget(self.status)
        col.addStretch(1)

    # -- filling -----------------------------------------------------------------------------
    def set_models(self, choices: Sequence[ModelChoice]) -> None:
        """List the model versions (the first one is selected)."""
        self.model_box.blockSignals(True)
        self.model_box.clear()
        for choice in choices:
            self.model_box.addItem(choice.title, choice.key)
        self.model_box.blockSignals(False)
        self.run_button.setEnabled(bool(choices))
        if choices:
            self._on_model_box_changed(0)

    def set_tasks(self, names: Sequence[str], available: Sequence[str]) -> None:
        """List the engine's tasks, checked and enabled where the model has their head."""
        checked = {self.task_list.item(i).text() for i in range(self.task_list.count())}
        checked &= set(self.checked_tasks())
        self.task_list.clear()
        for name in names:
            item = QListWidgetItem(name)
            usable = name in available
            enabled = Qt.ItemFlag.ItemIsEnabled if usable else Qt.ItemFlag.NoItemFlags
            item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | enabled)
            on = usable and (name in checked or not checked)
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
            self.task_list.addItem(item)

    def set_frame_count(self, n_frames: int, current: int) -> None:
        """Propose the range from the current frame to the study's last frame."""
        last = max(0, n_frames - 1)
        self.range_edit.setText(f"{min(current, last)}-{last}")

    def set_notice(self, text: str, warn: bool) -> None:
        """Show the model's training-data statement, in orange when ``warn``."""
        self.notice.setText(text)
        self.notice.setStyleSheet(WARN_STYLE if warn else "")

    # -- reading -----------------------------------------------------------------------------
    @property
    def model_key(self) -> str:
        """``name@version`` of the selected model ("" when the store is empty)."""
        return str(self.model_box.currentData() or "")

    def checked_tasks(self) -> list[str]:
        """The ticked task names, in the list's order."""
        items = (self.task_list.item(i) for i in range(self.task_list.count()))
        return [it.text() for it in items if it.checkState() == Qt.CheckState.Checked]

    def set_checked(self, names: Sequence[str]) -> None:
        """Tick exactly the usable tasks in ``names``."""
        for i in range(self.task_list.count()):
            item = self.task_list.item(i)
            on = item.text() in names and bool(item.flags() & Qt.ItemFlag.ItemIsEnabled)
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def frames(self, n_frames: int, current: int) -> tuple[int, ...]:
        """The frame indices the scope selects.

        Raises:
            ConfigError: the range field does not follow the frame grammar (``engine.frames``).
        """
        scope = SCOPES[self.scope_box.currentIndex()]
        if scope == "Current frame":
            return (current,)
        if scope == "Frame range":
            return parse_frames(self.range_edit.text(), n_frames)
        return tuple(range(n_frames))

    def set_scope(self, scope: str) -> None:
        """Pick one of ``SCOPES``."""
        self.scope_box.setCurrentIndex(SCOPES.index(scope))

    # -- running -----------------------------------------------------------------------------
    def set_running(self, running: bool) -> None:
        """Lock the choices and enable Cancel while a run is in progress."""
        self.run_button.setEnabled(not running and self.model_box.count() > 0)
        self.cancel_button.setEnabled(running)
        for w in (self.model_box, self.task_list, self.scope_box):
            w.setEnabled(not running)
        if running:
            self.progress.setRange(0, 0)  # busy until the first report

    def show_progress(self, done: int, total: int, message: str) -> None:
        """Show ``done`` of ``total`` frames analysed."""
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.status.setText(f"{done} / {total} frames · {message}")

    def show_status(self, text: str, done: bool = False) -> None:
        """Show how a run ended; the bar is full when it completed."""
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if done else 0)
        self.status.setText(text)

    # -- handlers ----------------------------------------------------------------------------
    def _on_model_box_changed(self, index: int) -> None:
        if index >= 0:
            self.model_changed.emit(self.model_key)

    def _on_scope_changed(self, index: int) -> None:
        self.range_edit.setEnabled(SCOPES[index] == "Frame range")
