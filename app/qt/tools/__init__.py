"""Editing tools, registered by name: the action table and the viewer look them up here."""

from app.qt.tools.base import Tool, ToolContext
from app.qt.tools.caliper_tools import AngleTool, AreaTool, DistanceTool, EllipseTool
from app.qt.tools.mask_tools import BrushTool, EraserTool, FillTool, LassoTool
from app.qt.tools.shape_tools import BoxTool, LandmarkTool
from app.qt.tools.smart_tool import SmartTool
from app.qt.tools.view_tools import NavigateTool, WindowLevelTool

TOOLS: dict[str, type[Tool]] = {
    cls.name: cls
    for cls in (
        NavigateTool,
        WindowLevelTool,
        BrushTool,
        EraserTool,
        LassoTool,
        FillTool,
        SmartTool,
        BoxTool,
        LandmarkTool,
        DistanceTool,
        EllipseTool,
        AreaTool,
        AngleTool,
    )
}

__all__ = ["TOOLS", "Tool", "ToolContext"]
