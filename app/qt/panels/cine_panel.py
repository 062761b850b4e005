"""CinePanel: play/pause, step, loop, speed, the timeline with ED/ES marks and a frame strip."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.model import commands
from app.model.document import Document
from app.qt.panels.timeline import TimelineWidget
from engine.errors import EchoCareError

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)
THUMB_HEIGHT = 48
THUMBS_PER_TURN = 8


def thumbnail(frame: np.ndarray, height: int = THUMB_HEIGHT) -> QPixmap:
    """A small grey or RGB pixmap of a frame (nearest-neighbour, 8-bit)."""
    step = max(1, frame.shape[0] // height)
    small = np.ascontiguousarray(frame[::step, ::step])
    if small.dtype != np.uint8:
        small = (small.astype(np.float32) * (255.0 / max(1, small.max()))).astype(np.uint8)
    h, w = small.shape[:2]
    fmt = QImage.Format.Format_RGB888 if small.ndim == 3 else QImage.Format.Format_Grayscale8
    image = QImage(small.data, w, h, small.strides[0], fmt)
    return QPixmap.fromImage(image.copy())


class CinePanel(QWidget):
    """Cine controls bound to ``doc.view``; ``play_toggled`` and ``mark_toggled`` go to the window."""

    play_toggled = Signal()
    mark_toggled = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: Document | None = None
        self.play_button = QPushButton("Play")
        self.prev_button, self.next_button = QPushButton("◀"), QPushButton("▶")
        self.loop_box = QCheckBox("Loop")
        self.speed_box = QComboBox()
        self.speed_box.addItems([f"{s:g}×" for s in SPEEDS])
        self.ed_button, self.es_button = QPushButton("ED"), QPushButton("ES")
        self.frame_label = QLabel("no study")
        self.timeline = TimelineWidget()
        self.strip = QListWidget()
        self.strip.setFlow(QListWidget.Flow.LeftToRight)
        self.strip.setViewMode(QListWidget.ViewMode.IconMode)
        self.strip.setIconSize(QSize(THUMB_HEIGHT * 4 // 3, THUMB_HEIGHT))
        self.strip.setFixedHeight(THUMB_HEIGHT + 34)
        self.strip.setWrapping(False)
        self.strip.setMovement(QListWidget.Movement.Static)
        self.strip.setGridSize(QSize(THUMB_HEIGHT * 4 // 3 + 8, THUMB_HEIGHT + 22))
        self.strip.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._thumb_timer = QTimer(self, interval=0)
        self._thumb_timer.timeout.connect(self._on_thumb_timer_timeout)
        self._next_thumb = 0
        self._layout()
        self.play_button.clicked.connect(self.play_toggled)
        self.prev_button.clicked.connect(lambda: self._step(-1))
        self.next_button.clicked.connect(lambda: self._step(1))
        self.loop_box.toggled.connect(self._on_loop_toggled)
        self.speed_box.currentIndexChanged.connect(self._on_speed_changed)
        self.ed_button.clicked.connect(lambda: self.mark_toggled.emit("ED"))
        self.es_button.clicked.connect(lambda: self.mark_toggled.emit("ES"))
        self.timeline.frame_picked.connect(self._on_frame_picked)
        self.timeline.mark_moved.connect(self._on_timeline_mark_moved)
        self.strip.currentRowChanged.connect(self._on_frame_picked)

    def _layout(self) -> None:
        row = QHBoxLayout()
        for w in (self.prev_button, self.play_button, self.next_button, self.loop_box, self.speed_box):
            row.addWidget(w)
        row.addWidget(self.ed_button)
        row.addWidget(self.es_button)
        row.addWidget(self.frame_label, 1)
        col = QVBoxLayout(self)
        col.setContentsMargins(4, 2, 4, 2)
        col.addLayout(row)
        col.addWidget(self.timeline)
        col.addWidget(self.strip)

    def bind(self, doc: Document) -> None:
        if self.doc is not None:
            self.doc.view.changed.disconnect(self._on_view_changed)
            self.doc.annotations_changed.disconnect(self._on_annotations_changed)
        self.doc = doc
        doc.view.changed.connect(self._on_view_changed)
        doc.annotations_changed.connect(self._on_annotations_changed)
        self.loop_box.setChecked(doc.view.loop)
        self.speed_box.setCurrentIndex(min(range(len(SPEEDS)), key=lambda i: abs(SPEEDS[i] - doc.view.speed)))
        self.strip.blockSignals(True)  # rebuilding the strip must not move the new study's frame
        self.strip.clear()
        for i in range(doc.n_frames):
            self.strip.addItem(QListWidgetItem(str(i)))
        self.strip.blockSignals(False)
        self._next_thumb = 0
        self._thumb_timer.start()
        self._sync()

    def _sync(self) -> None:
        doc = self.doc
        if doc is None:
            return
        i = doc.view.frame_index
        t = doc.cine.timestamps_ms[i]
        self.frame_label.setText(f"frame {i + 1} / {doc.n_frames} · {t:.0f} ms")
        self.play_button.setText("Pause" if doc.view.playing else "Play")
        self.timeline.set_state(doc.n_frames, i, doc.frame_marks())
        self.strip.blockSignals(True)
        self.strip.setCurrentRow(i)
        self.strip.blockSignals(False)

    def _on_thumb_timer_timeout(self) -> None:
        doc = self.doc
        if doc is None or self._next_thumb >= doc.n_frames or doc.view.playing:
            if doc is None or self._next_thumb >= doc.n_frames:
                self._thumb_timer.stop()
            return
        end = min(doc.n_frames, self._next_thumb + THUMBS_PER_TURN)
        for i in range(self._next_thumb, end):
            try:
                self.strip.item(i).setIcon(QIcon(thumbnail(doc.frame_image(i))))
            except EchoCareError:
                self.strip.item(i).setText(f"{i} ✕")  # the viewer reports the error when shown
        self._next_thumb = end

    def _on_view_changed(self, name: str, _value: object) -> None:
        if name in ("frame_index", "playing"):
            self._sync()

    def _on_annotations_changed(self, _ids: tuple[str, ...]) -> None:
        self._sync()

    def _on_frame_picked(self, index: int) -> None:
        if self.doc is not None and index >= 0:
            self.doc.set_frame(index)

    def _on_timeline_mark_moved(self, name: str, start: int, end: int) -> None:
        doc = self.doc
        if doc is None:
            return
        mark = next((a for a in doc.on_frame(start) if a.kind == "frame_mark" and a.value == name), None)
        if mark is not None:
            doc.apply(commands.update(mark, mark.corrected(frame=end), f"move {name} mark"))
            doc.set_frame(end)

    def _step(self, delta: int) -> None:
        if self.doc is not None:
            self.doc.set_frame(self.doc.view.frame_index + delta)

    def _on_loop_toggled(self, on: bool) -> None:
        if self.doc is not None:
            self.doc.view.loop = on

    def _on_speed_changed(self, index: int) -> None:
        if self.doc is not None and index >= 0:
            self.doc.view.speed = SPEEDS[index]

    def sizeHint(self) -> QSize:
        return QSize(600, THUMB_HEIGHT + 100)
