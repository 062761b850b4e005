"""InferencePanel: pick a model version and tasks, the frames to analyse, run and cancel.

The panel only collects the choice and shows progress; ``InferenceController`` runs the work
in the background and applies the results. The model's training-data statement is shown
under the model list, in orange when the model is not for clinical use.

The study's exam is shown above the tasks ("Exam: cardiac / left ventricle / apical (model,
0.97)") with a list to override it. Tasks run "Automatic (by exam)" by default: only what
applies to the exam runs, and a line under the task list names each task skipped and why;
"Chosen tasks" runs the ticked tasks. When the exam is unknown one line says so and offers
what needs no recognition: the enhanced view and the manual tools.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
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

from app.model.exam import AUTOMATIC, exam_choices, pretty
from app.model.model_run import AUTO, ModelChoice
from engine.frames import HELP as FRAMES_HELP
from engine.frames import parse_frames

SCOPES = ("Current frame", "Frame range", "Whole cine")
MODES = ((AUTO, "Automatic (by exam)"), ("chosen", "Chosen tasks"))
WARN_STYLE = "color: #ff9f1a; font-weight: bold"
SKIPPED_COLOR = QColor(140, 140, 140)


class InferencePanel(QWidget):
    """``model_changed(key)``, ``run_requested()``, ``cancel_requested()`` and
    ``exam_chosen(choice)`` (a leaf, "unknown" or "automatic") go to the controller;
    ``enhance_requested()`` and ``manual_requested()`` (offered for an unknown exam) go to the
    window."""

    model_changed = Signal(str)
    run_requested = Signal()
    cancel_requested = Signal()
    exam_chosen = Signal(str)
    enhance_requested = Signal()
    manual_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_box = QComboBox()
        self.notice = QLabel("No model in the model store")
        self.notice.setWordWrap(True)
        self.notice.setObjectName("model_notice")
        self.exam_label = QLabel("Exam: automatic (recognised when the model runs)")
        self.exam_label.setObjectName("exam_line")
        self.exam_label.setWordWrap(True)
        self.exam_box = QComboBox()
        self.exam_box.setToolTip("Override the exam the model recognises (undoable, saved with the study)")
        self.unknown_label = QLabel("")
        self.unknown_label.setObjectName("exam_unknown")
        self.unknown_label.setWordWrap(True)
        self.unknown_label.setStyleSheet(WARN_STYLE)
        self.enhance_button = QPushButton("Enhanced view")
        self.manual_button = QPushButton("Annotate by hand")
        self.unknown_box = QWidget()
        self.mode_box = QComboBox()
        for mode, text in MODES:
            self.mode_box.addItem(text, mode)
        self.task_list = QListWidget()
        self.task_list.setMaximumHeight(150)
        self.routing_label = QLabel("")
        self.routing_label.setObjectName("routing")
        self.routing_label.setWordWrap(True)
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
        self.mode_box.currentIndexChanged.connect(self._on_mode_changed)
        self.exam_box.currentIndexChanged.connect(self._on_exam_activated)
        self.run_button.clicked.connect(self.run_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.enhance_button.clicked.connect(self.enhance_requested)
        self.manual_button.clicked.connect(self.manual_requested)
        self._on_scope_changed(0)
        self._on_mode_changed(0)
        self.set_exam_choices(())

    def _layout(self) -> None:
        unknown = QVBoxLayout(self.unknown_box)
        unknown.setContentsMargins(0, 0, 0, 0)
        unknown.addWidget(self.unknown_label)
        offer = QHBoxLayout()
        offer.addWidget(self.enhance_button)
        offer.addWidget(self.manual_button)
        unknown.addLayout(offer)
        self.unknown_box.setVisible(False)
        form = QFormLayout()
        form.addRow("Model", self.model_box)
        form.addRow(self.notice)
        form.addRow(self.exam_label)
        form.addRow("Set exam", self.exam_box)
        form.addRow(self.unknown_box)
        form.addRow("Run", self.mode_box)
        form.addRow("Tasks", self.task_list)
        form.addRow(self.routing_label)
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

    def set_exam_choices(self, labels: Sequence[str], current: str | None = None) -> None:
        """Offer automatic, the model's exam leaves and unknown; ``current`` (None: automatic)
        is selected, listed even when the model's tree lacks it."""
        self.exam_box.blockSignals(True)
        self.exam_box.clear()
        for value, text in exam_choices(labels):
            self.exam_box.addItem(text, value)
        if current is not None and self.exam_box.findData(current) < 0:
            self.exam_box.addItem(f"{pretty(current)} (not in this model's exams)", current)
        self.exam_box.setCurrentIndex(max(0, self.exam_box.findData(current or AUTOMATIC)))
        self.exam_box.setEnabled(bool(labels))
        self.exam_box.blockSignals(False)

    def show_exam(self, line: str, unknown: str = "") -> None:
        """Show the exam line and, when the exam is unknown, the one line saying so."""
        self.exam_label.setText(line)
        self.unknown_label.setText(
            f"{unknown}. Enhancement and the manual tools need no recognition." if unknown else ""
        )
        self.unknown_box.setVisible(bool(unknown))

    def show_skipped(self, skipped: dict[str, str], ran: Sequence[str] = ()) -> None:
        """Grey the tasks the exam routing skips (their reason as tooltip) and list them under
        the tasks; empty ``skipped`` and ``ran`` clear the line."""
        for i in range(self.task_list.count()):
            item = self.task_list.item(i)
            reason = skipped.get(item.text(), "")
            font = item.font()
            font.setStrikeOut(bool(reason))
            item.setFont(font)
            item.setForeground(QBrush(SKIPPED_COLOR) if reason else QBrush())
            item.setToolTip(f"skipped: {reason}" if reason else "")
        lines = [f"Ran: {', '.join(ran)}"] if ran else []
        by_reason: dict[str, list[str]] = {}
        for task, reason in skipped.items():
            by_reason.setdefault(reason, []).append(task)
        lines += [f"Skipped {', '.join(tasks)}: {reason}" for reason, tasks in by_reason.items()]
        self.routing_label.setText("\n".join(lines))

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

    @property
    def mode(self) -> str:
        """``"auto"`` (what applies to the exam) or ``"chosen"`` (the ticked tasks)."""
        return str(self.mode_box.currentData())

    def set_mode(self, mode: str) -> None:
        """Run ``"auto"`` or the ``"chosen"`` tasks."""
        self.mode_box.setCurrentIndex(self.mode_box.findData(mode))

    def requested_tasks(self) -> list[str]:
        """What Run asks for: ``["auto"]``, or the ticked tasks."""
        return [AUTO] if self.mode == AUTO else self.checked_tasks()

    def checked_tasks(self) -> list[str]:
        """The ticked task names, in the list's order."""
        items = (self.task_list.item(i) for i in range(self.task_list.count()))
        return [it.text() for it in items if it.checkState() == Qt.CheckState.Checked]

    def set_checked(self, names: Sequence[str]) -> None:
        """Run the chosen tasks: tick exactly the usable tasks in ``names``."""
        self.set_mode("chosen")
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
        for w in (self.model_box, self.mode_box, self.scope_box):
            w.setEnabled(not running)
        self.task_list.setEnabled(not running and self.mode != AUTO)
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

    def _on_mode_changed(self, _index: int) -> None:
        self.task_list.setEnabled(self.mode != AUTO)
        self.task_list.setToolTip(
            "Automatic: the tasks that apply to the exam run" if self.mode == AUTO else "The ticked tasks run"
        )

    def _on_exam_activated(self, index: int) -> None:
        if index >= 0:
            self.exam_chosen.emit(str(self.exam_box.itemData(index)))
