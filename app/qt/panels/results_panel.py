"""ResultsPanel: classification and value results, with overrides, review and enhancement view.

Two lists, read from the document's ``class`` and ``value`` annotations (study-wide first,
then per frame): each class row shows the model's probabilities and can be overridden with a
class from a combo box; each value (EF, areas, distances...) can be overridden with a number.
ED/ES frames come from the frame marks (an EF result drafts them). Every override, accept and
reject is one undoable command. The enhancement switch sets how enhanced frames show.

The score slider ("Minimum score") decides which class and box drafts the app shows: by default
each label's calibrated threshold from the model card, else one minimum for every label (0
shows them all). Drafts below it stay in the study; a line says how many are hidden.
"""

from __future__ import annotations

import contextlib

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.model import commands
from app.model.annotations import Annotation, Review
from app.model.document import SCORE_VIEW, Document
from app.model.scores import CARD

ENHANCEMENT_MODES = (("off", "Original frame"), ("on", "Enhanced frame"), ("side", "Side by side"))


def _origin(a: Annotation) -> str:
    return a.origin.value + (f" ({a.model.label()})" if a.model else "")


def _frame(a: Annotation) -> str:
    return "study" if a.frame < 0 else str(a.frame)


def _order(a: Annotation) -> tuple[int, str]:
    return (a.frame, a.name)


