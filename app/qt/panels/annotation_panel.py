"""AnnotationPanel: labels (active label, colour, opacity) and the study's annotations.

Each row shows kind, frame, label, origin (with the drafting model) and review state, plus the
measurement for calipers. Accept, reject and delete act on the selected row via the window. AI
drafts scored below their calibrated threshold are not listed (the score slider shows them).
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.model.annotations import CALIPER_KINDS, Annotation
from app.model.document import SCORE_VIEW, Document
from app.qt.viewer.overlay_items import caption

COLUMNS = ("kind", "frame", "label", "origin", "review", "value")


def _swatch(color: tuple[int, int, int]) -> QPixmap:
    pix = QPixmap(12, 12)
    pix.fill(QColor(*color))
    return pix


class AnnotationPanel(QWidget):
    """``review_requested(state)``, ``delete_requested()`` and ``labels_edited()`` go to the window."""

    review_requested = Signal(str)
    delete_requested = Signal()
    labels_edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc: Document | None = None
        self._shown_meta: dict[int, object] = {}
        self.label_box = QComboBox()
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.color_button = QPushButton("Colour…")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.accept_button, self.reject_button = QPushButton("Accept"), QPushButton("Reject")
        self.delete_button = QPushButton("Delete")
        self._layout()
        self.label_box.currentIndexChanged.connect(self._on_label_box_changed)
        self.opacity.valueChanged.connect(self._on_opacity_changed)
        self.color_button.clicked.connect(self._on_color_clicked)
        self.tree.currentItemChanged.connect(self._on_tree_current_changed)
        self.accept_button.clicked.connect(lambda: self.review_requested.emit("accepted"))
        self.reject_button.clicked.connect(lambda: self.review_requested.emit("rejected"))
        self.delete_button.clicked.connect(self.delete_requested)

    def _layout(self) -> None:
        labels = QHBoxLayout()
        labels.addWidget(QLabel("Label"))
        labels.addWidget(self.label_box, 1)
        labels.addWidget(self.color_button)
        opacity = QHBoxLayout()
        opacity.addWidget(QLabel("Opacity"))
        opacity.addWidget(self.opacity)
        buttons = QHBoxLayout()
        for b in (self.accept_button, self.reject_button, self.delete_button):
            buttons.addWidget(b)
        col = QVBoxLayout(self)
        col.setContentsMargins(4, 4, 4, 4)
        col.addLayout(labels)
        col.addLayout(opacity)
        col.addWidget(self.tree, 1)
        col.addLayout(buttons)

    def bind(self, doc: Document) -> None:
        if self.doc is not None:
            self.doc.view.changed.disconnect(self._on_view_changed)
            self.doc.annotations_changed.disconnect(self._on_annotations_changed)
            self.doc.mask_changed.disconnect(self._on_mask_changed)
        self.doc = doc
        doc.view.changed.connect(self._on_view_changed)
        doc.annotations_changed.connect(self._on_annotations_changed)
        doc.mask_changed.connect(self._on_mask_changed)
        self.show_labels()
        self.show_annotations()

    def show_labels(self) -> None:
        doc = self.doc
        if doc is None:
            return
        self.label_box.blockSignals(True)
        self.label_box.clear()
        for lab in doc.labels:
            self.label_box.addItem(_swatch(lab.color), f"{lab.id} {lab.name}", lab.id)
        self.label_box.setCurrentIndex(max(0, self.label_box.findData(doc.view.active_label)))
        self.label_box.blockSignals(False)
        self.opacity.blockSignals(True)
        self.opacity.setValue(round(100 * doc.labels.get(doc.view.active_label).opacity))
        self.opacity.blockSignals(False)

    def show_annotations(self) -> None:
        doc = self.doc
        if doc is None:
            return
        current = doc.view.selected or next(iter(self.selected_ids()), None)
        self.tree.blockSignals(True)
        self.tree.clear()
        rows = [(a.id, self._row(doc, a)) for a in doc.annotations.values() if doc.shown(a)]
        self._shown_meta = dict(doc.mask_meta)
        for frame, meta in sorted(doc.mask_meta.items()):
            origin = meta.origin.value + (f" ({meta.model.label()})" if meta.model else "")
            rows.append((f"mask:{frame}", ("mask", frame, "", origin, meta.review.value, "")))
        for row_id, values in rows:
            item = QTreeWidgetItem([str(v) for v in values])
            item.setData(0, Qt.ItemDataRole.UserRole, row_id)
            self.tree.addTopLevelItem(item)
            if row_id == current:
                self.tree.setCurrentItem(item)
        self.tree.blockSignals(False)

    @staticmethod
    def _row(doc: Document, a: Annotation) -> tuple[object, ...]:
        origin = a.origin.value + (f" ({a.model.label()})" if a.model else "")
        label = doc.labels.get(a.label_id).name if a.label_id else ""
        value = caption(doc, a) if a.kind in CALIPER_KINDS else ("" if a.value is None else str(a.value))
        if a.name and a.kind not in CALIPER_KINDS:
            value = f"{a.name}: {value}"
        frame = "study" if a.frame < 0 else a.frame
        return (a.kind, frame, label, origin, a.review.value, str(value)[:60])

    def selected_ids(self) -> list[str]:
        item = self.tree.currentItem()
        return [] if item is None else [str(item.data(0, Qt.ItemDataRole.UserRole))]

    # -- handlers ----------------------------------------------------------------------------
    def _on_view_changed(self, name: str, _value: object) -> None:
        if name == "active_label":
            self.show_labels()
        elif name in ("selected", *SCORE_VIEW):
            self.show_annotations()

    def _on_annotations_changed(self, _ids: tuple[str, ...]) -> None:
        self.show_annotations()

    def _on_mask_changed(self, frame: int) -> None:
        # cheap check: a brush stroke fires this on every move, the rows change only with provenance
        if self.doc is not None and self.doc.mask_meta.get(frame) != self._shown_meta.get(frame):
            self.show_annotations()

    def _on_label_box_changed(self, index: int) -> None:
        if self.doc is not None and index >= 0:
            self.doc.view.active_label = int(self.label_box.itemData(index))

    def _on_opacity_changed(self, value: int) -> None:
        if self.doc is not None:
            self.doc.labels.with_opacity(self.doc.view.active_label, value / 100)
            self.labels_edited.emit()

    def _on_color_clicked(self) -> None:
        doc = self.doc
        if doc is None:
            return
        label = doc.labels.get(doc.view.active_label)
        color = QColorDialog.getColor(QColor(*label.color), self, f"Colour of {label.name}")
        if color.isValid():
            doc.labels.put(replace(label, color=(color.red(), color.green(), color.blue())))
            self.show_labels()
            self.labels_edited.emit()

    def _on_tree_current_changed(self, item: QTreeWidgetItem | None, _prev: object) -> None:
        doc = self.doc
        if doc is None or item is None:
            return
        ann_id = str(item.data(0, Qt.ItemDataRole.UserRole))
        ann = doc.annotations.get(ann_id)
        if ann is not None:
            if ann.frame >= 0:
                doc.set_frame(ann.frame)
            doc.view.selected = ann_id
        elif ann_id.startswith("mask:"):
            doc.view.selected = None  # the mask row is the selection now
            doc.set_frame(int(ann_id.split(":", 1)[1]))
