"""SmartController: the Smart tool's model, its embedding cache warmed in the background.

The Smart tool prompts the model chosen in the Model panel. When that model has no prompt head
the status bar says so in one line and the tool changes nothing. While the tool is active a
worker on a one-thread pool encodes frames outward from the shown one (i, i+1, i-1, …) and
follows the shown frame as the user scrubs; a prompt whose features are not ready (a frame not
warmed yet, or the zoomed crop the prompt head looks at once it has a box or a previous mask)
runs the encoder on the GUI thread under a busy cursor and still answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QThreadPool, Signal
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QApplication

from app.model.document import Document
from app.model.smart import Answer, Box, Point, SmartModel, no_prompt_head
from app.qt.inference_controller import InferenceController
from app.qt.tools.base import Tool
from app.qt.tools.smart_tool import SmartTool
from app.qt.workers import Worker
from engine.errors import EchoCareError, TaskError
from engine.progress import NEVER, CancelToken

NO_MODEL = "Smart tool: no model in the model store; it needs one with a prompt head"


class SmartController(QObject):
    """Prompts for the Smart tool and keeps its frames' features warm.

    ``message(text)`` and ``error(text)`` go to the status bar; ``warmed(frames)`` fires when a
    warm-up pass ends, with the number of frames it encoded.

    Args:
        inference: whose model choice the Smart tool follows.
    """

    message = Signal(str)
    error = Signal(str)
    warmed = Signal(int)

    def __init__(self, inference: InferenceController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.inference = inference
        self.doc: Document | None = None
        self.tool: SmartTool | None = None
        self.model: SmartModel | None = None
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.worker: Worker | None = None
        self._workers: set[Worker] = set()
        self._centre = 0
        inference.panel.model_changed.connect(self._on_model_changed)

    # -- binding -----------------------------------------------------------------------------
    def bind(self, doc: Document) -> None:
        """Prompt on ``doc``'s cine from now on."""
        self.unbind()
        self.doc = doc
        self._centre = doc.view.frame_index
        doc.view.changed.connect(self._on_view_changed)

    def unbind(self) -> None:
        """Follow no study; warming stops."""
        if self.doc is not None:
            self.doc.view.changed.disconnect(self._on_view_changed)
        self.doc = None
        self._drop_model()

    def set_tool(self, tool: Tool | None) -> None:
        """The window's active tool: warming runs while it is the Smart tool."""
        self.tool = tool if isinstance(tool, SmartTool) else None
        if self.tool is None:
            self._stop()
            return
        model = self._model()
        if model is not None:
            self.message.emit(
                f"Smart tool ({model.key}): left click the structure, right click what is not, "
                "drag a box; Enter keeps the mask, Esc drops it"
            )
            self._warm()

    def shutdown(self, timeout_ms: int = 60_000) -> None:
        """Stop warming and wait for its thread (the window is closing)."""
        self._stop()
        self.pool.waitForDone(timeout_ms)

    # -- the model ---------------------------------------------------------------------------
    def _model(self, say: bool = True) -> SmartModel | None:
        """The prompt model of the open cine and the Model panel's choice; None (said in one
        line when ``say``) when there is none."""
        doc, choice = self.doc, self.inference.choice
        if doc is None:
            return None
        problem = NO_MODEL if choice is None else no_prompt_head(choice.card)
        if problem is not None or choice is None:
            if say:
                self.message.emit(problem or NO_MODEL)
            return None
        if self.model is None or self.model.key != choice.key or self.model.cine is not doc.cine:
            self._drop_model()
            self.model = SmartModel(choice.key, doc.cine, self.inference.runner.device)
        return self.model

    def prompt_model(self) -> SmartModel:
        """The prompt model (for propagation with the prompt head).

        Raises:
            TaskError: no study, no model or a model without a prompt head (one line).
        """
        if self.doc is None:
            raise TaskError(None, "open a study first")
        choice = self.inference.choice
        problem = NO_MODEL if choice is None else no_prompt_head(choice.card)
        model = self._model(say=False)
        if model is None:
            raise TaskError(None, problem or NO_MODEL)
        return model

    def _drop_model(self) -> None:
        self._stop()
        self.model = None

    def _on_model_changed(self, _key: str) -> None:
        self._drop_model()
        if self.tool is not None:
            self.set_tool(self.tool)

    # -- prompting ---------------------------------------------------------------------------
    def prompt(
        self, frame: int, points: Sequence[Point], box: Box | None, previous: np.ndarray | None
    ) -> Answer | None:
        """The model's answer to a prompt on ``frame`` (the Smart tool's ``ToolContext.prompt``).

        Features not ready (a frame not warmed yet, or the zoomed crop of a refinement) are
        computed now, under a busy cursor. None when
        there is no prompt model or the prompt is refused (said in the status bar).
        """
        model = self._model()
        if model is None:
            return None
        self._centre = frame
        busy = model.needs_encoder(frame, points, box, previous)
        if busy:
            QApplication.setOverrideCursor(QCursor(Qt.CursorShape.WaitCursor))
        try:
            return model.segment(frame, points, box, previous)
        except EchoCareError as err:
            self.error.emit(err.one_line())
            return None
        finally:
            if busy:
                QApplication.restoreOverrideCursor()
            self._warm()

    # -- warming -----------------------------------------------------------------------------
    def _on_view_changed(self, name: str, value: Any) -> None:
        if name != "frame_index":
            return
        self._centre = int(value)
        if self.tool is not None:
            self.tool.frame_changed()
            self._warm()

    @property
    def warming(self) -> bool:
        """A warm-up pass is running."""
        return self.worker is not None

    def _warm(self) -> None:
        """Start a warm-up pass unless one runs (it follows the shown frame by itself)."""
        model = self.model
        if self.tool is None or model is None or self.worker is not None:
            return

        def work(cancel: CancelToken = NEVER, **_: Any) -> int:
            return model.warm(lambda: self._centre, stop=lambda: cancel.cancelled)

        worker = Worker(work)
        worker.signals.returned.connect(partial(self._on_returned, worker))
        worker.signals.errored.connect(self.error)
        worker.signals.crashed.connect(lambda text: self.error.emit(text.strip().splitlines()[-1]))
        worker.signals.finished.connect(partial(self._on_finished, worker))
        self.worker = worker
        self._workers.add(worker)
        worker.start(self.pool)

    def _on_returned(self, worker: Worker, done: int) -> None:
        self.warmed.emit(done)
        if worker is self.worker and self.model is not None and not self.model.is_ready(self._centre):
            self.worker = None  # the shown frame moved after the pass ended: warm again
            self._warm()

    def _on_finished(self, worker: Worker) -> None:
        self._workers.discard(worker)
        if worker is self.worker:
            self.worker = None

    def _stop(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.worker = None