class ResultsPanel(QWidget):
    """Class and value results of the open study. ``review_requested(ids, state)`` asks the
    window to accept or reject."""

    review_requested = Signal(list, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: Document | None = None
        self.class_tree = QTreeWidget()
        self._last_tree = self.class_tree
        self.class_tree.setHeaderLabels(["frame", "class", "probabilities", "origin", "review"])
        self.class_box = QComboBox()
        self.class_box.setEditable(True)
        self.class_button = QPushButton("Override class")
        self.value_tree = QTreeWidget()
        self.value_tree.setHeaderLabels(["frame", "name", "value", "origin", "review"])
        self.value_spin = QDoubleSpinBox()
        self.value_spin.setRange(-1e6, 1e6)
        self.value_spin.setDecimals(2)
        self.value_button = QPushButton("Override value")
        self.accept_button, self.reject_button = QPushButton("Accept"), QPushButton("Reject")
        self.marks_label = QLabel("ED/ES: none")
        self.score_card = QCheckBox("Card thresholds")
        self.score_card.setChecked(True)
        self.score_card.setToolTip("Each label's calibrated threshold from the model card (0 if none)")
        self.score_slider = QSlider(Qt.Orientation.Horizontal)
        self.score_slider.setRange(0, 100)
        self.score_slider.setEnabled(False)
        self.score_label = QLabel(f"Minimum score: {CARD}")
        self.score_label.setObjectName("min_score")
        self.hidden_label = QLabel("")
        self.hidden_label.setObjectName("hidden_drafts")
        self.enhance_box = QComboBox()
        for mode, text in ENHANCEMENT_MODES:
            self.enhance_box.addItem(text, mode)
        for tree in (self.class_tree, self.value_tree):
            tree.setRootIsDecorated(False)
        self._layout()
        self.class_tree.currentItemChanged.connect(self._on_class_current_changed)
        self.value_tree.currentItemChanged.connect(self._on_value_current_changed)
        self.class_button.clicked.connect(self.override_class)
        self.value_button.clicked.connect(self.override_value)
        self.accept_button.clicked.connect(lambda: self._review(Review.ACCEPTED))
        self.reject_button.clicked.connect(lambda: self._review(Review.REJECTED))
        self.enhance_box.currentIndexChanged.connect(self._on_enhance_changed)
        self.score_card.toggled.connect(self._on_score_changed)
        self.score_slider.valueChanged.connect(self._on_score_changed)

    def _layout(self) -> None:
        col = QVBoxLayout(self)
        col.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        row.addWidget(self.score_label, 1)
        row.addWidget(self.score_card)
        col.addLayout(row)
        col.addWidget(self.score_slider)
        col.addWidget(self.hidden_label)
        col.addWidget(QLabel("Classification"))
        col.addWidget(self.class_tree, 1)
        row = QHBoxLayout()
        row.addWidget(self.class_box, 1)
        row.addWidget(self.class_button)
        col.addLayout(row)
        col.addWidget(QLabel("Values (EF, areas, distances)"))
        col.addWidget(self.value_tree, 1)
        row = QHBoxLayout()
        row.addWidget(self.value_spin, 1)
        row.addWidget(self.value_button)
        col.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(self.accept_button)
        row.addWidget(self.reject_button)
        col.addLayout(row)
        col.addWidget(self.marks_label)
        row = QHBoxLayout()
        row.addWidget(QLabel("Enhancement"))
        row.addWidget(self.enhance_box, 1)
        col.addLayout(row)

    def bind(self, doc: Document) -> None:
        """Show ``doc``'s results and follow its changes."""
        if self.doc is not None:
            self.doc.annotations_changed.disconnect(self._on_annotations_changed)
            self.doc.view.changed.disconnect(self._on_view_changed)
        self.doc = doc
        doc.annotations_changed.connect(self._on_annotations_changed)
        doc.view.changed.connect(self._on_view_changed)
        doc.set_min_score(self.min_score)
        self.refresh()
        self._show_enhancement()

    # -- the score slider -----------------------------------------------------------------------
    @property
    def min_score(self) -> float | None:
        """The minimum score of the drafts shown; None: the card thresholds."""
        return None if self.score_card.isChecked() else self.score_slider.value() / 100

    def set_min_score(self, value: float | None) -> None:
        """Show drafts scored at least ``value`` (0..1), or by the card thresholds (None)."""
        self.score_card.setChecked(value is None)
        if value is not None:
            self.score_slider.setValue(round(100 * value))
        self._on_score_changed()

    def _on_score_changed(self, *_args: object) -> None:
        value = self.min_score
        self.score_slider.setEnabled(value is not None)
        self.score_label.setText(f"Minimum score: {CARD if value is None else f'{value:.2f}'}")
        if self.doc is not None:
            self.doc.set_min_score(value)

    # -- showing -----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Rebuild both lists and the ED/ES line from the document."""
        doc = self.doc
        if doc is None:
            return
        classes = [a for a in doc.of_kind("class") if doc.shown(a)]
        self._fill(self.class_tree, sorted(classes, key=_order), self._class_row)
        self._fill(self.value_tree, sorted(doc.of_kind("value"), key=_order), self._value_row)
        marks = doc.frame_marks()
        shown = [f"{k} {', '.join(map(str, v))}" for k, v in marks.items() if v]
        self.marks_label.setText("ED/ES frames: " + ("; ".join(shown) if shown else "none"))
        names = {str(a.value) for a in classes}
        names |= {k for a in classes for k, _ in a.scores}
        hidden = doc.hidden()
        self.hidden_label.setText(
            f"{len(hidden)} draft(s) below the minimum score hidden (kept in the study)" if hidden else ""
        )
        current = self.class_box.currentText()
        self.class_box.blockSignals(True)
        self.class_box.clear()
        self.class_box.addItems(sorted(names))
        self.class_box.setCurrentText(current if current else "")
        self.class_box.blockSignals(False)

    @staticmethod
    def _fill(tree: QTreeWidget, anns: list[Annotation], row: object) -> None:
        selected = tree.currentItem().data(0, Qt.ItemDataRole.UserRole) if tree.currentItem() else None
        tree.blockSignals(True)
        tree.clear()
        for a in anns:
            item = QTreeWidgetItem(row(a))  # type: ignore[operator]
            item.setData(0, Qt.ItemDataRole.UserRole, a.id)
            tree.addTopLevelItem(item)
            if a.id == selected:
                tree.setCurrentItem(item)
        tree.blockSignals(False)

    @staticmethod
    def _class_row(a: Annotation) -> list[str]:
        probs = ", ".join(f"{k} {p:.2f}" for k, p in a.scores)
        return [_frame(a), str(a.value), probs, _origin(a), a.review.value]

    @staticmethod
    def _value_row(a: Annotation) -> list[str]:
        try:
            value = f"{float(a.value):.2f}"  # type: ignore[arg-type]
        except (TypeError, ValueError):
            value = str(a.value)
        return [_frame(a), a.name, value, _origin(a), a.review.value]

    def _show_enhancement(self) -> None:
        doc = self.doc
        if doc is not None:
            self.enhance_box.blockSignals(True)
            self.enhance_box.setCurrentIndex(max(0, self.enhance_box.findData(doc.view.enhancement)))
            self.enhance_box.blockSignals(False)

    # -- editing -----------------------------------------------------------------------------
    def _current(self, tree: QTreeWidget) -> Annotation | None:
        item = tree.currentItem()
        if self.doc is None or item is None:
            return None
        return self.doc.annotations.get(str(item.data(0, Qt.ItemDataRole.UserRole)))

    def override_class(self) -> None:
        """Give the selected class row (or the study, when none is selected) the combo's class."""
        doc, name = self.doc, self.class_box.currentText().strip()
        if doc is None or not name:
            return
        old = self._current(self.class_tree)
        if old is None:
            doc.apply(commands.set_study_value(doc, "class", name))
        elif old.value != name or old.review is not Review.ACCEPTED:
            doc.apply(commands.update(old, old.corrected(value=name), "override class"))

    def override_value(self) -> None:
        """Give the selected value row the spin box's number (a person's override)."""
        doc, old = self.doc, self._current(self.value_tree)
        if doc is None or old is None:
            return
        value = round(self.value_spin.value(), 6)
        if old.value != value or old.review is not Review.ACCEPTED:
            doc.apply(commands.update(old, old.corrected(value=value), f"override {old.name or 'value'}"))

    def _review(self, state: Review) -> None:
        """Accept or reject the row picked last (class or value)."""
        picked = self._current(self._last_tree)
        if picked is not None:
            self.review_requested.emit([picked.id], state.value)

    # -- handlers ----------------------------------------------------------------------------
    def _on_annotations_changed(self, _ids: tuple[str, ...]) -> None:
        self.refresh()

    def _on_view_changed(self, name: str, _value: object) -> None:
        if name == "enhancement":
            self._show_enhancement()
        elif name in SCORE_VIEW:
            self.refresh()

    def _on_class_current_changed(self, item: QTreeWidgetItem | None, _prev: object) -> None:
        a = self._current(self.class_tree) if item is not None else None
        self._last_tree = self.class_tree
        if a is not None:
            self.class_box.setCurrentText(str(a.value))
            if a.frame >= 0 and self.doc is not None:
                self.doc.set_frame(a.frame)

    def _on_value_current_changed(self, item: QTreeWidgetItem | None, _prev: object) -> None:
        a = self._current(self.value_tree) if item is not None else None
        self._last_tree = self.value_tree
        if a is None:
            return
        with contextlib.suppress(TypeError, ValueError):
            self.value_spin.setValue(float(a.value))  # type: ignore[arg-type]
        if a.frame >= 0 and self.doc is not None:
            self.doc.set_frame(a.frame)

    def _on_enhance_changed(self, index: int) -> None:
        if self.doc is not None and index >= 0:
            self.doc.view.enhancement = str(self.enhance_box.itemData(index))
