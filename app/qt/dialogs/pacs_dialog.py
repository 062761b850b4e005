"""Query/Retrieve and Send-to-PACS dialogs over the DICOM nodes in the settings.

Both pick a node by its name (or take ``AE@HOST:PORT`` or a DICOMweb URL typed in), and run the
network work on the thread pool (``engine.net``), so the window stays live; every failure is one
line in the dialog's status.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.model.settings import AppSettings
from app.qt.workers import Worker, start_tracked

COLUMNS = (
    "Date",
    "Patient ID",
    "Patient name",
    "Accession",
    "Modality",
    "Series",
    "Instances",
    "Description",
)


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


def node_box(settings: AppSettings) -> QComboBox:
    """An editable list of the configured nodes; a typed ``AE@HOST:PORT`` or URL works too."""
    box = QComboBox()
    box.setEditable(True)
    box.setMinimumWidth(320)
    for node in settings.dicom_nodes:
        box.addItem(node.name)
        box.setItemData(box.count() - 1, node.address(), Qt.ItemDataRole.ToolTipRole)
    box.lineEdit().setPlaceholderText("a configured node, AE@HOST:PORT or a DICOMweb URL")
    return box


def open_peer_named(text: str, settings: AppSettings) -> Any:
    """The peer a node box names (raises ConfigError for text that names none)."""
    from engine.net.nodes import parse_node
    from engine.net.peers import open_peer

    return open_peer(parse_node(text.strip(), settings.dicom_nodes), calling_ae=settings.listen_ae_title)


class _NetworkDialog(QDialog):
    """What both dialogs share: a node box, a status line and tracked background work."""

    def __init__(self, title: str, settings: AppSettings, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.settings = settings
        self.node = node_box(settings)
        self.status = QLabel("" if settings.dicom_nodes else "No DICOM node configured: add one in Settings")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._workers: set[Worker] = set()
        self._busy: list[QPushButton] = []

    def _run(self, what: str, fn: Callable[[Any], Any], done: Callable[[Any], None]) -> None:
        """Run ``fn(peer)`` in the background; ``done(result)`` on success, one line otherwise."""
        text = self.node.currentText()
        settings = self.settings
        self.status.setText(f"{what} {text}…")
        for button in self._busy:
            button.setEnabled(False)

        def work(progress: Any = None, cancel: Any = None) -> Any:
            return fn(open_peer_named(text, settings))

        worker = start_tracked(self._workers, work, done, self._failed)
        worker.signals.finished.connect(self._idle)

    def _failed(self, line: str) -> None:
        self.status.setText(f"Failed: {line}")

    def _idle(self) -> None:
        for button in self._busy:
            button.setEnabled(True)


class QueryRetrieveDialog(_NetworkDialog):
    """Find studies on a node and bring the chosen ones into the project.

    ``retrieved(count)`` after each retrieve, so the window lists the new studies.
    """

    retrieved = Signal(int)

    def __init__(self, project: Path, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__("Query/Retrieve", settings, parent)
        self.project = Path(project)
        self.patient_id, self.patient_name = QLineEdit(), QLineEdit()
        self.patient_name.setPlaceholderText("wildcards: DOE^*")
        self.date_from, self.date_to = QLineEdit(), QLineEdit()
        for field in (self.date_from, self.date_to):
            field.setPlaceholderText("YYYYMMDD")
        self.accession, self.modality = QLineEdit(), QLineEdit("US")
        self.echo_button, self.search_button = QPushButton("Echo"), QPushButton("Search")
        self.retrieve_button = QPushButton("Retrieve selected")
        self.retrieve_button.setEnabled(False)
        self._busy = [self.echo_button, self.search_button, self.retrieve_button]
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._on_selection)
        form = QFormLayout()
        form.addRow("Node", self.node)
        form.addRow("Patient ID", self.patient_id)
        form.addRow("Patient name", self.patient_name)
        dates = QHBoxLayout()
        dates.addWidget(self.date_from)
        dates.addWidget(QLabel("to"))
        dates.addWidget(self.date_to)
        form.addRow("Study date", dates)
        form.addRow("Accession", self.accession)
        form.addRow("Modality", self.modality)
        buttons = QHBoxLayout()
        for button in self._busy:
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        self.echo_button.clicked.connect(self.echo)
        self.search_button.clicked.connect(self.search)
        self.retrieve_button.clicked.connect(self.retrieve_selected)
        self.resize(900, 560)

    def query(self) -> Any:
        from engine.net.query import StudyQuery

        return StudyQuery(
            self.patient_id.text().strip(), self.patient_name.text().strip(), self.date_from.text().strip(),
            self.date_to.text().strip(), self.accession.text().strip(), self.modality.text().strip(),
        )  # fmt: skip

    def echo(self) -> None:
        self._run(
            "Echo to",
            lambda peer: peer.echo() or peer.node.address(),
            lambda a: self.status.setText(f"{a} answered"),
        )

    def search(self) -> None:
        from engine.errors import EchoCareError

        try:
            query = self.query()
        except EchoCareError as err:
            self.status.setText(f"Failed: {err.one_line()}")
            return
        self._run("Searching", lambda peer: peer.find(query), self.show_rows)

    def show_rows(self, rows: list[Any]) -> None:
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            cells = (
                row.date, row.patient_id, row.patient_name, row.accession, row.modalities,
                _count(row.series), _count(row.instances), row.description,
            )  # fmt: skip
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, row.study_uid)
                item.setToolTip(row.study_uid)
                self.table.setItem(i, j, item)
        self.status.setText(f"{len(rows)} studies on {self.node.currentText()}")

    def selected_studies(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectedIndexes()})
        return [self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in rows]

    def _on_selection(self) -> None:
        self.retrieve_button.setEnabled(bool(self.selected_studies()))

    def _idle(self) -> None:
        super()._idle()
        self._on_selection()  # retrieving needs a chosen study

    def retrieve_selected(self) -> None:
        from engine.net.peers import retrieve

        studies, project = self.selected_studies(), self.project

        def fetch(peer: Any) -> int:
            return sum(retrieve(peer, uid, project) for uid in studies)

        self._run(f"Retrieving {len(studies)} studies from", fetch, self._retrieved)

    def _retrieved(self, count: int) -> None:
        self.status.setText(f"{count} instances retrieved into {self.project}")
        self.retrieved.emit(count)


class SendResultsDialog(_NetworkDialog):
    """Export the project's results as DICOM SEG or SR and store them on a node."""

    def __init__(
        self, project: Path, study_id: int | None, settings: AppSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__("Send results to PACS", settings, parent)
        self.project, self.study_id = Path(project), study_id
        self.fmt = QComboBox()
        self.fmt.addItem("DICOM SEG (masks)", "dicom-seg")
        self.fmt.addItem("DICOM SR (measurements, findings)", "dicom-sr")
        self.scope = QComboBox()
        if study_id is not None:
            self.scope.addItem("The open study", study_id)
        self.scope.addItem("Every study of the project", None)
        self.deidentify = QCheckBox("Remove patient data (PS3.15 basic profile)")
        self.send_button = QPushButton("Send")
        self._busy = [self.send_button]
        form = QFormLayout(self)
        form.addRow("Node", self.node)
        form.addRow("Results", self.fmt)
        form.addRow("Studies", self.scope)
        form.addRow("", self.deidentify)
        form.addRow(self.send_button)
        form.addRow(self.status)
        self.send_button.clicked.connect(self.send)

    def send(self) -> None:
        from engine.net.peers import send_results

        project, fmt, study = self.project, self.fmt.currentData(), self.scope.currentData()
        deid = self.deidentify.isChecked()
        self._run("Sending to", lambda peer: send_results(project, fmt, peer, study, deid), self._sent)

    def _sent(self, result: Any) -> None:
        notes = f" ({'; '.join(result.notes)})" if result.notes else ""
        self.status.setText(
            f"{len(result.files)} {self.fmt.currentData()} files stored on {self.node.currentText()}{notes}"
        )
