"""Training panel: choose model, heads, mode and data; run fine-tuning in its own process.

The run is a separate Python process (``app.model.adaptation.runs.start_run``), so the window stays
responsive and survives the run failing or being killed. A timer reads the run's progress
files: the loss per step and the per-epoch figures are drawn with pyqtgraph, and the status
line shows the step, the ETA and, at the end, the new version and its test metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.model.adaptation.runs import HEADS, MODES, TrainChoice, human_final_frames, start_run

if TYPE_CHECKING:
    from engine.project.store import ProjectStore
    from training.api import TrainingRun

POLL_MS = 200
VARIANTS = ("echocare_test", "echocare_small", "echocare_lite", "echocare_swin_b")
ENDED = {"finished", "early_stopped"}


def _checked(widget: QListWidget) -> tuple[int, ...]:
    return tuple(
        int(widget.item(i).data(Qt.ItemDataRole.UserRole))
        for i in range(widget.count())
        if widget.item(i).checkState() == Qt.CheckState.Checked
    )


def _fill(widget: QListWidget, rows: list[tuple[int, str, bool]]) -> None:
    """Checkable rows (key, text, checked by default).

    A row seen before keeps the state the user gave it, unless its default changed (e.g. a
    study got its first corrections).
    """
    role, default_role = Qt.ItemDataRole.UserRole, Qt.ItemDataRole.UserRole + 1
    before = {
        int(widget.item(i).data(role)): (widget.item(i).checkState(), widget.item(i).data(default_role))
        for i in range(widget.count())
    }
    widget.clear()
    for key, text, on in rows:
        item = QListWidgetItem(text)
        item.setData(role, key)
        item.setData(default_role, on)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        state, was_on = before.get(key, (None, None))
        keep = state is not None and was_on == on
        item.setCheckState(state if keep else (Qt.CheckState.Checked if on else Qt.CheckState.Unchecked))
        widget.addItem(item)


def eta_text(seconds: float | None) -> str:
    """``"ETA 1:05"`` or ``""`` when unknown."""
    if seconds is None:
        return ""
    m, s = divmod(round(seconds), 60)
    return f"ETA {m}:{s:02d}"


class TrainingPanel(QWidget):
    """Set up, start, watch, cancel and resume a fine-tuning run.

    Args:
        store: returns the open project (the window may switch projects).
        models: returns the store's model names to offer as starting points.

    Signals:
        version_registered(str): a run stored a new version ``NAME@VERSION``.
        run_ended(str): a run ended with this status.
    """

    version_registered = Signal(str)
    run_ended = Signal(str)

    def __init__(
        self,
        store: Callable[[], ProjectStore],
        models: Callable[[], list[str]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._store, self._models = store, models
        self.run: TrainingRun | None = None
        self.last_config: dict[str, Any] | None = None
        self.model = QComboBox(editable=True)
        self.name = QComboBox(editable=True)
        self.heads = {h: QCheckBox(h) for h in HEADS}
        self.mode = QComboBox()
        self.activate = QComboBox()
        self.epochs, self.size, self.batch = QSpinBox(), QSpinBox(), QSpinBox()
        self.test_share, self.val_share = QSpinBox(), QSpinBox()
        self.studies, self.labels = QListWidget(), QListWidget()
        self.start_button, self.cancel_button = QPushButton("Start"), QPushButton("Cancel")
        self.resume_button, self.refresh_button = QPushButton("Resume"), QPushButton("Refresh")
        self.status, self.eta = QLabel("no run"), QLabel("")
        self.plot = pg.PlotWidget()
        self.loss_curve = self.plot.plot([], [], pen=pg.mkPen("#4fc3f7", width=1), name="loss")
        self.epoch_curve = self.plot.plot([], [], pen=None, symbol="o", symbolSize=6, name="epoch")
        self.timer = QTimer(self)
        self._build()
        self._wire()
        self.refresh()

    def _build(self) -> None:
        for key, text in MODES.items():
            self.mode.addItem(text, key)
        for policy in ("if_better", "always", "never"):
            self.activate.addItem(policy)
        self.heads["segmentation"].setChecked(True)
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(3)
        self.size.setRange(32, 1024)
        self.size.setSingleStep(32)
        self.size.setValue(256)
        self.batch.setRange(1, 256)
        self.batch.setValue(4)
        for spin, value in ((self.test_share, 30), (self.val_share, 20)):
            spin.setRange(0, 90)
            spin.setSuffix(" %")
            spin.setValue(value)
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss / metric")
        self.plot.setMinimumHeight(140)
        heads = QHBoxLayout()
        for box in self.heads.values():
            heads.addWidget(box)
        form = QFormLayout()
        form.addRow("Start from", self.model)
        form.addRow("Save as", self.name)
        form.addRow("Heads", heads)
        form.addRow("Mode", self.mode)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch", self.batch)
        form.addRow("Input size (new model)", self.size)
        form.addRow("Test studies", self.test_share)
        form.addRow("Validation studies", self.val_share)
        form.addRow("Activate", self.activate)
        form.addRow("Studies", self.studies)
        form.addRow("Labels", self.labels)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.cancel_button, self.resume_button, self.refresh_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.eta)
        layout.addWidget(self.plot, 1)
        self._set_running(False)

    def _wire(self) -> None:
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button.clicked.connect(self.resume)
        self.refresh_button.clicked.connect(self.refresh)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

    # -- data --------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the project's studies, labels and the store's models."""
        store = self._store()
        counts = human_final_frames(store)
        _fill(
            self.studies,
            [
                (s.id, f"{s.rel_path} ({counts.get(s.id, 0)} corrected)", counts.get(s.id, 0) > 0)
                for s in store.studies()
            ],
        )
        _fill(self.labels, [(lab.id, lab.name, True) for lab in store.labels()])
        current = self.model.currentText()
        self.model.clear()
        self.model.addItems([*self._models(), *VARIANTS])
        if current:
            self.model.setCurrentText(current)
        name = self.name.currentText()
        self.name.clear()
        self.name.addItems(self._models())
        self.name.setCurrentText(name)

    def showEvent(self, event: QShowEvent) -> None:
        """Re-read the project when the panel comes into view (the window may have switched it)."""
        if self.run is None or not self.run.alive:
            self.refresh()
        super().showEvent(event)

    def choice(self) -> TrainChoice:
        """The run the widgets describe."""
        size = self.size.value()
        return TrainChoice(
            model=self.model.currentText().strip(),
            name=self.name.currentText().strip(),
            heads=tuple(h for h, box in self.heads.items() if box.isChecked()),
            mode=str(self.mode.currentData()),
            study_ids=_checked(self.studies),
            label_ids=_checked(self.labels),
            epochs=self.epochs.value(),
            batch_size=self.batch.value(),
            input_size=(size, size),
            test_share=self.test_share.value() / 100,
            val_share=self.val_share.value() / 100,
            activate=self.activate.currentText(),
        )

    # -- the run -----------------------------------------------------------------------------
    def start(self) -> None:
        """Snapshot the chosen data and start a fresh run in its own process."""
        if self.run is not None and self.run.alive:
            return
        choice = self.choice()
        if not choice.model or not choice.heads or not choice.study_ids:
            self.status.setText("choose a starting model, at least one head and one study")
            return
        self._clear_plot()
        self.last_config, self.run = start_run(self._store(), choice)
        self.status.setText(f"starting in {self.run.run_dir.name} (process {self.run.process.pid})")
        self._set_running(True)

    def cancel(self) -> None:
        """Ask the run to stop; it checkpoints and stores no version."""
        if self.run is not None and self.run.alive:
            self.run.cancel()
            self.status.setText("cancelling…")

    def resume(self) -> None:
        """Continue a cancelled, interrupted or killed run from its newest checkpoint."""
        if self.run is None or self.run.alive or self.run.status in ENDED:
            return
        self.run = self.run.resume()
        self.status.setText(f"resuming {self.run.run_dir.name}")
        self._set_running(True)

    def poll(self) -> None:
        """Read the run's progress and redraw; called by the timer."""
        run = self.run
        if run is None:
            return
        events = run.poll()
        if run.losses:
            steps, losses = zip(*run.losses, strict=True)
            self.loss_curve.setData(list(steps), list(losses))
        if run.epochs:
            key = next((k for k in run.epochs[-1] if k.startswith("val_") and k != "val_loss"), "train_loss")
            points = [(e["step"], e[key]) for e in run.epochs if key in e]
            self.epoch_curve.setData([p[0] for p in points], [p[1] for p in points])
            self.plot.setTitle(f"loss per step; {key} per epoch")
        if run.status == "running":
            if run.total:
                self.status.setText(f"step {run.done}/{run.total}")
            self.eta.setText(eta_text(run.eta_seconds()))
            return
        if events or self.timer.isActive():
            self._ended(run)

    def _ended(self, run: TrainingRun) -> None:
        self._set_running(False)
        self.eta.setText("")
        summary = run.summary or {}
        version = summary.get("version")
        if run.status in ENDED and version:
            metrics = ", ".join(f"{k} {v:.3f}" for k, v in sorted(summary.get("test", {}).items()))
            active = "active" if summary.get("activated") else "not activated"
            self.status.setText(f"{version} stored ({active}): {metrics}")
            self.version_registered.emit(str(version))
        elif run.status in ("cancelled", "interrupted", "killed"):
            reason = run.error or f"run {run.status}"
            self.status.setText(f"{reason}; no version stored. Resume continues from the last checkpoint.")
        else:
            self.status.setText(f"run {run.status}: {run.error or 'no version stored'}")
        self.run_ended.emit(run.status)

    def _set_running(self, running: bool) -> None:
        if running:
            self.timer.start()
        else:
            self.timer.stop()
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        can_resume = not running and self.run is not None and self.run.status not in ENDED | {"failed"}
        self.resume_button.setEnabled(can_resume)

    def _clear_plot(self) -> None:
        self.loss_curve.setData([], [])
        self.epoch_curve.setData([], [])
        self.plot.setTitle("")
