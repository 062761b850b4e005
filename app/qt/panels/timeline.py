"""TimelineWidget: the cine's frames as a bar, with the current frame and ED/ES marks.

Click or drag to scrub. Marks come from the document's frame-mark annotations.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

MARK_COLORS = {"ED": QColor(240, 80, 80), "ES": QColor(80, 160, 250)}


class TimelineWidget(QWidget):
    """``frame_picked(int)`` fires when the user clicks or drags on the bar;
    ``mark_moved(name, from_frame, to_frame)`` when an ED/ES mark is dragged to another frame."""

    frame_picked = Signal(int)
    mark_moved = Signal(str, int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.n_frames = 1
        self.current = 0
        self.marks: dict[str, list[int]] = {}
        self._dragging: tuple[str, int] | None = None
        self.setMinimumHeight(28)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Click or drag to scrub; E/S mark end-diastole/end-systole")

    def set_state(self, n_frames: int, current: int, marks: dict[str, list[int]]) -> None:
        self.n_frames, self.current, self.marks = max(1, n_frames), current, marks
        self.update()

    def x_of(self, frame: int) -> float:
        """Centre x of a frame's slot."""
        return (frame + 0.5) * self.width() / self.n_frames

    def frame_at(self, x: float) -> int:
        return int(min(self.n_frames - 1, max(0, x * self.n_frames / max(1, self.width()))))

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(40, 40, 40))
        slot = self.width() / self.n_frames
        p.fillRect(QRectF(self.current * slot, 0, max(2.0, slot), self.height()), QColor(200, 200, 200))
        for name, frames in self.marks.items():
            p.setPen(MARK_COLORS.get(name, QColor(255, 255, 0)))
            for f in frames:
                x = self.x_of(f)
                p.drawLine(int(x), 0, int(x), self.height())
                p.drawText(int(x) + 2, 11, name)
        p.end()

    def mark_near(self, x: float, tolerance: float = 4.0) -> tuple[str, int] | None:
        """The (name, frame) of the mark drawn within ``tolerance`` pixels of x, if any."""
        for name, frames in self.marks.items():
            for f in frames:
                if abs(self.x_of(f) - x) <= tolerance:
                    return name, f
        return None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        x = event.position().x()
        self._dragging = self.mark_near(x)
        if self._dragging is None:
            self.frame_picked.emit(self.frame_at(x))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton and self._dragging is None:
            self.frame_picked.emit(self.frame_at(event.position().x()))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._dragging is not None:
            name, start = self._dragging
            self._dragging = None
            end = self.frame_at(event.position().x())
            if end != start:
                self.mark_moved.emit(name, start, end)
