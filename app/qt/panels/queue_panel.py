""" "Correct these next" queue and mask propagation through the open cine.

* **Rank frames** runs a model version's segmentation over the cine on the thread pool, scores
  each frame's uncertainty (entropy of the softmax) and diversity (k-center over encoder
  features, frames already corrected count as covered) with ``training.active``, and lists the
  frames most worth correcting. Double-clicking an item (or Enter) jumps to that frame.
* **Propagate** carries the human-final masks, boxes and landmarks of the corrected frames
  (keyframes) to the other frames of the span the current frame affects (up to the next
  keyframe on each side), with ``engine.tasks.propagate``. The result lands as pending AI
  drafts in one undoable step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
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

from app.model import loop
from app.model.annotations import MaskMeta, Review
from app.model.commands import mask_diff
from app.model.history import Composite
from app.qt.workers import Worker, start_tracked
from engine.provenance import Origin

if TYPE_CHECKING:
    from app.model.document import Document

DRAFT = MaskMeta(Origin.AI_DRAFT, None, Review.PENDING)


def keyframes(doc: Document) -> dict[int, np.ndarray]:
    """Frames whose mask a person drew or accepted: ``{frame: plane}``."""
    return {
        f: plane.copy()
        for f, plane in doc.masks.items()
        if doc.mask_meta.get(f, MaskMeta()).origin == Origin.HUMAN_FINAL and plane.any()
    }


def propagation_commands(doc: Document, planes: dict[int, np.ndarray]) -> list[Any]:
    """Commands writing propagated planes as pending drafts."""
    cmds = []
    for f, plane in sorted(planes.items()):
        before = doc.masks.get(f)
        before = np.zeros(doc.shape, np.uint8) if before is None else before
        cmd = mask_diff(f, before, plane, doc.mask_meta.get(f), DRAFT, "propagate mask")
        if cmd is not None:
            cmds.append(cmd)
    return cmds


class QueuePanel(QWidget):
    """Rank frames to correct next and propagate corrections through the cine.

    Args:
        document: returns the open document (None when none is open).
        models: returns model refs with a segmentation head, the active one first.

    Signals:
        message(str): a one-line report for the status bar.
    """

    message = Signal(str)

    def __init__(
        self,
        document: Callable[[], Document | None],
        models: Callable[[], list[str]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._document, self._models = document, models
        self.workers: set[Worker] = set()
        self.items: list[Any] = []
        self.model = QComboBox(editable=True)
        self.budget = QSpinBox()
        self.budget.setRange(1, 500)
        self.budget.setValue(10)
        self.rank_button = QPushButton("Rank frames")
        self.propagate_button = QPushButton("Propagate from this frame")
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
        layout.addWidget(self.propagate_button)
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
        frames = list(range(doc.n_frames))
        images = [doc.frame_image(i) for i in frames]
        done = sorted(keyframes(doc))
        budget = self.budget.value()

        def work(progress: Any = None, cancel: Any = None) -> list[Any]:
            from training.active import queue, softmax_entropy

            seg = loop.segment_frames(ref, images, frames, cancel)
            u = softmax_entropy(np.stack(seg.probs))
            return queue(frames, u, seg.features, budget, labelled=done)

        self.message.emit(f"ranking {len(frames)} frames with {ref}…")
        self._run(work, self._show_queue)

    def _show_queue(self, items: list[Any]) -> None:
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
        """Carry the corrected masks, boxes and landmarks over the span the current frame affects."""
        doc = self._document()
        if doc is None:
            return
        here, n = doc.view.frame_index, doc.n_frames
        keys = keyframes(doc)
        tracks = loop.track_keyframes(doc, here)
        if here not in keys and not tracks:
            self.message.emit(
                "correct (or accept) this frame's mask, boxes or landmarks first; it becomes the keyframe"
            )
            return
        spans = [
            loop.track_span(k, here, n) for k in ([keys] if here in keys else []) + list(tracks.values())
        ]
        first, last = min(a for a, _ in spans), max(b for _, b in spans)
        images = [doc.frame_image(i) for i in range(first, last + 1)]

        def work(progress: Any = None, cancel: Any = None) -> tuple[Document, dict, dict]:
            from engine.tasks.propagate import affected_span, propagate_masks

            masks: dict[int, np.ndarray] = {}
            if here in keys:
                lo, hi = affected_span(here, sorted(keys), n)
                a, b = loop.track_span(keys, here, n)
                near = {f - a: p for f, p in keys.items() if a <= f <= b}
                out = propagate_masks(images[a - first : b - first + 1], near, span=(lo - a, hi - a))
                masks = {f + a: p for f, p in out.items()}
            return doc, masks, loop.propagate_tracks(images, first, tracks, here)

        self.message.emit(f"propagating frames {first + 1}-{last + 1} …")
        self._run(work, self._apply_propagation)

    def _apply_propagation(self, result: tuple[Document, dict, dict]) -> None:
        doc, planes, tracks = result
        if doc is not self._document():
            return  # another study was opened meanwhile
        cmds = propagation_commands(doc, planes) + loop.track_commands(doc, tracks)
        if cmds:
            doc.apply(Composite(f"propagate to {len(planes)} masks and {len(tracks)} tracks", cmds))
        self.message.emit(f"propagated to {len(planes)} frames and {len(tracks)} tracks (drafts to review)")

    def _run(self, fn: Callable[..., Any], done: Callable[[Any], None]) -> None:
        start_tracked(self.workers, fn, done, self.message.emit)

    def busy(self) -> bool:
        """Ranking or propagation is still running."""
        return bool(self.workers)
