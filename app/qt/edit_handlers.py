"""The main window's edit, cine, review and view handlers (named in the action table).

A mixin so that ``main_window.py`` keeps only construction and file handling. Every handler
turns a user request into one document command or one view-state change.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QAction

from app.model import commands
from app.model.annotations import Annotation, Review
from app.model.document import Document, default_window
from app.qt.autosave import AutosaveController
from app.qt.panels.annotation_panel import AnnotationPanel
from app.qt.playback import PlaybackController
from app.qt.smart_controller import SmartController
from app.qt.tools import TOOLS, Tool, ToolContext
from app.qt.viewer.frame_view import FrameViewWidget

MIN_SPEED, MAX_SPEED = 0.125, 8.0


class EditHandlers:
    """Handlers shared by the main window; expects the attributes annotated below."""

    doc: Document | None
    view: FrameViewWidget
    annotations: AnnotationPanel
    playback: PlaybackController
    autosave: AutosaveController
    tool_ctx: ToolContext
    tool: Tool | None
    smart: SmartController
    actions: dict[str, QAction]

    def show_message(self, text: str) -> None:  # implemented by the window
        raise NotImplementedError

    # -- tools ------------------------------------------------------------------------------
    def set_tool(self, name: str) -> None:
        """Make ``name`` (a key of TOOLS) the active tool."""
        if self.doc is None:
            return
        self.doc.view.tool = name
        self.tool = TOOLS[name](self.doc, self.tool_ctx)
        self.tool.preview_changed.connect(self._on_proposal_changed)
        self.view.set_tool(None if name == "navigate" else self.tool)
        self.smart.set_tool(self.tool)
        self._on_proposal_changed()

    def _on_proposal_changed(self) -> None:
        """Enter and Esc act on the viewer (when it has the focus) only while a tool shows
        something to keep or drop."""
        pending = self.tool is not None and self.tool.pending
        for key in ("tool.keep", "tool.drop"):
            self.actions[key].setEnabled(pending)
        self.actions["tool.other"].setEnabled(self.tool is not None and self.tool.has_other)

    def keep_proposal(self) -> None:
        """Keep what the active tool proposes (the Smart tool's mask) as one undoable edit."""
        if self.tool is not None:
            self.tool.accept()

    def other_proposal(self) -> None:
        """Show the other reading of what the active tool proposes (Tab)."""
        if self.tool is not None:
            self.tool.show_other()

    def drop_proposal(self) -> None:
        """Drop what the active tool proposes; the document is unchanged."""
        if self.tool is not None:
            self.tool.cancel()

    def scale_brush(self, factor: str) -> None:
        self.tool_ctx.brush_radius = float(np.clip(self.tool_ctx.brush_radius * float(factor), 0.5, 200))
        self.show_message(f"brush radius {self.tool_ctx.brush_radius:.1f} px")

    def step_label(self, delta: str) -> None:
        if self.doc is None:
            return
        ids = [lab.id for lab in self.doc.labels]
        i = ids.index(self.doc.view.active_label) if self.doc.view.active_label in ids else 0
        self.doc.view.active_label = ids[(i + int(delta)) % len(ids)]

    # -- history ----------------------------------------------------------------------------
    def undo(self) -> None:
        if self.doc is not None and not self.doc.history.undo():
            self.show_message("nothing to undo")

    def redo(self) -> None:
        if self.doc is not None and not self.doc.history.redo():
            self.show_message("nothing to redo")

    # -- selection edits --------------------------------------------------------------------
    def _selected(self) -> list[str]:
        if self.doc is None:
            return []
        if self.doc.view.selected:
            return [self.doc.view.selected]
        return self.annotations.selected_ids()

    def delete_selected(self) -> None:
        doc = self.doc
        for ann_id in self._selected() if doc is not None else []:
            assert doc is not None
            if ann_id in doc.annotations:
                doc.apply(commands.RemoveAnnotation(doc.annotations[ann_id]))
            elif ann_id.startswith("mask:"):
                frame = int(ann_id.split(":", 1)[1])
                before = doc.mask(frame)
                meta = doc.mask_meta.get(frame)
                doc.apply(commands.mask_diff(frame, before, np.zeros_like(before), meta, meta, "clear mask"))

    def relabel_selected(self) -> None:
        doc = self.doc
        for ann_id in self._selected() if doc is not None else []:
            assert doc is not None
            old = doc.annotations.get(ann_id)
            if old is not None and old.label_id != doc.view.active_label:
                doc.apply(commands.update(old, old.corrected(label_id=doc.view.active_label), "relabel"))

    def review_selected(self, state: str) -> None:
        ids = self._selected()
        if self.doc is not None and ids:
            self.doc.apply(commands.review(self.doc, ids, Review(state)))

    def review_ids(self, ids: list[str], state: str) -> None:
        """Accept or reject the given annotations (one undo step)."""
        if self.doc is not None and ids:
            self.doc.apply(commands.review(self.doc, ids, Review(state)))

    def accept_drafts(self) -> None:
        doc = self.doc
        if doc is None:
            return
        # drafts hidden for their score are not accepted unseen: show them with the score slider first
        ids = [a.id for a in doc.annotations.values() if a.review is Review.PENDING and doc.shown(a)]
        ids += [f"mask:{f}" for f, m in doc.mask_meta.items() if m.review is Review.PENDING]
        if ids:
            doc.apply(commands.review(doc, ids, Review.ACCEPTED))

    # -- cine -------------------------------------------------------------------------------
    def toggle_play(self) -> None:
        self.playback.toggle()

    def step_frame(self, delta: str) -> None:
        if self.doc is not None:
            self.playback.stop()
            self.doc.set_frame(self.doc.view.frame_index + int(delta))

    def go_to_end(self, which: str) -> None:
        if self.doc is not None:
            self.playback.stop()
            self.doc.set_frame(0 if which == "first" else self.doc.n_frames - 1)

    def toggle_loop(self) -> None:
        if self.doc is not None:
            self.doc.view.loop = not self.doc.view.loop
            self.show_message("loop on" if self.doc.view.loop else "loop off")

    def scale_speed(self, factor: str) -> None:
        if self.doc is not None:
            self.doc.view.speed = float(np.clip(self.doc.view.speed * float(factor), MIN_SPEED, MAX_SPEED))
            self.show_message(f"speed {self.doc.view.speed:g}×")

    def toggle_mark(self, kind: str) -> None:
        """Add an ED/ES mark on the current frame, or remove the one there."""
        doc = self.doc
        if doc is None:
            return
        frame = doc.view.frame_index
        existing = [a for a in doc.on_frame(frame) if a.kind == "frame_mark" and a.value == kind]
        if existing:
            doc.apply(commands.RemoveAnnotation(existing[0], f"remove {kind} mark"))
        else:
            doc.apply(commands.add(Annotation("frame_mark", frame, value=kind), f"mark {kind}"))

    # -- view -------------------------------------------------------------------------------
    def fit_view(self) -> None:
        self.view.fit()

    def zoom(self, factor: str) -> None:
        """Magnify the frame by ``factor`` about the view's centre."""
        f = 1.0 / float(factor)
        self.view.box.scaleBy((f, f))

    def toggle_enhancement(self, mode: str) -> None:
        """Show enhanced frames as ``mode`` ("on" or "side"), or back to the original frame."""
        doc = self.doc
        if doc is None:
            return
        doc.view.enhancement = "off" if doc.view.enhancement == mode else mode
        if doc.view.enhancement != "off" and not doc.enhanced:
            self.show_message("no enhanced frames yet: run the model's enhancement task")

    def reset_window(self) -> None:
        if self.doc is not None:
            self.doc.view.window = default_window(self.doc.cine)
