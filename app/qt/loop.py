"""Adds the loop's panels and menu to a main window: training, model versions, correct-next queue.

``install_loop_panels(window)`` uses only the window's public surface: ``session`` (the open
project), ``doc`` (the open document), ``addDockWidget``, ``tabifyDockWidget``, ``menuBar()``
and, when present, ``show_message`` and ``refresh_models`` (so a new or re-activated version
shows in the model list at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QScrollArea

from app.model import loop
from app.qt.panels.queue_panel import QueuePanel
from app.qt.panels.training_panel import TrainingPanel
from app.qt.panels.versions_panel import VersionsPanel


@dataclass
class LoopPanels:
    """The loop's panels, their docks and menu actions, kept on ``window.loop_panels``."""

    training: TrainingPanel
    versions: VersionsPanel
    queue: QueuePanel
    docks: dict[str, QDockWidget]
    actions: dict[str, QAction]


def _model_names() -> list[str]:
    return list(dict.fromkeys(r.name for r in loop.version_rows()))


def _segmentation_refs() -> list[str]:
    rows = [r for r in loop.version_rows() if "segmentation" in r.heads]
    rows.sort(key=lambda r: (not r.active, r.ref))
    return [r.ref for r in rows]


def install_loop_panels(window: Any) -> None:
    """Add the Training, Model versions and Correct next docks and a Loop menu to ``window``."""
    training = TrainingPanel(lambda: window.session.store, _model_names)
    versions = VersionsPanel(lambda: window.doc, lambda: training.last_config)
    queue = QueuePanel(lambda: window.doc, _segmentation_refs)
    docks: dict[str, QDockWidget] = {}
    for title, widget in (("Training", training), ("Model versions", versions), ("Correct next", queue)):
        dock = QDockWidget(title, window)
        dock.setObjectName(title)
        # scrolls rather than forcing its full height on the window (the viewer keeps its room)
        scroll = QScrollArea(dock)
        scroll.setWidgetResizable(True)
        scroll.setWidget(widget)
        dock.setWidget(scroll)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        docks[title] = dock
    window.tabifyDockWidget(docks["Training"], docks["Model versions"])
    window.tabifyDockWidget(docks["Model versions"], docks["Correct next"])
    docks["Training"].raise_()

    def store_changed(_: str = "") -> None:
        versions.refresh()
        queue.refresh_models()
        training.refresh()
        refresh = getattr(window, "refresh_models", None)
        if callable(refresh):
            refresh()

    say = getattr(window, "show_message", None)
    if callable(say):
        versions.message.connect(say)
        queue.message.connect(say)
    training.version_registered.connect(store_changed)
    versions.active_changed.connect(store_changed)
    menu = window.menuBar().addMenu("&Loop")
    specs = (
        ("propagate", "Propagate mask from this frame", "Ctrl+Shift+P", queue.propagate),
        ("rank", "Rank frames to correct next", "Ctrl+Shift+R", queue.rank),
        ("train", "Start fine-tuning", "", training.start),
        ("cancel", "Cancel fine-tuning", "", training.cancel),
        ("rollback", "Roll back model version", "", versions.rollback_selected),
    )
    actions: dict[str, QAction] = {}
    for key, text, shortcut, slot in specs:
        action = QAction(text, window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        actions[key] = action
    window.loop_panels = LoopPanels(training, versions, queue, docks, actions)
