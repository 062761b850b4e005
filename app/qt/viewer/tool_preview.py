"""ToolPreview: what the active tool proposes, drawn over a view and never in the document.

The gesture in progress (a dashed line, outline or points), the clicks of a prompt (green +
for the structure, red x for not the structure) and a proposed mask (the active label's colour,
see-through, with a solid outline; fainter where the tool calls its proposal a guess).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from app.qt.tools.base import Tool

CLOSED = {"polygon"}
POSITIVE, NEGATIVE = (60, 230, 90), (255, 70, 70)
FILL_ALPHA = 110
FAINT_ALPHA = 35  # the fill of a proposal the model is unsure of


def mask_rgba(mask: np.ndarray, color: tuple[int, int, int], fill: int = FILL_ALPHA) -> np.ndarray:
    """``[H, W, 4]`` uint8: ``color`` see-through (alpha ``fill``) inside ``mask`` and solid on its
    outline."""
    mask = np.asarray(mask, bool)
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    rgba = np.zeros((*mask.shape, 4), np.uint8)
    rgba[mask, :3] = color
    rgba[mask, 3] = fill
    rgba[mask & ~inner, 3] = 255
    return rgba


class ToolPreview:
    """The preview items of one view box."""

    def __init__(self, box: pg.ViewBox) -> None:
        dashed = pg.mkPen((255, 255, 255), width=1, style=Qt.PenStyle.DashLine)
        self.line = pg.PlotDataItem(pen=dashed)
        self.line.setZValue(30)
        self.marks = pg.ScatterPlotItem(size=13, pxMode=True)
        self.marks.setZValue(31)
        self.mask = pg.ImageItem(axisOrder="row-major")
        self.mask.setZValue(15)
        self.mask.setVisible(False)
        for item in (self.mask, self.line, self.marks):
            box.addItem(item)

    def show(self, tool: Tool | None, color: tuple[int, int, int]) -> None:
        """Draw ``tool``'s preview (nothing for None); ``color`` is the active label's."""
        points = list(tool.preview) if tool is not None else []
        if tool is not None and tool.preview_kind in CLOSED and points:
            points.append(points[0])
        if points:
            symbol = "o" if tool is not None and tool.preview_kind == "points" else None
            self.line.setData([p[0] for p in points], [p[1] for p in points], symbol=symbol)
        else:
            self.line.setData([], [])
        marks = tool.preview_marks if tool is not None else []
        self.marks.setData(
            [{"pos": (x, y), "symbol": "+" if pos else "x", "brush": POSITIVE if pos else NEGATIVE,
              "pen": pg.mkPen((0, 0, 0), width=1)} for x, y, pos in marks]
        )  # fmt: skip
        mask = tool.preview_mask if tool is not None else None
        if mask is None:
            self.mask.setVisible(False)
            return
        fill = FAINT_ALPHA if tool is not None and tool.preview_faint else FILL_ALPHA
        self.mask.setImage(mask_rgba(mask, color, fill), autoLevels=False)
        self.mask.setVisible(True)

    @property
    def shown(self) -> bool:
        """A proposed mask is on screen."""
        return self.mask.isVisible()
