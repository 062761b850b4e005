"""The Smart tool: clicks and a box to a mask with the model's prompt head.

Left click adds a positive point (the structure), right click a negative one (not the
structure), a left drag draws the box around it. After each prompt the model's mask shows as a
preview, not in the document: Enter paints it with the active label as one undoable edit, Esc
drops it and the document is as it was. Where a click has two readings (the LV cavity, and the
whole ventricle around it) Tab shows the other one, and Enter keeps the one shown. Each prompt
after the first also gives the model the mask shown before, as the prompt head was trained to
refine its own answer. An answer the model calls unsure (``Answer.unsure``) is drawn faint and
the status bar says what would settle it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from app.model.history import Command
from app.model.smart import prompt_edit
from app.qt.tools.base import Tool

if TYPE_CHECKING:
    from app.model.smart import Answer, Box
    from app.model.smart import Point as Click

CLICK_SLOP = 2.0  # frame pixels: a press and release closer than this is a click, not a box


class SmartTool(Tool):
    """Prompt the frame on screen; the proposal waits for Enter (keep) or Esc (drop)."""

    name = "smart"
    preview_kind = "polygon"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.box: Box | None = None
        self.answer: Answer | None = None
        self._prompt_frame: int | None = None
        self._anchor: tuple[float, float] | None = None

    # -- gestures ----------------------------------------------------------------------------
    def press(self, x: float, y: float) -> None:
        self._anchor = (x, y)

    def move(self, x: float, y: float) -> None:
        if self._anchor is not None:
            self._set_preview(_corners(self._drag_box(x, y)))

    def release(self, x: float, y: float) -> Command | None:
        if self._anchor is None:
            return None
        ax, ay = self._anchor
        box = self._drag_box(x, y)
        self._anchor = None
        if abs(x - ax) < CLICK_SLOP and abs(y - ay) < CLICK_SLOP:
            self._add(points=[(x, y, True)])
        else:
            self._add(box=box)
        return None

    def secondary_click(self, x: float, y: float) -> bool:
        self._add(points=[(x, y, False)])
        return True

    def _drag_box(self, x: float, y: float) -> Box:
        ax, ay = self._anchor or (x, y)
        return (min(ax, x), min(ay, y), max(ax, x), max(ay, y))

    # -- prompting ---------------------------------------------------------------------------
    def _add(self, points: Sequence[Click] = (), box: Box | None = None) -> None:
        """Add clicks or set the box, prompt the model and show its answer."""
        if self._prompt_frame is not None and self._prompt_frame != self.frame:
            self._clear()  # the proposal belonged to another frame
        marks = [*self.preview_marks, *points]
        new_box = box if box is not None else self.box
        previous = self.answer.mask if self.answer is not None else None
        answer = self.ctx.prompt(self.frame, marks, new_box, previous)
        if answer is None:  # no model to ask, or the prompt was refused: nothing changes
            self._show()
            return
        self.preview_marks, self.box, self.answer = marks, new_box, answer
        self._prompt_frame = self.frame
        self.ctx.report(answer.line())
        self._show()

    def _show(self) -> None:
        self.preview_mask = None if self.answer is None else self.answer.mask
        self.preview_faint = self.answer is not None and self.answer.unsure
        self._set_preview(_corners(self.box) if self.box is not None else [])

    def _clear(self) -> None:
        self.preview_marks, self.box, self.answer = [], None, None
        self._prompt_frame, self._anchor = None, None
        self._show()

    # -- keep or drop ------------------------------------------------------------------------
    @property
    def has_other(self) -> bool:
        return self.answer is not None and self.answer.other is not None

    def show_other(self) -> None:
        """Show the answer's other reading (the structure around the clicked one, or back)."""
        if self.answer is None or self.answer.other is None:
            return
        self.answer = self.answer.swapped()
        self.ctx.report(self.answer.line())
        self._show()

    @property
    def pending(self) -> bool:
        return self.answer is not None or bool(self.preview_marks) or self.box is not None

    def accept(self) -> Command | None:
        """Paint the proposed mask with the active label as one undoable edit."""
        answer = self.answer
        if answer is None:
            return None
        cmd = prompt_edit(self.doc, answer.frame, answer.mask, self.doc.view.active_label, answer.model)
        self._clear()
        self.doc.apply(cmd)
        if cmd is not None:
            model = answer.model.label()
            self.ctx.report(f"Smart mask kept on frame {answer.frame + 1} (AI-assisted, {model})")
        return cmd

    def cancel(self) -> None:
        """Drop the proposal; the document is unchanged."""
        self._clear()

    def frame_changed(self) -> None:
        """The viewer moved to another frame: a proposal of the old frame is dropped."""
        if self._prompt_frame is not None and self._prompt_frame != self.frame:
            self._clear()


def _corners(box: Box) -> list[tuple[float, float]]:
    x0, y0, x1, y1 = box
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
