"""Tools that change the view, not the annotations: navigate and window/level."""

from __future__ import annotations

from app.model.history import Command
from app.qt.tools.base import Tool

LEVEL_PER_PIXEL = 1.0  # window change per frame pixel dragged


class NavigateTool(Tool):
    """Pan by dragging and zoom with the wheel (the viewer handles both itself)."""

    name = "navigate"


class WindowLevelTool(Tool):
    """Drag right/left to widen/narrow the window, down/up to raise/lower the level."""

    name = "window_level"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._start: tuple[float, float, float, float] | None = None

    def press(self, x: float, y: float) -> None:
        lo, hi = self.doc.view.window
        self._start = (x, y, (lo + hi) / 2, hi - lo)

    def move(self, x: float, y: float) -> None:
        if self._start is None:
            return
        x0, y0, level, width = self._start
        width = max(1.0, width + (x - x0) * LEVEL_PER_PIXEL)
        level = level + (y - y0) * LEVEL_PER_PIXEL
        self.doc.view.window = (level - width / 2, level + width / 2)

    def release(self, x: float, y: float) -> Command | None:
        self.move(x, y)
        self._start = None
        return None
