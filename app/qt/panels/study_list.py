"""StudyListPanel: the project's studies; double-click (or Enter) opens one.

Studies received or retrieved over DICOM are grouped by their DICOM study (StudyInstanceUID):
one entry named by patient, description and date, with its cines and images under it when it
has more than one. Other studies are listed by their file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from engine.project import StudyRecord

NO_STUDY = -1


def _frames(study: StudyRecord) -> str:
    return f"({study.frames} frames)" if study.frames != 1 else "(1 frame)"


class StudyListPanel(QWidget):
    """``study_activated(id)`` asks the window to open a study."""

    study_activated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project_label = QLabel()
        self.project_label.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.project_label)
        layout.addWidget(self.tree)
        self.tree.itemActivated.connect(self._on_item_activated)

    def show_studies(
        self,
        project: str,
        studies: list[StudyRecord],
        current: int | None,
        groups: Mapping[int, tuple[str, str]] | None = None,
    ) -> None:
        """List ``studies``, highlighting the one open.

        Args:
            groups: for studies that are DICOM instances, their (StudyInstanceUID, title).
        """
        self.project_label.setText(f"Project: {project}")
        self.tree.clear()
        groups = groups or {}
        sizes = Counter(uid for uid, _title in groups.values())
        parents: dict[str, QTreeWidgetItem] = {}
        for study in studies:
            uid, title = groups.get(study.id, ("", ""))
            if uid and sizes[uid] > 1:
                parent = parents.get(uid)
                if parent is None:
                    parent = parents[uid] = QTreeWidgetItem(
                        self.tree, [f"{title or uid}  ({sizes[uid]} series)"]
                    )
                    parent.setData(0, Qt.ItemDataRole.UserRole, NO_STUDY)
                    parent.setToolTip(0, uid)
                    parent.setExpanded(True)
                kind = "cine" if study.frames > 1 else "image"
                item = QTreeWidgetItem(parent, [f"{kind} {parent.childCount() + 1}  {_frames(study)}"])
            else:
                item = QTreeWidgetItem(self.tree, [f"{title or study.rel_path}  {_frames(study)}"])
            item.setData(0, Qt.ItemDataRole.UserRole, study.id)
            item.setToolTip(0, study.rel_path)
            if study.id == current:
                self.tree.setCurrentItem(item)

    def study_items(self) -> list[QTreeWidgetItem]:
        """Every entry that opens a study, in the order shown."""
        items = []
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            children = [top.child(j) for j in range(top.childCount())]
            items.extend(children or [top])
        return items

    def _on_item_activated(self, item: QTreeWidgetItem) -> None:
        study = int(item.data(0, Qt.ItemDataRole.UserRole))
        if study != NO_STUDY:
            self.study_activated.emit(study)
