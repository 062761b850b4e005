"""Model versions panel: lineage and metrics, compare two versions, activate, roll back.

Compare shows two things side by side: the frame on screen with each version's segmentation
overlaid (a split view; "Flicker" alternates one view between them), and the two versions'
lineage and metrics on the frozen local test split, as stored and, when a training config is at
hand, scored again now on the current data. Model work runs on the thread pool.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.model.adaptation import versions
from app.qt.workers import Worker, start_tracked
from engine.progress import NEVER, CancelToken

if TYPE_CHECKING:
    from app.model.document import Document

COLUMNS = ("version", "parent", "active", "mode", "test", "gate", "created")
COLOURS = np.array([[0, 0, 0], [255, 80, 80], [80, 200, 255], [120, 255, 120], [255, 200, 60]], np.float32)


def blend(frame: np.ndarray, plane: np.ndarray | None, alpha: float = 0.45) -> np.ndarray:
    """The frame as RGB uint8 ``[H, W, 3]`` with a label plane's colours blended over it."""
    rgb = np.repeat(frame[..., None], 3, axis=2) if frame.ndim == 2 else frame[..., :3]
    rgb = rgb.astype(np.float32)
    if plane is not None:
        colour = COLOURS[np.minimum(plane, len(COLOURS) - 1)]
        on = (plane > 0)[..., None]
        rgb = np.where(on, (1 - alpha) * rgb + alpha * colour, rgb)
    return np.clip(rgb, 0, 255).astype(np.uint8)


