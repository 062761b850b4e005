"""Box and landmark tools: draw, move, resize and place, each gesture one undo step."""

from __future__ import annotations

from app.model import commands
from app.model.annotations import Annotation, Point
from app.model.history import Command
from app.qt.tools.base import Tool, nearest


def _corners(points: tuple[Point, ...]) -> list[Point]:
    (x0, y0), (x1, y1) = points
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def _inside(points: tuple[Point, ...], x: float, y: float) -> bool:
    (x0, y0), (x1, y1) = points
    return min(x0, x1) <= x <= max(x0, x1) and min(y0, y1) <= y <= max(y0, y1)


class BoxTool(Tool):
    """Drag on empty space to draw a box; drag a corner to resize it, its inside to move it."""

    name = "box"
    preview_kind = "polygon"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._target: Annotation | None = None
        self._mode = "new"
        self._anchor: Point = (0.0, 0.0)

    def press(self, x: float, y: float) -> None:
        boxes = [a for a in self.doc.on_frame(self.frame) if a.kind == "box"]
        corner = self._corner_hit(boxes, x, y)
        self._anchor = (x, y)
        if corner is not None:
            self._target, opposite = corner
            self._mode, self._anchor = "resize", opposite
        else:
            self._target = next((b for b in reversed(boxes) if _inside(b.points, x, y)), None)
            self._mode = "move" if self._target is not None else "new"
        if self._target is not None:
            self.doc.view.selected = self._target.id
        self._set_preview([])

    def _corner_hit(self, boxes: list[Annotation], x: float, y: float) -> tuple[Annotation, Point] | None:
        r2 = self.ctx.pick_radius**2
        for box in reversed(boxes):
            corners = _corners(box.points)
            for i, (cx, cy) in enumerate(corners):
                if (cx - x) ** 2 + (cy - y) ** 2 <= r2:
                    return box, corners[(i + 2) % 4]
        return None

    def _points(self, x: float, y: float) -> tuple[Point, Point]:
        if self._mode == "move" and self._target is not None:
            dx, dy = x - self._anchor[0], y - self._anchor[1]
            (x0, y0), (x1, y1) = self._target.points
            return (x0 + dx, y0 + dy), (x1 + dx, y1 + dy)
        ax, ay = self._anchor
        return (min(ax, x), min(ay, y)), (max(ax, x), max(ay, y))

    def move(self, x: float, y: float) -> None:
        self._set_preview(_corners(self._points(x, y)))

    def release(self, x: float, y: float) -> Command | None:
        points = self._points(x, y)
        target, self._target = self._target, None
        if target is None:
            (x0, y0), (x1, y1) = points
            if abs(x1 - x0) < 2 or abs(y1 - y0) < 2:
                return self._commit(None)
            box = Annotation("box", self.frame, self.doc.view.active_label, points)
            self.doc.view.selected = box.id
            return self._commit(commands.add(box))
        if points == target.points:
            return self._commit(None)
        return self._commit(commands.update(target, target.moved_to(points), f"{self._mode} box"))


class LandmarkTool(Tool):
    """Click to place a landmark of the active label; drag an existing one to move it."""

    name = "landmark"
    preview_kind = "points"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._target: Annotation | None = None
        self._pressed_at: Point = (0.0, 0.0)

    def press(self, x: float, y: float) -> None:
        self._pressed_at = (x, y)
        marks = [a for a in self.doc.on_frame(self.frame) if a.kind == "landmark"]
        hit = nearest(marks, x, y, self.ctx.pick_radius)
        self._target = None if hit is None else hit[0]
        if self._target is not None:
            self.doc.view.selected = self._target.id
        self._set_preview([(x, y)])

    def move(self, x: float, y: float) -> None:
        self._set_preview([(x, y)])

    def release(self, x: float, y: float) -> Command | None:
        target, self._target = self._target, None
        if target is None:
            mark = Annotation("landmark", self.frame, self.doc.view.active_label, ((x, y),))
            self.doc.view.selected = mark.id
            return self._commit(commands.add(mark))
        if (x, y) == self._pressed_at or (x, y) == target.points[0]:
            return self._commit(None)  # a click on a landmark selects it
        return self._commit(commands.update(target, target.moved_to(((x, y),)), "move landmark"))
