"""FindingsPanel: study-wide class and value overrides and the report.

Each field writes through one undoable command when the user confirms it (Enter or Apply);
model changes refresh the fields without echoing back. The report shows its numbers (class,
values with ED/ES frames, calipers) read live from the annotations above the person's free
text, so a changed caliper or value updates the report and typed words are kept. The active
model's training-data statement heads the report, in orange when not for clinical use. A class
draft scored below its calibrated threshold is not shown (the class field stays empty and is
not cleared by leaving it), and the exam line follows the study's exam.
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
from app.model.document import SCORE_VIEW, Document
from app.model.report import numbers_text, report_text

WARN_STYLE = "color: #ff9f1a; font-weight: bold"


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
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        self.numbers = QPlainTextEdit()
        self.numbers.setReadOnly(True)
        self.numbers.setMinimumHeight(90)
        self.numbers.setToolTip("Numbers linked to the measurements: they follow every edit")
        self.report = QPlainTextEdit()
        self.report.setPlaceholderText("Report text (your words; the numbers above stay linked)")
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
        col.addWidget(self.notice)
        col.addWidget(self.numbers, 1)
        col.addWidget(self.report, 1)
        col.addWidget(self.report_button)

    def bind(self, doc: Document) -> None:
        if self.doc is not None:
            self.doc.annotations_changed.disconnect(self._on_annotations_changed)
            self.doc.exam_changed.disconnect(self.refresh)
            self.doc.view.changed.disconnect(self._on_view_changed)
        self.doc = doc
        doc.annotations_changed.connect(self._on_annotations_changed)
        doc.exam_changed.connect(self.refresh)
        doc.view.changed.connect(self._on_view_changed)
        self.refresh()

    def refresh(self) -> None:
        doc = self.doc
        if doc is None:
            return
        cls, report = doc.study_value("class"), doc.study_value("report")
        if cls is not None and not doc.shown(cls):
            cls = None
        value = doc.study_value("value", self.value_name.text())
        self.class_edit.setText("" if cls is None else str(cls.value))
        if value is not None:
            self.value_spin.blockSignals(True)
            self.value_spin.setValue(float(value.value or 0.0))
            self.value_spin.blockSignals(False)
        text = "" if report is None else str(report.value)
        if self.report.toPlainText() != text:
            self.report.setPlainText(text)
        linked = numbers_text(doc)
        if self.numbers.toPlainText() != linked:
            self.numbers.setPlainText(linked)
        present = [a for a in (cls, value, report) if a is not None]
        origins = [f"{a.kind}: {a.origin.value}, {a.review.value}" for a in present]
        self.origin_label.setText("; ".join(origins))

    def set_notice(self, text: str, warn: bool) -> None:
        """Show the active model's training-data statement above the report."""
        self.notice.setText(f"Model: {text}" if text else "")
        self.notice.setStyleSheet(WARN_STYLE if warn else "")
        self.notice.setVisible(bool(text))

    def full_report(self) -> str:
        """The report as exported: the model statement, the linked numbers and the free text."""
        if self.doc is None:
            return ""
        return report_text(self.doc, self.notice.text())

    def commit_class(self) -> None:
        doc, text = self.doc, self.class_edit.text().strip()
        if doc is None:
            return
        hidden = doc.study_value("class")
        if not text and hidden is not None and not doc.shown(hidden):
            return  # the field is empty because the model's class is hidden, not cleared by the user
        doc.apply(set_study_value(doc, "class", text))

    def commit_value(self) -> None:
        if self.doc is not None and self.value_name.text().strip():
            name = self.value_name.text().strip()
            self.doc.apply(set_study_value(self.doc, "value", self.value_spin.value(), name))

    def commit_report(self) -> None:
        if self.doc is not None:
            self.doc.apply(set_study_value(self.doc, "report", self.report.toPlainText()))

    def _on_annotations_changed(self, _ids: tuple[str, ...]) -> None:
        self.refresh()

    def _on_view_changed(self, name: str, _value: object) -> None:
        if name in SCORE_VIEW:
            self.refresh()