class CompareView(QWidget):
    """Two versions' overlays on one frame, side by side, with an optional flicker."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frame: np.ndarray | None = None
        self.planes: dict[str, np.ndarray] = {}
        self.refs: tuple[str, str] = ("", "")
        self.graphics = pg.GraphicsLayoutWidget()
        self.titles = (QLabel("A"), QLabel("B"))
        self.images = (pg.ImageItem(axisOrder="row-major"), pg.ImageItem(axisOrder="row-major"))
        for col, item in enumerate(self.images):
            box = self.graphics.addViewBox(row=0, col=col, lockAspect=True, invertY=True)
            box.addItem(item)
        self.flicker = QCheckBox("Flicker")
        self.timer = QTimer(self)
        self.timer.setInterval(500)
        self._phase = 0
        titles = QHBoxLayout()
        for t in self.titles:
            titles.addWidget(t)
        titles.addWidget(self.flicker)
        layout = QVBoxLayout(self)
        layout.addLayout(titles)
        layout.addWidget(self.graphics, 1)
        self.flicker.toggled.connect(self._toggle_flicker)
        self.timer.timeout.connect(self._flip)

    def show_pair(self, frame: np.ndarray, refs: tuple[str, str], planes: dict[str, np.ndarray]) -> None:
        """Show ``frame`` with version ``refs[0]``'s plane on the left and ``refs[1]``'s on the right."""
        self.frame, self.refs, self.planes = frame, refs, planes
        for title, ref in zip(self.titles, refs, strict=True):
            title.setText(ref)
        self._draw()

    def shown(self, side: int) -> str:
        """The version whose overlay a side shows now (flicker swaps the left one)."""
        return self.refs[1 - side] if (side == 0 and self._phase) else self.refs[side]

    def _draw(self) -> None:
        if self.frame is None:
            return
        for side, item in enumerate(self.images):
            item.setImage(
                blend(self.frame, self.planes.get(self.shown(side))), autoLevels=False, levels=(0, 255)
            )

    def _toggle_flicker(self, on: bool) -> None:
        self._phase = 0
        if on:
            self.timer.start()
        else:
            self.timer.stop()
        self._draw()

    def _flip(self) -> None:
        self._phase ^= 1
        self._draw()


class VersionsPanel(QWidget):
    """List versions with lineage and metrics; compare, activate and roll back.

    Args:
        document: returns the open document (None when none is open).
        config: returns the last training config, for scoring on the frozen test split.

    Signals:
        active_changed(str): the active version of a model changed (``NAME@VERSION``).
        message(str): a one-line report for the status bar.
    """

    active_changed = Signal(str)
    message = Signal(str)

    def __init__(
        self,
        document: Callable[[], Document | None],
        config: Callable[[], dict[str, Any] | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._document, self._config = document, config
        self.rows: list[versions.VersionRow] = []
        self.workers: set[Worker] = set()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.metrics = QTableWidget(0, 3)
        self.metrics.setHorizontalHeaderLabels(["", "A", "B"])
        self.metrics.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.compare_view = CompareView()
        self.activate_button, self.rollback_button = QPushButton("Activate"), QPushButton("Roll back")
        self.compare_button, self.refresh_button = QPushButton("Compare"), QPushButton("Refresh")
        buttons = QHBoxLayout()
        for b in (self.activate_button, self.rollback_button, self.compare_button, self.refresh_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 2)
        layout.addLayout(buttons)
        layout.addWidget(self.compare_view, 2)
        layout.addWidget(self.metrics, 2)
        self.activate_button.clicked.connect(self.activate_selected)
        self.rollback_button.clicked.connect(self.rollback_selected)
        self.compare_button.clicked.connect(self.compare_selected)
        self.refresh_button.clicked.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the model store."""
        self.rows = versions.version_rows()
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            cells = (
                row.ref,
                row.parent,
                "yes" if row.active else "",
                row.mode,
                row.primary,
                row.gate,
                row.created,
            )
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))

    def showEvent(self, event: QShowEvent) -> None:
        """Re-read the store when the panel comes into view."""
        self.refresh()
        super().showEvent(event)

    def selected(self) -> list[str]:
        """Refs of the selected rows, in table order."""
        picked = sorted({i.row() for i in self.table.selectedIndexes()})
        return [self.rows[r].ref for r in picked]

    def select(self, refs: list[str]) -> None:
        """Select the rows of ``refs`` (for keyboard-free use and tests)."""
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for r, row in enumerate(self.rows):
            if row.ref in refs:
                self.table.selectRow(r)
        self.table.setSelectionMode(mode)

    def active_ref(self, name: str) -> str | None:
        return next((r.ref for r in self.rows if r.name == name and r.active), None)

    def activate_selected(self) -> None:
        refs = self.selected()
        if len(refs) != 1 or refs[0] not in {r.ref for r in self.rows if not r.bundled}:
            self.message.emit("select one stored version to activate")
            return
        versions.activate(refs[0])
        self._changed(refs[0], f"{refs[0]} is now active")

    def rollback_selected(self) -> None:
        """Roll the selected (or only) model back to the active version's parent, in one step."""
        from engine.errors import ModelError

        refs = self.selected()
        names = {ref.partition("@")[0] for ref in refs} or {r.name for r in self.rows if not r.bundled}
        if len(names) != 1:
            self.message.emit("select a version of the model to roll back")
            return
        try:
            ref = versions.rollback(names.pop())
        except ModelError as err:
            self.message.emit(err.one_line())
            return
        self._changed(ref, f"rolled back: {ref} is active again")

    def _changed(self, ref: str, text: str) -> None:
        self.refresh()
        self.active_changed.emit(ref)
        self.message.emit(text)

    # -- compare -----------------------------------------------------------------------------
    def compare_selected(self) -> None:
        """Compare the two selected versions (or the selected one with the active one)."""
        refs = self.selected()
        if len(refs) == 1:
            active = self.active_ref(refs[0].partition("@")[0])
            refs = [refs[0], active] if active and active != refs[0] else refs
        if len(refs) != 2:
            self.message.emit("select two versions to compare")
            return
        a, b = refs
        self._show_metrics(versions.compare_rows(a, b))
        cfg = self._config()
        if cfg is not None:
            self._run(lambda **_: versions.evaluate_versions([a, b], cfg), self._show_now)
        doc = self._document()
        if doc is not None:
            index = doc.view.frame_index
            frame = doc.frame_image(index)
            ids = {lab.name: lab.id for lab in doc.labels}

            def overlays(cancel: CancelToken = NEVER, **_: Any) -> dict[str, np.ndarray]:
                from app.model.adaptation.segment import segment

                return {r: segment(r, doc.cine, [index], cancel).planes(ids)[index] for r in (a, b)}

            self._run(overlays, lambda planes: self.compare_view.show_pair(frame, (a, b), planes))

    def _show_metrics(self, rows: list[tuple[str, str, str]]) -> None:
        self.metrics.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                self.metrics.setItem(r, c, QTableWidgetItem(text))

    def _show_now(self, scores: dict[str, dict[str, float]]) -> None:
        a, b = (self.metrics.item(0, 1).text(), self.metrics.item(0, 2).text())
        keys = sorted(set(scores.get(a, {})) | set(scores.get(b, {})))
        rows = [self.metrics_row(r) for r in range(self.metrics.rowCount())]
        for k in keys:
            rows.append((f"now.{k}", *(f"{scores.get(ref, {}).get(k, float('nan')):.4f}" for ref in (a, b))))
        self._show_metrics(rows)
        self.message.emit(f"{a} and {b} scored on the frozen test split")

    def metrics_row(self, r: int) -> tuple[str, str, str]:
        """One row of the comparison table as text."""
        return tuple(self.metrics.item(r, c).text() for c in range(3))  # type: ignore[return-value]

    def _run(self, fn: Callable[..., Any], done: Callable[[Any], None]) -> None:
        start_tracked(self.workers, fn, done, self.message.emit)

    def busy(self) -> bool:
        """Model work for a comparison is still running."""
        return bool(self.workers)
