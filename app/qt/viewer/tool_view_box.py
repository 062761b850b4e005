"""A ViewBox that hands left-button gestures to the active tool, in frame pixels.

Wheel zoom stays pyqtgraph's own; right drag pans with any tool, left drag pans when no tool
is routed (the navigate tool). A right click goes to the tool's ``secondary_click`` (the Smart
tool's negative point).
"""

from __future__ import annotations

import pyqtgraph as pg
from pyqtgraph.GraphicsScene.mouseEvents import MouseClickEvent, MouseDragEvent
from PySide6.QtCore import QPointF, Qt

from app.qt.tools.base import Tool

LEFT = Qt.MouseButton.LeftButton


class ToolViewBox(pg.ViewBox):
    """ViewBox with y down, locked aspect, and an optional tool receiving left gestures."""

    def __init__(self) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self.tool: Tool | None = None

    def xy(self, scene_pos: QPointF) -> tuple[float, float]:
        """Frame pixel coordinates of a scene position."""
        p = self.mapSceneToView(scene_pos)
        return float(p.x()), float(p.y())

    def mouseDragEvent(self, ev: MouseDragEvent, axis: int | None = None) -> None:
        tool = self.tool
        if tool is None or ev.button() != LEFT:
            if ev.button() == Qt.MouseButton.RightButton:
                ev.accept()
                last, now = self.mapSceneToView(ev.lastScenePos()), self.mapSceneToView(ev.scenePos())
                self.translateBy(x=last.x() - now.x(), y=last.y() - now.y())
                return
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        if ev.isStart():
            tool.press(*self.xy(ev.buttonDownScenePos()))
        if ev.isFinish():
            tool.release(*self.xy(ev.scenePos()))
        else:
            tool.move(*self.xy(ev.scenePos()))

    def mouseClickEvent(self, ev: MouseClickEvent) -> None:
        tool = self.tool
        right = ev.button() == Qt.MouseButton.RightButton
        if tool is not None and right and tool.secondary_click(*self.xy(ev.scenePos())):
            ev.accept()
            return
        if tool is None or ev.button() != LEFT:
            super().mouseClickEvent(ev)
            return
        ev.accept()
        x, y = self.xy(ev.scenePos())
        tool.press(x, y)
        tool.release(x, y)
