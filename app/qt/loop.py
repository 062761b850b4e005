"""The correction loop's docks: Training, Model versions and Correct next.

Their menu (Loop) is declared in the action table (``app.qt.actions``) with every other action;
its handlers are these panels' methods, reached through :attr:`LoopPanels.targets`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QDockWidget

from app.model.adaptation.versions import model_names, segmentation_refs
from app.qt.panels.queue_panel import QueuePanel
from app.qt.panels.training_panel import TrainingPanel
from app.qt.panels.versions_panel import VersionsPanel

if TYPE_CHECKING:
    from app.qt.main_window import MainWindow

TITLES = ("Training", "Model versions", "Correct next")


@dataclass
class LoopPanels:
    """The loop's panels and their docks (by title)."""

    training: TrainingPanel
    versions: VersionsPanel
    queue: QueuePanel
    docks: dict[str, QDockWidget]

    @property
    def targets(self) -> dict[str, QObject]:
        """The panels by the names the action table's loop actions use as ``target``."""
        return {"training": self.training, "versions": self.versions, "queue": self.queue}


def install_loop_panels(window: MainWindow) -> LoopPanels:
    """Add the Training, Model versions and Correct next docks to ``window`` (the window tabs
    them beside its report, once: tabbing them together first left their old tab bars painted
    over the cine).

    The panels read the window's open project (``session``) and document (``doc``), report to
    its status bar (``show_message``), and a new or re-activated version refreshes its model
    list (``refresh_models``).
    """
    training = TrainingPanel(lambda: window.session.store, model_names)
    versions = VersionsPanel(lambda: window.doc, lambda: training.last_config)
    queue = QueuePanel(lambda: window.doc, segmentation_refs, lambda: window.smart.prompt_model())
    docks: dict[str, QDockWidget] = {}
    for title, widget in zip(TITLES, (training, versions, queue), strict=True):
        docks[title] = window.add_dock(title, widget, Qt.DockWidgetArea.RightDockWidgetArea, scroll=True)

    def store_changed(_: str = "") -> None:
        versions.refresh()
        queue.refresh_models()
        training.refresh()
        window.refresh_models()

    versions.message.connect(window.show_message)
    queue.message.connect(window.show_message)
    training.version_registered.connect(store_changed)
    versions.active_changed.connect(store_changed)
    return LoopPanels(training, versions, queue, docks)
