"""FrameViewWidget: the cine frame with window/level, its mask overlay and annotations.

Built from GraphicsLayoutWidget + ViewBox + ImageItem(axisOrder='row-major') rather than
pyqtgraph's ImageView, which owns state of its own. The widget holds no edit state: it draws
what the document says and hands pointer gestures to the active tool.

A model's enhanced frames show instead of the frame (``view.enhancement == "on"``) or in a
second, linked view beside it (``"side"``), where zoom and pan follow the main view. Both views
hand gestures to the active tool in frame pixels and draw its preview (``ToolPreview``).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Signal
from PySide6.QtWidgets import QWidget

from app.model.document import SCORE_VIEW, Document
from app.model.measure import readout
from app.qt.tools.base import Tool
from app.qt.viewer.overlay_items import OverlayLayer
from app.qt.viewer.tool_preview import ToolPreview
from app.qt.viewer.tool_view_box import ToolViewBox
from engine.errors import EchoCareError


class FrameViewWidget(pg.GraphicsLayoutWidget):
    """The viewer. ``cursor_moved(text)`` carries the readout for the pixel under the cursor;
    ``failed(text)`` the one-line error of a frame that cannot be decoded."""

    cursor_moved = Signal(str)
    failed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("k")
        self.ci.layout.setContentsMargins(0, 0, 0, 0)
        self.box = ToolViewBox()
        self.addItem(self.box)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.mask_item = pg.ImageItem(axisOrder="row-major")
        self.mask_item.setZValue(10)
        for item in (self.image, self.mask_item):
            self.box.addItem(item)
        self.preview = ToolPreview(self.box)
        self.overlays = OverlayLayer(self.box)
        self.side_box = ToolViewBox()
        self.side_image = pg.ImageItem(axisOrder="row-major")
        self.side_box.addItem(self.side_image)
        self.side_preview = ToolPreview(self.side_box)
        self.side_box.setXLink(self.box)
        self.side_box.setYLink(self.box)
        self._side_shown = False
        self.doc: Document | None = None
        self._tool: Tool | None = None
        self._lut: np.ndarray | None = None
        self._lut_size = 0  # labels in the schema when the colour table was built
        self.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)

    # -- binding ------------------------------------------------------------------------------
    def bind(self, doc: Document) -> None:
        """Show ``doc`` and follow its changes."""
        self._unbind()
        self.doc = doc
        doc.view.changed.connect(self._on_view_changed)
        doc.mask_changed.connect(self._on_mask_changed)
        doc.annotations_changed.connect(self._on_annotations_changed)
        doc.enhanced_changed.connect(self._on_enhanced_changed)
        self.refresh_labels()
        self.render_frame()
        h, w = doc.shape
        self.box.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)

    def show_nothing(self) -> None:
        """Show no frame and follow no document.

        (Not named ``clear``: GraphicsLayoutWidget forwards that name to its layout.)
        """
        self.set_tool(None)
        self._unbind()
        self.doc = None
        self.image.clear()
        self._show_side(False)
        self.mask_item.setVisible(False)
        self.overlays.clear()

    def _unbind(self) -> None:
        if self.doc is not None:
            self.doc.view.changed.disconnect(self._on_view_changed)
            self.doc.mask_changed.disconnect(self._on_mask_changed)
            self.doc.annotations_changed.disconnect(self._on_annotations_changed)
            self.doc.enhanced_changed.disconnect(self._on_enhanced_changed)

    def set_tool(self, tool: Tool | None) -> None:
        """Route left gestures to ``tool`` (None: left drag pans)."""
        if self._tool is not None:
            self._tool.preview_changed.disconnect(self._on_tool_preview_changed)
            self._tool.cancel()
        self._tool = tool
        self.box.tool = tool
        self.side_box.tool = tool
        if tool is not None:
            tool.preview_changed.connect(self._on_tool_preview_changed)
        self._on_tool_preview_changed()

    def refresh_labels(self) -> None:
        """Rebuild the mask colour table after a label's colour or opacity changed."""
        if self.doc is not None:
            self._lut, self._lut_size = self.doc.labels.lut(), len(self.doc.labels)
            self._draw_mask()

    def fit(self) -> None:
        """Zoom to show the whole frame."""
        self.box.autoRange(items=[self.image], padding=0.02)

    # -- drawing ------------------------------------------------------------------------------
    def render_frame(self) -> None:
        """Draw the current frame, its mask and its annotations."""
        doc = self.doc
        if doc is None:
            return
        try:
            frame = doc.frame_image()
        except EchoCareError as err:
            self.failed.emit(err.one_line())
            return
        enhanced = doc.enhanced.get(doc.view.frame_index)
        mode = doc.view.enhancement if enhanced is not None else "off"
        shown = enhanced if mode == "on" else frame
        self.image.setImage(shown, autoLevels=False, levels=doc.view.window)
        self._show_side(mode == "side")
        if mode == "side":
            self.side_image.setImage(enhanced, autoLevels=False, levels=doc.view.window)
        self._draw_mask()
        self.overlays.redraw(doc)

    def _show_side(self, on: bool) -> None:
        if on != self._side_shown:
            if on:
                self.addItem(self.side_box, row=0, col=1)
            else:
                self.removeItem(self.side_box)
            self._side_shown = on

    @property
    def showing_enhanced(self) -> str:
        """What the viewer shows of the enhanced frame now: "off", "on" or "side"."""
        doc = self.doc
        if doc is None or doc.view.frame_index not in doc.enhanced:
            return "off"
        return doc.view.enhancement

    def _draw_mask(self) -> None:
        doc = self.doc
        if doc is None:
            return
        plane = doc.masks.get(doc.view.frame_index)
        if plane is None:
            self.mask_item.setVisible(False)
            return
        # a model's results can add labels to the schema (by name): colour them as they come
        if self._lut is None or len(doc.labels) != self._lut_size:
            self._lut, self._lut_size = doc.labels.lut(), len(doc.labels)
        self.mask_item.setImage(plane, autoLevels=False, levels=(0, 255), lut=self._lut)
        self.mask_item.setVisible(True)

    # -- model events ------------------------------------------------------------------------
    def _on_view_changed(self, name: str, value: object) -> None:
        if name in ("frame_index", "enhancement"):
            self.render_frame()
        elif name == "window":
            self.image.setLevels(value)
        elif name in ("selected", *SCORE_VIEW) and self.doc is not None:
            self.overlays.redraw(self.doc)

    def _on_mask_changed(self, frame: int) -> None:
        if self.doc is not None and frame == self.doc.view.frame_index:
            self._draw_mask()

    def _on_annotations_changed(self, _ids: tuple[str, ...]) -> None:
        if self.doc is not None:
            self.overlays.redraw(self.doc)

    def _on_enhanced_changed(self, frames: tuple[int, ...]) -> None:
        if self.doc is not None and self.doc.view.frame_index in frames:
            self.render_frame()

    def _on_tool_preview_changed(self) -> None:
        color = (255, 255, 255)
        if self.doc is not None:
            color = self.doc.labels.get(self.doc.view.active_label).color
        for preview in (self.preview, self.side_preview):
            preview.show(self._tool, color)

    def _on_scene_mouse_moved(self, pos: QPointF) -> None:
        if self.doc is None or not self.box.sceneBoundingRect().contains(pos):
            return
        x, y = self.box.xy(pos)
        h, w = self.doc.shape
        if 0 <= x < w and 0 <= y < h:
            self.cursor_moved.emit(readout(self.doc.calibration(), x, y))
        else:
            self.cursor_moved.emit("")
