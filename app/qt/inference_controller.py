"""InferenceController: runs the chosen model on the open study in the background.

The work (loading the model, decoding frames, the engine's tasks) runs on the thread pool in a
``Worker``, on the cine the document holds open: the file is not opened again, and frames the
viewer already decoded are not decoded again. Progress and the result come back on the GUI
thread, where the result is applied to the document as one undoable step of AI drafts carrying
the model version. The window stays responsive throughout, and a cancelled or failed run, or
one whose study was closed meanwhile, changes nothing.

A run on "Automatic (by exam)" passes the exam a person set for the study (if any) and runs
what applies to it; the panel shows the exam, the tasks the routing skips and why, and, when
the exam is unknown, says so. Choosing another exam in the panel is one undoable command.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtWidgets import QMessageBox

from app.model.document import Document
from app.model.exam import PutFoundExam, exam_labels, exam_line, set_exam, unknown_line, user_exam
from app.model.inference import prediction_command
from app.model.model_run import (
    AUTO,
    ModelChoice,
    ModelRunner,
    RunRequest,
    available_models,
    not_clinical,
    statement,
)
from app.model.scores import CardThresholds
from app.qt.panels.inference_panel import InferencePanel
from app.qt.workers import Worker
from engine.errors import EchoCareError
from engine.exams import EXAM_TASK, route
from engine.heads.kinds.exam import UNKNOWN, ExamResult
from engine.progress import Progress
from engine.provenance import ModelRef


class InferenceController(QObject):
    """Binds the inference panel to a ``ModelRunner``.

    ``notice_changed(text, warn)`` carries the active model's training-data statement;
    ``message(text)`` and ``error(text)`` go to the status bar; ``finished()`` fires when a
    run ends, however it ended.

    A run reads the bound document's open cine: the study file is not opened again.

    Args:
        panel: the inference panel.
    """

    notice_changed = Signal(str, bool)
    message = Signal(str)
    error = Signal(str)
    finished = Signal()

    def __init__(
        self,
        panel: InferencePanel,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.panel = panel
        self.runner = ModelRunner()
        self.doc: Document | None = None
        self.worker: Worker | None = None
        self.choices: dict[str, ModelChoice] = {}
        self.crash_dialog: QMessageBox | None = None
        panel.model_changed.connect(self._on_model_changed)
        panel.run_requested.connect(self.run)
        panel.cancel_requested.connect(self.cancel)
        panel.exam_chosen.connect(self.choose_exam)
        panel.mode_box.currentIndexChanged.connect(lambda _i: self._show_exam())

    # -- models ------------------------------------------------------------------------------
    def refresh_models(self) -> None:
        """Read the model store again; the active version of the first model is selected."""
        try:
            found = available_models()
        except EchoCareError as err:
            found = []
            self.error.emit(err.one_line())
        self.choices = {c.key: c for c in found}
        self._share_thresholds()
        self.panel.set_models(found)
        if not found:
            self.panel.set_notice("No model in the model store: import or train one first", True)
            self.notice_changed.emit("no model loaded", False)
        self._fill_tasks()

    def _fill_tasks(self) -> None:
        choice = self.choices.get(self.panel.model_key)
        heads = [h.name for h in choice.card.model.heads] if choice else []
        self.panel.set_tasks(self.runner.task_names(), heads)
        self._show_exam()

    def _share_thresholds(self) -> None:
        """Give the document every stored model version's calibrated score thresholds."""
        if self.doc is not None:
            cards = {
                (c.card.name, c.card.version): CardThresholds.of(c.card.model) for c in self.choices.values()
            }
            self.doc.set_thresholds(cards)

    # -- the study's exam --------------------------------------------------------------------
    @property
    def choice(self) -> ModelChoice | None:
        """The selected model version."""
        return self.choices.get(self.panel.model_key)

    def choose_exam(self, choice: str) -> None:
        """Set the study's exam to ``choice`` (a leaf, "unknown" or "automatic"), one undoable step."""
        doc = self.doc
        if doc is not None:
            doc.apply(set_exam(doc, choice))

    def _effective_exam(self) -> ExamResult | None:
        """The exam the next automatic run follows when it is already known: the one a person
        set, else the one the last run recognised (with this model's exam tree)."""
        doc, choice = self.doc, self.choice
        labels = exam_labels(choice.card.model) if choice else ()
        if doc is None or choice is None or not labels:
            return None
        ref = ModelRef(choice.card.name, choice.card.version, choice.card.weights_sha256)
        if doc.exam_override is not None:
            return user_exam(labels, doc.exam_override, ref)
        found = doc.found_exam
        if found is None or found.source != "model" or (found.leaf not in labels and not found.unknown):
            return None
        probs = np.zeros(len(labels), np.float32)
        if not found.unknown:
            probs[labels.index(found.leaf)] = 1.0
        return ExamResult(labels, probs, float("nan"), found.unknown, found.reason, ref)

    def _show_exam(self) -> None:
        """The exam line, the override list and, on automatic, what the routing will skip."""
        doc, choice = self.doc, self.choice
        labels = exam_labels(choice.card.model) if choice else ()
        override = doc.exam_override if doc is not None else None
        self.panel.set_exam_choices(labels, override)
        if doc is None:
            self.panel.show_exam("Exam: open a study first")
        elif choice is not None and not labels:
            self.panel.show_exam(f"Exam: {choice.card.name} has no exam head (every task runs)")
        else:
            self.panel.show_exam(exam_line(doc.found_exam, override), unknown_line(doc.found_exam, override))
        exam = self._effective_exam() if self.panel.mode == AUTO else None
        if exam is None or choice is None:
            self.panel.show_skipped({})
            return
        available = [n for n in self.runner.task_names() if n in choice.card.model.heads_by_name]
        routing = route(choice.card.model, available, exam)
        self.panel.show_skipped(routing.skipped)

    def select_model(self, key: str) -> None:
        """Make ``key`` (``name@version``) the active model."""
        index = self.panel.model_box.findData(key)
        if index < 0:
            raise KeyError(key)
        self.panel.model_box.setCurrentIndex(index)

    def _on_model_changed(self, key: str) -> None:
        choice = self.choices.get(key)
        if choice is None:
            return
        text, warn = statement(choice.card), not_clinical(choice.card)
        self.panel.set_notice(text, warn)
        self.notice_changed.emit(text, warn)
        self._fill_tasks()

    # -- running -----------------------------------------------------------------------------
    def bind(self, doc: Document) -> None:
        """Run on ``doc`` from now on."""
        if self.doc is not None:
            self.doc.exam_changed.disconnect(self._show_exam)
        self.doc = doc
        doc.exam_changed.connect(self._show_exam)
        self._share_thresholds()
        self.panel.set_frame_count(doc.n_frames, doc.view.frame_index)
        self._show_exam()

    def unbind(self) -> None:
        """Follow no study (the window shows none)."""
        if self.doc is not None:
            self.doc.exam_changed.disconnect(self._show_exam)
        self.doc = None
        self._show_exam()

    @property
    def running(self) -> bool:
        """A run is in progress."""
        return self.worker is not None

    def run(self) -> bool:
        """Start a run of the panel's choice on the open study; False when it cannot start."""
        doc = self.doc
        if self.running or doc is None:
            return False
        tasks = tuple(self.panel.requested_tasks())
        if not self.panel.model_key or not tasks:
            self.error.emit("pick a model and at least one task first")
            return False
        try:
            frames = self.panel.frames(doc.n_frames, doc.view.frame_index)
        except EchoCareError as err:
            self.error.emit(err.one_line())
            return False
        exam = doc.exam_override if tasks == (AUTO,) else None
        request = RunRequest(self.panel.model_key, tasks, frames, doc.cine, exam)
        worker = Worker(partial(self.runner.run, request))
        worker.signals.progressed.connect(self._on_progressed)
        worker.signals.returned.connect(partial(self._on_returned, doc, request))
        worker.signals.errored.connect(partial(self._on_run_errored, doc))
        worker.signals.crashed.connect(self._on_crashed)
        worker.signals.cancelled.connect(self._on_cancelled)
        worker.signals.finished.connect(self._on_finished)
        self.worker = worker
        self.panel.set_running(True)
        self.panel.status.setText(f"loading {request.model} …")
        worker.start()
        return True

    def cancel(self) -> None:
        """Ask the run to stop at its next check; nothing is applied."""
        if self.worker is not None:
            self.worker.cancel()
            self.panel.status.setText("cancelling …")

    def shutdown(self, timeout_ms: int = 60_000) -> None:
        """Cancel a run in progress and wait for its thread to stop (the window is closing)."""
        worker = self.worker
        if worker is not None:
            worker.cancel()
            QThreadPool.globalInstance().waitForDone(timeout_ms)
            self.doc = None  # a result still queued for delivery is dropped, not applied
            self._on_finished()

    def _on_progressed(self, p: Progress) -> None:
        self.panel.show_progress(p.done, p.total, p.message)

    def _on_returned(self, doc: Document, request: RunRequest, result: object) -> None:
        results = list(result.tasks.values())  # type: ignore[attr-defined]
        if doc is not self.doc:
            self.panel.show_status("the study changed during the run; its results were dropped")
            return
        try:
            cmd = prediction_command(doc, results)
        except (TypeError, ValueError) as err:
            self._on_errored(f"{request.model}: {err}")
            return
        doc.apply(cmd)
        ran = [name for name in result.tasks if name != EXAM_TASK]  # type: ignore[attr-defined]
        skipped: dict[str, str] = dict(getattr(result, "skipped", {}))
        drafts = sum(not isinstance(c, PutFoundExam) for c in cmd.commands)
        n = len(request.frames)
        text = f"{len(ran)} task(s) on {n} frame(s): {drafts} AI draft(s) from {request.model}"
        exam = getattr(result, "exam", None)
        if exam is not None and exam.unknown:
            text += f". {unknown_line(doc.found_exam, doc.exam_override or None) or exam.reason}"
        elif skipped:
            text += f"; {len(skipped)} task(s) skipped for the exam ({exam.label() if exam else UNKNOWN})"
        note = getattr(result, "note", "")
        if note and (exam is None or not exam.unknown):
            text += f". {note}"
        self.panel.show_skipped(skipped, ran)
        self.panel.show_status(text, done=True)
        self.message.emit(text)

    def _on_run_errored(self, doc: Document, text: str) -> None:
        if doc is not self.doc:  # the study (and its cine) was closed during the run
            self.panel.show_status("the study changed during the run; its results were dropped")
            return
        self._on_errored(text)

    def _on_errored(self, text: str) -> None:
        self.panel.show_status(f"failed: {text}")
        self.error.emit(text)

    def _on_crashed(self, details: str) -> None:
        """An unexpected failure: a one-line error plus a dialog holding the traceback."""
        last = (details.strip().splitlines() or ["unexpected error"])[-1]
        self._on_errored(f"the model run failed unexpectedly: {last}")
        box = QMessageBox(QMessageBox.Icon.Critical, "Model run failed", last, parent=self.panel.window())
        box.setDetailedText(details)
        self.crash_dialog = box
        box.open()

    def _on_cancelled(self) -> None:
        self.panel.show_status("cancelled; nothing was changed")
        self.message.emit("model run cancelled; nothing was changed")

    def _on_finished(self) -> None:
        self.worker = None
        self.panel.set_running(False)
        self.finished.emit()
