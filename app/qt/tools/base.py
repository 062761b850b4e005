"""The tool protocol: pointer press/move/release in frame pixels become document commands.

Tools hold only the transient state of one gesture (the drag in progress and its preview);
what they make goes into the document as one command when the gesture ends. They import no
Qt, so tests can drive them directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.model.annotations import Annotation, Point
from app.model.document import Document
from app.model.events import Signal
from app.model.history import Command


@dataclass
class ToolContext:
    """What a tool may use besides the document.

    Attributes:
        brush_radius: brush and eraser radius in frame pixels.
        pick_radius: how close (frame pixels) a press must be to grab a handle.
        report: shows a one-line message to the user (e.g. a refused measurement).
    """

    brush_radius: float = 8.0
    pick_radius: float = 6.0
    report: Callable[[str], None] = lambda _msg: None


class Tool:
    """Base class: a named gesture handler. Subclasses override the three pointer events.

    ``preview`` holds the points of the gesture in progress and ``preview_changed`` fires
    when they change, so the viewer can draw them; it is empty between gestures.
    """

    name = "tool"
    preview_kind = "line"  # line | polygon | points

    def __init__(self, doc: Document, ctx: ToolContext) -> None:
        self.doc = doc
        self.ctx = ctx
        self.preview: list[Point] = []
        self.preview_changed = Signal()

    @property
    def frame(self) -> int:
        return self.doc.view.frame_index

    def press(self, x: float, y: float) -> None:
        """The button went down at (x, y)."""

    def move(self, x: float, y: float) -> None:
        """The pointer moved to (x, y) with the button held."""

    def release(self, x: float, y: float) -> Command | None:
        """The button came up at (x, y); returns the command applied, if any."""
        return None

    def cancel(self) -> None:
        """Abandon the gesture in progress."""
        self._set_preview([])

    def _set_preview(self, points: list[Point]) -> None:
        self.preview = points
        self.preview_changed.emit()

    def _commit(self, cmd: Command | None) -> Command | None:
        self._set_preview([])
        self.doc.apply(cmd)
        return cmd


def nearest(anns: list[Annotation], x: float, y: float, radius: float) -> tuple[Annotation, int] | None:
    """The annotation point closest to (x, y) within ``radius``: (annotation, point index)."""
    best: tuple[float, Annotation, int] | None = None
    for ann in anns:
        for i, (px, py) in enumerate(ann.points):
            d = (px - x) ** 2 + (py - y) ** 2
            if d <= radius * radius and (best is None or d < best[0]):
                best = (d, ann, i)
    return None if best is None else (best[1], best[2])
