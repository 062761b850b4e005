"""StudyListPanel: the project's studies; double-click (or Enter) opens one."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from engine.project import StudyRecord


class StudyListPanel(QWidget):
    """``study_activated(id)`` asks the window to open a study."""

    study_activated = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project_label = QLabel()
        self.project_label.setWordWrap(True)
        self.list = QListWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.project_label)
        layout.addWidget(self.list)
        self.list.itemActivated.connect(self._on_list_item_activated)

    def show_studies(
        self,
        project: str,
        studies: list[StudyRecord],
        current: int | None,
        titles: dict[int, str] | None = None,
    ) -> None:
        """List ``studies``, highlighting the one open; a study with a title (one received over
        DICOM: patient, description, date) is listed by it, the others by their file."""
        self.project_label.setText(f"Project: {project}")
        self.list.clear()
        titles = titles or {}
        for study in studies:
            item = QListWidgetItem(f"{titles.get(study.id) or study.rel_path}  ({study.frames} frames)")
            item.setData(Qt.ItemDataRole.UserRole, study.id)
            item.setToolTip(study.rel_path)
            self.list.addItem(item)
            if study.id == current:
                self.list.setCurrentItem(item)

    def _on_list_item_activated(self, item: QListWidgetItem) -> None:
        self.study_activated.emit(int(item.data(Qt.ItemDataRole.UserRole)))
