"""The tool protocol: pointer press/move/release in frame pixels become document commands.

Tools hold only the transient state of one gesture (the drag in progress and its preview);
what they make goes into the document as one command when the gesture ends. They import no
Qt, so tests can drive them directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from app.model.annotations import Annotation, Point
from app.model.document import Document
from app.model.events import Signal
from app.model.history import Command

if TYPE_CHECKING:
    from app.model.smart import Answer, Box
    from app.model.smart import Point as Click

PromptFn = Callable[[int, "Sequence[Click]", "Box | None", "np.ndarray | None"], "Answer | None"]


def _no_prompt(frame: int, points: Sequence[Click], box: Box | None, previous: np.ndarray | None) -> None:
    return None


@dataclass
class ToolContext:
    """What a tool may use besides the document.

    Attributes:
        brush_radius: brush and eraser radius in frame pixels.
        pick_radius: how close (frame pixels) a press must be to grab a handle.
        report: shows a one-line message to the user (e.g. a refused measurement).
        prompt: the Smart tool's model: ``prompt(frame, clicks, box, previous mask)`` gives an
            ``app.model.smart.Answer``, or None (it said why through ``report``).
    """

    brush_radius: float = 8.0
    pick_radius: float = 6.0
    report: Callable[[str], None] = lambda _msg: None
    prompt: PromptFn = field(default=_no_prompt)


class Tool:
    """Base class: a named gesture handler. Subclasses override the three pointer events.

    ``preview`` holds the points of the gesture in progress and ``preview_changed`` fires
    when they change, so the viewer can draw them; it is empty between gestures. A tool that
    proposes a mask before it edits (the Smart tool) shows it as ``preview_mask`` (``[H, W]``
    bool) with its clicks as ``preview_marks`` ((x, y, positive)), drawn faint where
    ``preview_faint`` (the model called it unsure); ``accept`` makes the proposal one edit and
    ``cancel`` drops it.
    """

    name = "tool"
    preview_kind = "line"  # line | polygon | points

    def __init__(self, doc: Document, ctx: ToolContext) -> None:
        self.doc = doc
        self.ctx = ctx
        self.preview: list[Point] = []
        self.preview_mask: np.ndarray | None = None
        self.preview_marks: list[tuple[float, float, bool]] = []
        self.preview_faint = False
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

    def secondary_click(self, x: float, y: float) -> bool:
        """A right-button click at (x, y); True when the tool used it."""
        return False

    @property
    def pending(self) -> bool:
        """Something is shown that Enter would keep or Esc drop."""
        return bool(self.preview) or self.preview_mask is not None

    @property
    def has_other(self) -> bool:
        """The proposal has another reading that Tab would show."""
        return False

    def show_other(self) -> None:
        """Show the proposal's other reading instead (Tab); nothing where there is none."""

    def accept(self) -> Command | None:
        """Keep what the tool proposes (Enter); returns the command applied, if any."""
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
