"""Draw a frame's annotations as pyqtgraph items, one drawer per kind (a table, no if/elif).

Pending AI drafts are dashed, rejected ones grey and dotted, the selected one is thicker; drafts
scored below their calibrated threshold (or the score slider's minimum) are not drawn.
Caliper items carry their measurement text (or the reason it cannot be measured); boxes and
landmarks a model drafted carry its name for them and its score.
"""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem

from app.model.annotations import Annotation, Review
from app.model.document import Document
from app.model.measure import MeasureError, measure

Drawer = Callable[[Annotation, pg.QtGui.QPen], list[QGraphicsItem]]
CALIPERS = ("distance", "ellipse", "area", "angle")


def _line(points: list[tuple[float, float]], pen: pg.QtGui.QPen, close: bool = False) -> pg.PlotDataItem:
    pts = [*points, points[0]] if close and points else points
    return pg.PlotDataItem([p[0] for p in pts], [p[1] for p in pts], pen=pen)


def _box(a: Annotation, pen: pg.QtGui.QPen) -> list[QGraphicsItem]:
    (x0, y0), (x1, y1) = a.points
    return [_line([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], pen, close=True)]


def _landmark(a: Annotation, pen: pg.QtGui.QPen) -> list[QGraphicsItem]:
    return [pg.ScatterPlotItem([a.points[0][0]], [a.points[0][1]], size=10, pen=pen, brush=None, symbol="+")]


def _ellipse(a: Annotation, pen: pg.QtGui.QPen) -> list[QGraphicsItem]:
    (x0, y0), (x1, y1) = a.points
    item = QGraphicsEllipseItem(QRectF(min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)))
    item.setPen(pen)
    return [item]


DRAWERS: dict[str, Drawer] = {
    "box": _box,
    "landmark": _landmark,
    "distance": lambda a, pen: [_line(list(a.points), pen)],
    "ellipse": _ellipse,
    "area": lambda a, pen: [_line(list(a.points), pen, close=True)],
    "angle": lambda a, pen: [_line(list(a.points), pen)],
}


def pen_for(doc: Document, a: Annotation) -> pg.QtGui.QPen:
    """Label colour; dashed for pending drafts, grey dotted for rejected, thick when selected."""
    color = (150, 150, 150) if a.review is Review.REJECTED else doc.labels.get(a.label_id).color
    if a.kind in ("distance", "ellipse", "area", "angle") and a.review is not Review.REJECTED:
        color = (255, 230, 80)
    pen = pg.mkPen(color=color, width=3 if doc.view.selected == a.id else 1.5)
    pen.setCosmetic(True)
    if a.review is Review.PENDING:
        pen.setStyle(Qt.PenStyle.DashLine)
    elif a.review is Review.REJECTED:
        pen.setStyle(Qt.PenStyle.DotLine)
    return pen


def caption(doc: Document, a: Annotation) -> str:
    """The measurement text of a caliper, or why it cannot be measured."""
    try:
        return measure(a, doc.calibration(a.frame)).text
    except MeasureError as err:
        return str(err)


class OverlayLayer:
    """Keeps the annotation items of the frame on screen in a ViewBox in step with the document."""

    def __init__(self, view: pg.ViewBox) -> None:
        self._view = view
        self._items: list[QGraphicsItem] = []

    def clear(self) -> None:
        for item in self._items:
            self._view.removeItem(item)
        self._items.clear()

    def redraw(self, doc: Document) -> None:
        """Replace the items with those of the annotations on the current frame."""
        self.clear()
        for a in doc.on_frame(doc.view.frame_index):
            drawer = DRAWERS.get(a.kind)
            if not doc.shown(a):  # an AI draft scored below its threshold
                continue
            if drawer is None:
                continue
            items = drawer(a, pen_for(doc, a))
            label = self._label(doc, a)
            if label:
                color = (255, 230, 80) if a.kind in CALIPERS else doc.labels.get(a.label_id).color
                text = pg.TextItem(label, color=color, anchor=(0, 1), fill=(0, 0, 0, 150))
                text.setPos(*(a.points[-1] if a.kind in CALIPERS else a.points[0]))
                items.append(text)
            for item in items:
                item.setZValue(20)
                self._view.addItem(item)
            self._items.extend(items)

    @staticmethod
    def _label(doc: Document, a: Annotation) -> str:
        """Caliper measurement; for boxes and landmarks the name a model gave, with its score."""
        if a.kind in CALIPERS:
            return caption(doc, a)
        if a.kind in ("box", "landmark") and a.name:
            score = f" {float(a.value):.2f}" if isinstance(a.value, float) else ""
            return a.name + score
        return ""

    @property
    def items(self) -> list[QGraphicsItem]:
        return list(self._items)
