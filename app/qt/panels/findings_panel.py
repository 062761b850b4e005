"""FindingsPanel: study-wide class and value overrides and the report text.

Each field writes through one undoable command when the user confirms it (Enter or Apply);
model changes refresh the fields without echoing back.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.model.commands import set_study_value
from app.model.document import Document


class FindingsPanel(QWidget):
    """Class, a named value and the report of the open study."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: Document | None = None
        self.class_edit = QLineEdit()
        self.class_edit.setPlaceholderText("e.g. apical four-chamber")
        self.value_name = QLineEdit("EF")
        self.value_spin = QDoubleSpinBox()
        self.value_spin.setRange(-1e6, 1e6)
        self.value_spin.setDecimals(2)
        self.value_button = QPushButton("Set")
        self.origin_label = QLabel()
        self.report = QPlainTextEdit()
        self.report.setPlaceholderText("Report text")
        self.report_button = QPushButton("Apply report")
        self._layout()
        self.class_edit.editingFinished.connect(self.commit_class)
        self.value_button.clicked.connect(self.commit_value)
        self.report_button.clicked.connect(self.commit_report)

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("Class", self.class_edit)
        value_row = QHBoxLayout()
        value_row.addWidget(self.value_name)
        value_row.addWidget(self.value_spin)
        value_row.addWidget(self.value_button)
        form.addRow("Value", value_row)
        col = QVBoxLayout(self)
        col.setContentsMargins(4, 4, 4, 4)
        col.addLayout(form)
        col.addWidget(self.origin_label)
        col.addWidget(self.report, 1)
        col.addWidget(self.report_button)

    def bind(self, doc: Document) -> None:
        if self.doc is not None:
            self.doc.annotations_changed.disconnect(self._on_annotations_changed)
        self.doc = doc
        doc.annotations_changed.connect(self._on_annotations_changed)
        self.refresh()

    def refresh(self) -> None:
        doc = self.doc
        if doc is None:
            return
        cls, report = doc.study_value("class"), doc.study_value("report")
        value = doc.study_value("value", self.value_name.text())
        self.class_edit.setText("" if cls is None else str(cls.value))
        if value is not None:
            self.value_spin.blockSignals(True)
            self.value_spin.setValue(float(value.value or 0.0))
            self.value_spin.blockSignals(False)
        text = "" if report is None else str(report.value)
        if self.report.toPlainText() != text:
            self.report.setPlainText(text)
        present = [a for a in (cls, value, report) if a is not None]
        origins = [f"{a.kind}: {a.origin.value}, {a.review.value}" for a in present]
        self.origin_label.setText("; ".join(origins))

    def commit_class(self) -> None:
        if self.doc is not None:
            self.doc.apply(set_study_value(self.doc, "class", self.class_edit.text().strip()))

    def commit_value(self) -> None:
        if self.doc is not None and self.value_name.text().strip():
            name = self.value_name.text().strip()
            self.doc.apply(set_study_value(self.doc, "value", self.value_spin.value(), name))

    def commit_report(self) -> None:
        if self.doc is not None:
            self.doc.apply(set_study_value(self.doc, "report", self.report.toPlainText()))

    def _on_annotations_changed(self, _ids: tuple[str, ...]) -> None:
        self.refresh()
