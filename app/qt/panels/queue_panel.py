""" "Correct these next" queue and mask propagation through the open cine.

* **Rank frames** runs a model version's segmentation over the open cine on the thread pool and
  lists the frames most worth correcting (``app.model.adaptation.ranking``: uncertainty of the
  softmax, and diversity over encoder features, frames already corrected counting as covered).
  Double-clicking an item (or Enter) jumps to that frame.
* **Propagate** carries the human-final masks, boxes and landmarks of the corrected frames
  (keyframes) to the other frames of the span the current frame affects (up to the next
  keyframe on each side; ``app.model.adaptation.propagation``). The result lands as pending AI
  drafts in one undoable step.
* **Propagate with the prompt head** (the method list) carries the active label's mask of the
  current frame to the frames up to the next keyframe on each side with the Model panel's
  model (``app.model.smart``): each frame is prompted with the previous frame's mask and a click
  at its centre. The masks land as pending AI drafts in one undoable step, and the frames whose
  predicted quality is low (below 0.8, or more than 0.1 under the frame propagated from) fill
  the queue for review.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.model.adaptation.propagation import (
    Propagated,
    mask_keyframes,
    plan_propagation,
    propagate,
    propagation_step,
)
from app.model.smart import MAX_DROP, MIN_QUALITY, Propagation, SmartModel, low_quality, propagation_drafts
from app.qt.workers import Worker, start_tracked
from engine.errors import EchoCareError
from engine.progress import NEVER, CancelToken

if TYPE_CHECKING:
    from app.model.document import Document
    from training.api import QueueItem

METHODS = (("flow", "Optical flow"), ("prompt", "Prompt head (Model panel's model)"))


def _no_prompt_model() -> SmartModel:
    raise EchoCareError(None, "no model with a prompt head is available")


class QueuePanel(QWidget):
    """Rank frames to correct next and propagate corrections through the cine.

    Args:
        document: returns the open document (None when none is open).
        models: returns model refs with a segmentation head, the active one first.
        prompt_model: returns the prompt model of the open study (the Smart tool's); raises
            an EchoCareError with one line when there is none.

    Signals:
        message(str): a one-line report for the status bar.
    """

    message = Signal(str)

    def __init__(
        self,
        document: Callable[[], Document | None],
        models: Callable[[], list[str]],
        prompt_model: Callable[[], SmartModel] = _no_prompt_model,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._document, self._models, self._prompt_model = document, models, prompt_model
        self.workers: set[Worker] = set()
        self.items: list[QueueItem] = []
        self.model = QComboBox(editable=True)
        self.budget = QSpinBox()
        self.budget.setRange(1, 500)
        self.budget.setValue(10)
        self.rank_button = QPushButton("Rank frames")
        self.propagate_button = QPushButton("Propagate from this frame")
        self.method = QComboBox()
        for key, text in METHODS:
            self.method.addItem(text, key)
        self.method.setToolTip(
            "Optical flow carries every corrected mask, box and landmark; the prompt head carries "
            "the active label's mask and flags the frames whose predicted quality dropped"
        )
        self.list = QListWidget()
        self.status = QLabel("")
        top = QHBoxLayout()
        top.addWidget(self.model, 1)
        top.addWidget(self.budget)
        top.addWidget(self.rank_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(QLabel("Correct these next"))
        layout.addWidget(self.list, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.method, 1)
        bottom.addWidget(self.propagate_button)
        layout.addLayout(bottom)
        layout.addWidget(self.status)
        self.rank_button.clicked.connect(self.rank)
        self.propagate_button.clicked.connect(self.propagate)
        self.list.itemActivated.connect(self._jump)
        self.list.itemDoubleClicked.connect(self._jump)
        self.message.connect(self.status.setText)
        self.refresh_models()

    def refresh_models(self) -> None:
        """Offer the store's versions (the active one of each model first)."""
        current = self.model.currentText()
        self.model.clear()
        self.model.addItems(self._models())
        if current:
            self.model.setCurrentText(current)

    # -- ranking -----------------------------------------------------------------------------
    def rank(self) -> None:
        """Score every frame of the open cine with the chosen version and fill the queue."""
        doc, ref = self._document(), self.model.currentText().strip()
        if doc is None or not ref:
            self.message.emit("open a study and choose a model version to rank its frames")
            return
        corrected = sorted(mask_keyframes(doc))
        budget = self.budget.value()

        def work(cancel: CancelToken = NEVER, **_: Any) -> tuple[Document, list[QueueItem]]:
            from app.model.adaptation.ranking import rank_frames

            return doc, rank_frames(ref, doc.cine, budget, corrected, cancel)

        self.message.emit(f"ranking {doc.n_frames} frames with {ref}…")
        self._run(work, self._show_queue)

    def _show_queue(self, result: tuple[Document, list[QueueItem]]) -> None:
        doc, items = result
        if doc is not self._document():
            return  # another study was opened meanwhile
        self.items = items
        self.list.clear()
        for it in items:
            row = QListWidgetItem(f"frame {it.key + 1}: {it.reason} (uncertainty {it.uncertainty:.2f})")
            row.setData(Qt.ItemDataRole.UserRole, int(it.key))
            self.list.addItem(row)
        self.message.emit(f"{len(items)} frames to correct next")

    def _jump(self, item: QListWidgetItem) -> None:
        doc = self._document()
        if doc is not None:
            doc.set_frame(int(item.data(Qt.ItemDataRole.UserRole)))

    # -- propagation -------------------------------------------------------------------------
    def propagate(self) -> None:
        """Carry the corrected masks, boxes and landmarks over the span the current frame affects
        (optical flow), or the active label's mask with the prompt head (the method list)."""
        doc = self._document()
        if doc is None:
            return
        if self.method.currentData() == "prompt":
            self._propagate_with_prompts(doc)
            return
        plan = plan_propagation(doc, doc.view.frame_index)
        if plan is None:
            self.message.emit(
                "correct (or accept) this frame's mask, boxes or landmarks first; it becomes the keyframe"
            )
            return
        images = [doc.frame_image(i) for i in plan.frames]

        def work(**_: Any) -> tuple[Document, Propagated]:
            return doc, propagate(plan, images)

        self.message.emit(f"propagating frames {plan.first + 1}-{plan.last + 1} …")
        self._run(work, self._apply_propagation)

    def _apply_propagation(self, result: tuple[Document, Propagated]) -> None:
        doc, done = result
        if doc is not self._document():
            return  # another study was opened meanwhile
        step = propagation_step(doc, done)
        if step is not None:
            doc.apply(step)
        self.message.emit(
            f"propagated to {len(done.masks)} frames and {len(done.tracks)} tracks (drafts to review)"
        )

    def _propagate_with_prompts(self, doc: Document) -> None:
        here, label = doc.view.frame_index, doc.view.active_label
        mask = doc.mask(here) == label
        if not mask.any():
            name = doc.labels.get(label).name
            self.message.emit(f"draw or keep a {name} mask on this frame first; the prompt head carries it")
            return
        try:
            model = self._prompt_model()
        except EchoCareError as err:
            self.message.emit(err.one_line())
            return
        keys = [k for k in mask_keyframes(doc) if k != here]
        first = max([k + 1 for k in keys if k < here], default=0)
        last = min([k - 1 for k in keys if k > here], default=doc.n_frames - 1)

        def work(cancel: CancelToken = NEVER, **_: Any) -> tuple[Document, int, Propagation]:
            return doc, label, model.propagate(here, mask, first, last, stop=lambda: cancel.cancelled)

        self.message.emit(f"propagating frames {first + 1}-{last + 1} with the prompt head …")
        self._run(work, self._apply_prompt_propagation)

    def _apply_prompt_propagation(self, result: tuple[Document, int, Propagation]) -> None:
        doc, label, done = result
        if doc is not self._document():
            return  # another study was opened meanwhile
        step = propagation_drafts(doc, done, label)
        if step is not None:
            doc.apply(step)
        flagged = low_quality(done)
        self.items = []
        self.list.clear()
        for frame, reason in flagged:
            row = QListWidgetItem(f"frame {frame + 1}: {reason}")
            row.setData(Qt.ItemDataRole.UserRole, frame)
            self.list.addItem(row)
        self.message.emit(
            f"propagated with {done.model.label()} to {len(done.frames)} frames (drafts to review); "
            f"{len(flagged)} with quality below {MIN_QUALITY:g} or {MAX_DROP:g} under frame {done.start + 1} "
            "listed to check first"
        )

    def _run(self, fn: Callable[..., Any], done: Callable[[Any], None]) -> None:
        start_tracked(self.workers, fn, done, self.message.emit)

    def busy(self) -> bool:
        """Ranking or propagation is still running."""
        return bool(self.workers)
