"""Caliper tools: distance, ellipse, traced area and angle, in the units of the region.

A measurement whose points fall in different regions is refused with a message and makes no
annotation.
"""

from __future__ import annotations

from app.model import commands
from app.model.annotations import Annotation, Point
from app.model.history import Command
from app.model.measure import MeasureError, measure
from app.qt.tools.base import Tool


class CaliperTool(Tool):
    """Base of the caliper tools: builds the annotation and checks it can be measured."""

    kind = "distance"

    def _finish(self, points: list[Point]) -> Command | None:
        ann = Annotation(self.kind, self.frame, self.doc.view.active_label, tuple(points))
        try:
            result = measure(ann, self.doc.calibration())
        except MeasureError as err:
            self.ctx.report(f"{self.kind} not measured: {err}")
            return self._commit(None)
        self.ctx.report(f"{self.kind}: {result.text}")
        self.doc.view.selected = ann.id
        return self._commit(commands.add(ann, f"measure {self.kind}"))


class DistanceTool(CaliperTool):
    """Drag from one end to the other."""

    name = "distance"
    kind = "distance"

    def press(self, x: float, y: float) -> None:
        self._set_preview([(x, y), (x, y)])

    def move(self, x: float, y: float) -> None:
        if self.preview:
            self._set_preview([self.preview[0], (x, y)])

    def release(self, x: float, y: float) -> Command | None:
        if not self.preview:
            return None
        start = self.preview[0]
        if abs(start[0] - x) + abs(start[1] - y) < 1:
            return self._commit(None)
        return self._finish([start, (x, y)])


class EllipseTool(DistanceTool):
    """Drag the bounding box of an ellipse; measures its area."""

    name = "ellipse"
    kind = "ellipse"


class AreaTool(CaliperTool):
    """Trace an outline; releasing closes it and measures the enclosed area."""

    name = "area"
    kind = "area"
    preview_kind = "polygon"

    def press(self, x: float, y: float) -> None:
        self._set_preview([(x, y)])

    def move(self, x: float, y: float) -> None:
        if self.preview:
            self._set_preview([*self.preview, (x, y)])

    def release(self, x: float, y: float) -> Command | None:
        points = [*self.preview, (x, y)]
        if len(points) < 3:
            return self._commit(None)
        return self._finish(points)


class AngleTool(CaliperTool):
    """Click the end of one arm, the vertex, then the end of the other arm."""

    name = "angle"
    kind = "angle"

    def release(self, x: float, y: float) -> Command | None:
        points = [*self.preview, (x, y)]
        if len(points) < 3:
            self._set_preview(points)
            return None
        return self._finish(points)
