"""Mask tools: brush, eraser, lasso (polygon) and fill, each gesture one undo step."""

from __future__ import annotations

from app.model.history import Command
from app.model.mask_ops import Stroke, fill_polygon, flood_fill, whole_plane_edit
from app.qt.tools.base import Tool


class BrushTool(Tool):
    """Paint the active label with a round brush."""

    name = "brush"
    erase = False

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._stroke: Stroke | None = None

    def press(self, x: float, y: float) -> None:
        value = 0 if self.erase else self.doc.view.active_label
        self._stroke = Stroke(self.doc, self.frame, value, self.ctx.brush_radius)
        self._stroke.add(x, y)

    def move(self, x: float, y: float) -> None:
        if self._stroke is not None:
            self._stroke.add(x, y)

    def release(self, x: float, y: float) -> Command | None:
        if self._stroke is None:
            return None
        self._stroke.add(x, y)
        stroke, self._stroke = self._stroke, None
        return stroke.finish()

    def cancel(self) -> None:
        if self._stroke is not None:
            cmd = self._stroke.finish()
            if cmd is not None:
                self.doc.history.undo()
            self._stroke = None


class EraserTool(BrushTool):
    """Paint background (label 0)."""

    name = "eraser"
    erase = True


class LassoTool(Tool):
    """Trace a closed outline; releasing fills it with the active label."""

    name = "lasso"
    preview_kind = "polygon"

    def press(self, x: float, y: float) -> None:
        self._set_preview([(x, y)])

    def move(self, x: float, y: float) -> None:
        if self.preview:
            self._set_preview([*self.preview, (x, y)])

    def release(self, x: float, y: float) -> Command | None:
        points = [*self.preview, (x, y)]
        self._set_preview([])
        if len(points) < 3:
            return None
        label = self.doc.view.active_label
        return whole_plane_edit(self.doc, self.frame, "lasso fill", lambda p: fill_polygon(p, points, label))


class FillTool(Tool):
    """Flood-fill the connected area under the click with the active label."""

    name = "fill"

    def release(self, x: float, y: float) -> Command | None:
        label = self.doc.view.active_label
        return whole_plane_edit(self.doc, self.frame, "fill", lambda p: flood_fill(p, x, y, label))
