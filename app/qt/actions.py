"""The action table: every menu entry and shortcut of the main window, declared once.

``build_actions`` turns the table into QActions bound to their handlers: the window's methods,
or a panel's (the correction loop's panels, named by ``ActionSpec.target``). The cheat sheet is
generated from the same table, so it can never disagree with the shortcuts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu


@dataclass(frozen=True)
class ActionSpec:
    """One action.

    Attributes:
        id: stable id, e.g. "edit.undo".
        text: menu text with its mnemonic.
        shortcut: key sequence ("" for none).
        handler: name of the method to call on the target.
        arg: a string argument passed to the handler, if any.
        menu: the menu it appears in.
        group: actions of one group are mutually exclusive (the tools).
        target: whose method ``handler`` names: "" for the main window, else a key of the
            targets ``build_actions`` is given (the loop's panels: "queue", "training", "versions").
        checkable: an on/off switch (its handler sets the checked state it ends in).
    """

    id: str
    text: str
    shortcut: str
    handler: str
    arg: str | None = None
    menu: str = "&File"
    group: str = ""
    target: str = ""
    checkable: bool = False


def _tool(name: str, text: str, key: str) -> ActionSpec:
    return ActionSpec(f"tool.{name}", text, key, "set_tool", name, "&Tools", "tools")


def _loop(name: str, text: str, key: str, target: str, handler: str) -> ActionSpec:
    return ActionSpec(f"loop.{name}", text, key, handler, menu="&Loop", target=target)


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("file.open", "&Open file…", "Ctrl+O", "open_file_dialog"),
    ActionSpec("file.open_folder", "Open &folder…", "Ctrl+Shift+O", "open_folder_dialog"),
    ActionSpec("file.open_project", "Open &project…", "Ctrl+Alt+O", "open_project_dialog"),
    ActionSpec("file.save", "&Save", "Ctrl+S", "save"),
    ActionSpec("file.export", "&Export…", "Ctrl+Shift+S", "show_export"),
    ActionSpec("file.settings", "Se&ttings…", "Ctrl+,", "show_settings"),
    ActionSpec("file.quit", "&Quit", "Ctrl+Q", "close"),
    ActionSpec("edit.undo", "&Undo", "Ctrl+Z", "undo", menu="&Edit"),
    ActionSpec("edit.redo", "&Redo", "Ctrl+Shift+Z", "redo", menu="&Edit"),
    ActionSpec("edit.delete", "&Delete selected", "Delete", "delete_selected", menu="&Edit"),
    ActionSpec("edit.relabel", "Give selected the active &label", "Ctrl+R", "relabel_selected", menu="&Edit"),
    ActionSpec("edit.next_label", "&Next label", ".", "step_label", "1", "&Edit"),
    ActionSpec("edit.prev_label", "&Previous label", ",", "step_label", "-1", "&Edit"),
    ActionSpec("edit.brush_bigger", "&Bigger brush", "]", "scale_brush", "1.25", "&Edit"),
    ActionSpec("edit.brush_smaller", "&Smaller brush", "[", "scale_brush", "0.8", "&Edit"),
    _tool("navigate", "&Navigate (pan/zoom)", "V"),
    _tool("window_level", "&Window/level", "W"),
    _tool("brush", "&Brush", "B"),
    _tool("eraser", "&Eraser", "X"),
    _tool("lasso", "&Polygon/lasso fill", "P"),
    _tool("fill", "&Fill", "G"),
    _tool("smart", "S&mart mask (click or box)", "M"),
    _tool("box", "Bo&x", "R"),
    _tool("landmark", "&Landmark", "L"),
    _tool("distance", "&Distance caliper", "D"),
    _tool("ellipse", "&Ellipse area", "O"),
    _tool("area", "&Traced area", "T"),
    _tool("angle", "&Angle", "A"),
    ActionSpec("tool.keep", "&Keep the proposed mask", "Return", "keep_proposal", menu="&Tools"),
    ActionSpec("tool.drop", "Dr&op the proposed mask", "Escape", "drop_proposal", menu="&Tools"),
    ActionSpec("tool.other", "Show the ot&her reading of the click", "Tab", "other_proposal", menu="&Tools"),
    ActionSpec("cine.play", "&Play/pause", "Space", "toggle_play", menu="&Cine"),
    ActionSpec("cine.prev", "Pre&vious frame", "Left", "step_frame", "-1", "&Cine"),
    ActionSpec("cine.next", "&Next frame", "Right", "step_frame", "1", "&Cine"),
    ActionSpec("cine.first", "&First frame", "Home", "go_to_end", "first", "&Cine"),
    ActionSpec("cine.last", "&Last frame", "End", "go_to_end", "last", "&Cine"),
    ActionSpec("cine.loop", "L&oop", "Ctrl+L", "toggle_loop", menu="&Cine"),
    ActionSpec("cine.faster", "&Faster", "=", "scale_speed", "2", "&Cine"),
    ActionSpec("cine.slower", "&Slower", "-", "scale_speed", "0.5", "&Cine"),
    ActionSpec("cine.mark_ed", "Mark &end-diastole (ED)", "E", "toggle_mark", "ED", "&Cine"),
    ActionSpec("cine.mark_es", "Mark end-&systole (ES)", "S", "toggle_mark", "ES", "&Cine"),
    ActionSpec("review.accept", "&Accept selected", "Y", "review_selected", "accepted", "&Review"),
    ActionSpec("review.reject", "&Reject selected", "N", "review_selected", "rejected", "&Review"),
    ActionSpec("review.accept_all", "Accept all &drafts", "Ctrl+Shift+Y", "accept_drafts", None, "&Review"),
    ActionSpec("model.run", "&Run model on the chosen frames", "Ctrl+I", "run_inference", menu="&Model"),
    ActionSpec("model.cancel", "&Cancel the model run", "Ctrl+Shift+I", "cancel_inference", menu="&Model"),
    ActionSpec("model.refresh", "Re&load the model list", "", "refresh_models", menu="&Model"),
    _loop("propagate", "&Propagate mask from this frame", "Ctrl+Shift+P", "queue", "propagate"),
    _loop("rank", "&Rank frames to correct next", "Ctrl+Shift+R", "queue", "rank"),
    _loop("train", "&Start fine-tuning", "", "training", "start"),
    _loop("cancel", "&Cancel fine-tuning", "", "training", "cancel"),
    _loop("rollback", "Roll &back model version", "", "versions", "rollback_selected"),
    ActionSpec("view.fit", "&Fit to window", "F", "fit_view", menu="&View"),
    ActionSpec("view.zoom_in", "Zoom &in", "Ctrl+=", "zoom", "1.25", "&View"),
    ActionSpec("view.zoom_out", "Zoom &out", "Ctrl+-", "zoom", "0.8", "&View"),
    ActionSpec("view.reset_window", "&Reset window/level", "Shift+W", "reset_window", menu="&View"),
    ActionSpec("view.enhanced", "Show the &enhanced frame", "Ctrl+E", "toggle_enhancement", "on", "&View"),
    ActionSpec(
        "view.side_by_side", "Enhanced &side by side", "Ctrl+Shift+E", "toggle_enhancement", "side", "&View"
    ),
    ActionSpec(
        "dicom.receive", "&Receive from scanners", "", "toggle_receive", None, "&DICOM", checkable=True
    ),
    ActionSpec("dicom.query", "&Query/Retrieve…", "Ctrl+Shift+Q", "show_query_retrieve", menu="&DICOM"),
    ActionSpec("dicom.send", "&Send results to PACS…", "", "show_send_results", menu="&DICOM"),
    ActionSpec("help.cheat_sheet", "&Keyboard shortcuts", "F1", "show_cheat_sheet", menu="&Help"),
)


def _slot(handler: Callable[..., object], arg: str | None) -> Callable[[], None]:
    """A slot that ignores QAction's ``checked`` flag and passes ``arg`` when there is one."""

    def call(*_checked: object) -> None:
        handler(arg) if arg is not None else handler()

    return call


def build_actions(
    window: QMainWindow, targets: Mapping[str, object], specs: tuple[ActionSpec, ...] = ACTIONS
) -> dict[str, QAction]:
    """Create a QAction per spec, put it in the window's menu and connect it to its handler.

    Args:
        targets: the objects (besides the window) whose handlers specs name, by ``target``.
    """
    actions: dict[str, QAction] = {}
    menus: dict[str, QMenu] = {}
    groups: dict[str, QActionGroup] = {}
    for spec in specs:
        action = QAction(spec.text, window)
        if spec.shortcut:
            action.setShortcut(QKeySequence(spec.shortcut))
        owner = targets[spec.target] if spec.target else window
        action.triggered.connect(_slot(getattr(owner, spec.handler), spec.arg))
        action.setCheckable(bool(spec.group) or spec.checkable)
        if spec.group:
            groups.setdefault(spec.group, QActionGroup(window)).addAction(action)
        if spec.menu not in menus:
            menus[spec.menu] = window.menuBar().addMenu(spec.menu)
        menus[spec.menu].addAction(action)
        window.addAction(action)  # shortcuts work while the menu bar is hidden too
        actions[spec.id] = action
    return actions


def cheat_sheet_rows(specs: tuple[ActionSpec, ...] = ACTIONS) -> list[tuple[str, str, str]]:
    """(menu, action, shortcut) rows for the on-screen cheat sheet."""
    return [(s.menu.replace("&", ""), s.text.replace("&", ""), s.shortcut) for s in specs if s.shortcut]
