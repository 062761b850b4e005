"""MainWindow: the shell that builds the panels, menus and status bar and wires them.

It owns the project session; the document is the single source of truth and every widget is
bound to it. File handling lives here; edit, cine and review handlers in ``EditHandlers``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QWidget,
)

from app.model.document import NO_MODEL, Document
from app.model.session import Opener, Session, open_cine
from app.model.settings import AppSettings, load_settings, save_settings
from app.paths import default_project_dir
from app.qt.actions import build_actions
from app.qt.autosave import AutosaveController
from app.qt.dialogs.cheat_sheet import CheatSheetDialog
from app.qt.dialogs.settings_dialog import SettingsDialog
from app.qt.edit_handlers import EditHandlers
from app.qt.inference_controller import InferenceController
from app.qt.loop import install_loop_panels
from app.qt.network import ReceiveController
from app.qt.panels.annotation_panel import AnnotationPanel
from app.qt.panels.cine_panel import CinePanel
from app.qt.panels.findings_panel import FindingsPanel
from app.qt.panels.inference_panel import WARN_STYLE, InferencePanel
from app.qt.panels.results_panel import ResultsPanel
from app.qt.panels.study_list import StudyListPanel
from app.qt.playback import PlaybackController
from app.qt.smart_controller import SmartController
from app.qt.tools import Tool, ToolContext
from app.qt.viewer.frame_view import FrameViewWidget
from engine.errors import EchoCareError
from engine.project import ProjectStore

RECOVERED = "Recovered after an unexpected exit: every edit up to the last autosave is restored"
ERROR_STYLE = "color: #ff6b6b; font-weight: bold"


class MainWindow(EditHandlers, QMainWindow):
    """The EchoCare Studio window.

    Args:
        project_dir: the project folder (the last or default project when None).
        opener: reads a file or folder as a Cine.
        settings: preferences (read from the user config folder when None).

    Raises:
        ProjectError: the project database cannot be opened.
    """

    def __init__(
        self,
        project_dir: str | Path | None = None,
        opener: Opener = open_cine,
        settings: AppSettings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        warning = ""
        if settings is None:
            settings, warning = load_settings()
        self.settings = settings
        folder = Path(project_dir or settings.last_project or default_project_dir())
        store = ProjectStore(folder)
        recovered = store.recovered
        store.mark_open()
        self.session = Session(store, opener)
        self.doc: Document | None = None
        self.tool: Tool | None = None
        self.tool_ctx = ToolContext(brush_radius=settings.brush_radius, report=self.show_message)
        self._closed = False
        self._cheat_sheet: CheatSheetDialog | None = None
        self.model_notice, self._model_warn = "", False
        self._build_widgets()
        self.inference = InferenceController(self.inference_panel, self)
        self.inference.notice_changed.connect(self.set_model_notice)
        self.inference.message.connect(self.show_message)
        self.inference.error.connect(self.show_error)
        self.inference_panel.enhance_requested.connect(self.show_enhanced_view)
        self.inference_panel.manual_requested.connect(self.annotate_by_hand)
        self.smart = SmartController(self.inference, self)
        self.smart.message.connect(self.show_message)
        self.smart.error.connect(self.show_error)
        self.tool_ctx.prompt = self.smart.prompt
        self.loop_panels = install_loop_panels(self)
        self.actions = build_actions(self, self.loop_panels.targets)
        for key in ("tool.keep", "tool.drop", "tool.other"):  # Enter, Esc, Tab stay the fields' elsewhere
            action = self.actions[key]
            self.removeAction(action)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.view.addAction(action)
        self._build_recent_menu()
        self.autosave = AutosaveController(self.session, settings.autosave_delay_ms, self)
        self.autosave.saved.connect(lambda: self.autosave_label.setText("saved"))
        self.autosave.failed.connect(self.show_error)
        self.playback = PlaybackController(self)
        self.receive = ReceiveController(self)
        self.receive.received.connect(self._on_received)
        self.receive.logged.connect(self.show_message)
        self.receive.state_changed.connect(self.receive_label.setText)
        self.setAcceptDrops(True)
        self.setWindowTitle("EchoCare Studio")
        self.resize(1280, 860)
        self._clear_document()
        self._show_studies()
        self.inference.refresh_models()
        self._share_report_place(tuple(self.loop_panels.docks.values()))
        if recovered or warning:
            self.show_message(RECOVERED if recovered else warning)

    # -- construction ------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.view = FrameViewWidget(self)
        self.setCentralWidget(self.view)
        self.cine_panel = CinePanel()
        self.studies = StudyListPanel()
        self.annotations = AnnotationPanel()
        self.findings = FindingsPanel()
        self.inference_panel = InferencePanel()
        self.results = ResultsPanel()
        docks = (
            ("Cine", self.cine_panel, Qt.DockWidgetArea.BottomDockWidgetArea),
            ("Studies", self.studies, Qt.DockWidgetArea.LeftDockWidgetArea),
            ("Model", self.inference_panel, Qt.DockWidgetArea.LeftDockWidgetArea),
            ("Annotations", self.annotations, Qt.DockWidgetArea.RightDockWidgetArea),
            ("AI results", self.results, Qt.DockWidgetArea.RightDockWidgetArea),
            ("Findings and report", self.findings, Qt.DockWidgetArea.RightDockWidgetArea),
        )
        self.docks: dict[str, QDockWidget] = {}
        for title, widget, area in docks:
            scroll = widget is self.findings or widget is self.inference_panel  # forms of many rows
            self.docks[title] = self.add_dock(title, widget, area, scroll=scroll)
        self.tabifyDockWidget(self.docks["Annotations"], self.docks["AI results"])
        self.docks["Annotations"].raise_()
        self.message_label = QLabel()
        self.cursor_label = QLabel("")
        self.model_card_label = QLabel()
        self.model_card_label.setObjectName("model_card")
        self.autosave_label = QLabel("")
        self.receive_label = QLabel("")
        self.statusBar().addWidget(self.message_label, 1)
        for label in (self.cursor_label, self.receive_label, self.autosave_label, self.model_card_label):
            self.statusBar().addPermanentWidget(label)
        self.view.cursor_moved.connect(self.cursor_label.setText)
        self.view.failed.connect(self.show_error)
        self.studies.study_activated.connect(self.open_study)
        self.cine_panel.play_toggled.connect(self.toggle_play)
        self.cine_panel.mark_toggled.connect(self.toggle_mark)
        self.annotations.review_requested.connect(self.review_selected)
        self.annotations.delete_requested.connect(self.delete_selected)
        self.annotations.labels_edited.connect(self._on_labels_edited)
        self.results.review_requested.connect(self.review_ids)
        self._show_model_card("no model loaded")

    def add_dock(
        self, title: str, widget: QWidget, area: Qt.DockWidgetArea, scroll: bool = False
    ) -> QDockWidget:
        """A dock titled ``title`` holding ``widget``, added in ``area``. With ``scroll`` the widget
        scrolls when the dock is shorter than it, rather than forcing its full height on the
        window (the viewer keeps its room) or squeezing its rows over each other."""
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        if scroll:
            area_widget = QScrollArea(dock)
            area_widget.setWidgetResizable(True)
            area_widget.setWidget(widget)
            widget = area_widget
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _share_report_place(self, docks: tuple[QDockWidget, ...]) -> None:
        """Put these docks in tabs beside the report, so the viewer keeps its room.

        Hidden while they are tabbed in: each step of a growing tab group leaves the tab bar of
        the step before behind, and one left shown is painted over the window."""
        report = self.docks["Findings and report"]
        for dock in docks:
            dock.hide()
            self.tabifyDockWidget(report, dock)
        for dock in docks:
            dock.show()
        report.raise_()

    @property
    def _panels(self) -> tuple[QWidget, ...]:
        """The panels that need an open study."""
        return (self.cine_panel, self.annotations, self.findings, self.results)

    def _build_recent_menu(self) -> None:
        file_menu = self.actions["file.open"].associatedObjects()[0]
        self.recent_menu = QMenu("Open &recent", self)
        assert isinstance(file_menu, QMenu)
        file_menu.insertMenu(self.actions["file.open_project"], self.recent_menu)
        self._fill_recent_menu()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_files:
            self.recent_menu.addAction(path, lambda p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(self.settings.recent_files))

    # -- messages ----------------------------------------------------------------------------
    def show_message(self, text: str) -> None:
        """Show an informational one-liner in the status bar."""
        self.message_label.setStyleSheet("")
        self.message_label.setText(text)

    def show_error(self, text: str) -> None:
        """Show a one-line error (``PATH: reason``) in the status bar, in red."""
        self.message_label.setStyleSheet(ERROR_STYLE)
        self.message_label.setText(text)

    @property
    def last_message(self) -> str:
        return self.message_label.text()

    def _on_labels_edited(self) -> None:
        self.view.refresh_labels()
        if self.doc is not None:
            self.session.save_labels(self.doc.labels)

    def _show_model_card(self, text: str) -> None:
        self.model_card_label.setText(f"Model: {text}")
        self.model_card_label.setStyleSheet(WARN_STYLE if self._model_warn else "")

    def set_model_notice(self, text: str, warn: bool) -> None:
        """Show the active model's training-data statement in the status bar and the report."""
        self.model_notice, self._model_warn = text, warn
        self.findings.set_notice(text if text != NO_MODEL else "", warn)
        if self.doc is not None:
            self.doc.set_model_card(text)  # the document announces it; the label follows
        self._show_model_card(text)

    # -- model runs --------------------------------------------------------------------------
    def run_inference(self) -> None:
        """Run the model panel's choice on the open study in the background."""
        if self.doc is None:
            self.show_message("open a study first")
        elif not self.inference.run() and not self.inference.running:
            self.show_message("nothing to run")

    def cancel_inference(self) -> None:
        self.inference.cancel()

    def show_enhanced_view(self) -> None:
        """Show the enhanced frames beside the originals (offered when the exam is unknown)."""
        if self.doc is not None and self.doc.view.enhancement != "side":
            self.toggle_enhancement("side")
        elif self.doc is not None and not self.doc.enhanced:
            self.show_message("no enhanced frames yet: run the model's enhancement task")

    def annotate_by_hand(self) -> None:
        """Pick the brush (offered when the exam is unknown); every manual tool is in Tools."""
        if self.doc is not None:
            self.set_tool("brush")
            self.actions["tool.brush"].setChecked(True)
            self.show_message("manual tools: brush, eraser, box, landmark and calipers (Tools menu)")

    def refresh_models(self) -> None:
        self.inference.refresh_models()

    # -- documents ---------------------------------------------------------------------------
    def open_path(self, path: str | Path) -> bool:
        """Open a file or folder as a study of the project; errors go to the status bar."""
        self.playback.stop()
        try:
            doc = self.session.open_path(path)
        except EchoCareError as err:
            self.show_error(err.one_line())
            return False
        self._set_document(doc)
        self.show_message(f"opened {Path(path).name}")
        self._remember(str(Path(path).resolve()))
        return True

    def open_study(self, study_id: int) -> bool:
        """Open a study already in the project."""
        self.playback.stop()
        try:
            doc = self.session.open_study(study_id)
        except EchoCareError as err:
            self.show_error(err.one_line())
            return False
        self._set_document(doc)
        return True

    def _set_document(self, doc: Document) -> None:
        old = self.doc
        if old is not None:
            old.history.changed.disconnect(self._on_history_changed)
            old.model_card_changed.disconnect(self._show_model_card)
        self.doc = doc
        doc.view.speed, doc.view.loop = self.settings.playback_speed, self.settings.playback_loop
        for widget in (
            self.view,
            self.cine_panel,
            self.annotations,
            self.findings,
            self.results,
            self.playback,
        ):
            widget.bind(doc)
        self.inference.bind(doc)
        self.smart.bind(doc)
        for panel in self._panels:
            panel.setEnabled(True)
        if self.model_notice:
            doc.model_card = self.model_notice
        self.autosave.bind(doc)
        doc.history.changed.connect(self._on_history_changed)
        doc.model_card_changed.connect(self._show_model_card)
        self._show_model_card(doc.model_card)
        self.set_tool(doc.view.tool)
        self.actions[f"tool.{doc.view.tool}"].setChecked(True)
        self._on_history_changed()
        self._show_studies()
        assert self.session.study is not None
        self.setWindowTitle(f"EchoCare Studio — {self.session.study.rel_path}")

    def _show_studies(self) -> None:
        current = self.session.study.id if self.session.study else None
        store = self.session.store
        self.studies.show_studies(str(store.folder), store.studies(), current, store.study_groups())

    def _on_history_changed(self) -> None:
        history = self.doc.history if self.doc is not None else None
        for key, can, text in (
            ("edit.undo", history and history.can_undo, history and history.undo_text),
            ("edit.redo", history and history.can_redo, history and history.redo_text),
        ):
            self.actions[key].setEnabled(bool(can))
            self.actions[key].setText(f"&{key.split('.')[1].title()} {text or ''}".rstrip())
        if history is not None:
            self.autosave_label.setText("unsaved" if self.session.dirty else "saved")

    def _remember(self, path: str) -> None:
        self.settings = self.settings.with_recent(path)
        self._save_settings()
        self._fill_recent_menu()

    def _save_settings(self) -> None:
        """Save the preferences; a failure is shown and never interrupts what the user is doing."""
        try:
            save_settings(self.settings)
        except EchoCareError as err:
            self.show_error(err.one_line())

    # -- file actions ------------------------------------------------------------------------
    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open ultrasound file")
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of frames")
        if path:
            self.open_path(path)

    def open_project_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open or create a project folder")
        if path:
            self.open_project(path)

    def open_project(self, folder: str | Path) -> bool:
        """Switch to another project; the current one is saved and closed first."""
        try:
            store = ProjectStore(folder)
        except EchoCareError as err:
            self.show_error(err.one_line())
            return False
        self.playback.stop()
        if not self._saved_or_discarded():
            store.close()
            return False
        self.session.close(save=False)
        store.mark_open()
        self.session = Session(store, self.session.opener)
        if self.receive.running:  # the listener follows the open project
            self.toggle_receive(restart=True)
        self.autosave.session = self.session
        self.settings = replace(self.settings, last_project=str(store.folder))
        self._save_settings()
        self._clear_document()
        self._show_studies()
        self.show_message(RECOVERED if store.recovered else f"project {store.folder}")
        studies = store.studies()
        if studies:
            self.open_study(studies[-1].id)
        return True

    def _clear_document(self) -> None:
        """Show no study: the panels are disabled until one is opened."""
        self.doc = None
        self.tool = None
        self.view.show_nothing()
        self.inference.unbind()
        self.smart.unbind()
        self.smart.set_tool(None)
        self._on_proposal_changed()
        for panel in self._panels:
            panel.setEnabled(False)
        self.setWindowTitle("EchoCare Studio")

    def save(self) -> None:
        self.autosave.save_now()
        self.show_message("saved")

    def show_export(self) -> None:
        """Open the export dialog on the saved project (the open study offered as the scope)."""
        from app.qt.dialogs.export_dialog import ExportDialog  # its exporters load on first use

        self.autosave.save_now()
        study = self.session.study.id if self.session.study is not None and self.doc is not None else None
        dialog = ExportDialog(self.session.store.folder, study, self)
        dialog.accepted.connect(lambda: self.show_message(dialog.status.text()))
        self.export_dialog = dialog
        dialog.open()

    # -- DICOM network -----------------------------------------------------------------------
    def toggle_receive(self, restart: bool = False) -> None:
        """Switch the DICOM listener on or off (``restart``: on again, for the open project)."""
        if self.receive.running and not restart:
            self.receive.stop()
            self.show_message("stopped receiving")
        else:
            error = self.receive.start(self.session.store.folder, self.settings)
            if error:
                self.show_error(error)
        self.actions["dicom.receive"].setChecked(self.receive.running)

    def _on_received(self, line: str, study_id: int) -> None:
        self.show_message(line)
        if study_id >= 0:
            self._show_studies()

    def show_query_retrieve(self) -> None:
        from app.qt.dialogs.pacs_dialog import QueryRetrieveDialog

        dialog = QueryRetrieveDialog(self.session.store.folder, self.settings, self)
        dialog.retrieved.connect(lambda _count: self._show_studies())
        self.pacs_dialog = dialog
        dialog.open()

    def show_send_results(self) -> None:
        from app.qt.dialogs.pacs_dialog import SendResultsDialog

        self.autosave.save_now()
        study = self.session.study.id if self.session.study is not None and self.doc is not None else None
        self.pacs_dialog = SendResultsDialog(self.session.store.folder, study, self.settings, self)
        self.pacs_dialog.open()

    def show_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            self.apply_settings(dialog.result_settings())

    def apply_settings(self, settings: AppSettings) -> None:
        """Use and save new preferences."""
        listen_changed = (settings.listen_ae_title, settings.listen_port, settings.dicom_nodes) != (
            self.settings.listen_ae_title, self.settings.listen_port, self.settings.dicom_nodes,
        )  # fmt: skip
        self.settings = settings
        self.tool_ctx.brush_radius = settings.brush_radius
        self.autosave.set_delay(settings.autosave_delay_ms)
        self._save_settings()
        if listen_changed and self.receive.running:
            self.toggle_receive(restart=True)

    def show_cheat_sheet(self) -> None:
        if self._cheat_sheet is None:
            self._cheat_sheet = CheatSheetDialog(self)
        self._cheat_sheet.show()
        self._cheat_sheet.raise_()

    # -- Qt events ---------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_path(paths[0])

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            self.playback.stop()
            if not self._saved_or_discarded():
                event.ignore()
                return
            self._closed = True
            self.receive.stop()
            self.inference.shutdown()
            self.smart.shutdown()
            self.session.close(save=False)
        event.accept()

    def _saved_or_discarded(self) -> bool:
        """Save the current study; when that fails, ask whether to go on without the changes."""
        self.autosave.stop()
        try:
            self.session.save()
        except EchoCareError as err:
            self.show_error(err.one_line())
            return self.confirm_discard(err.one_line())
        return True

    def confirm_discard(self, error: str) -> bool:
        """Ask whether to drop edits that could not be saved; False keeps the window as it is."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Changes not saved", error, parent=self)
        box.setInformativeText("Go on without them, or cancel, free space or fix the folder, and save?")
        box.setStandardButtons(QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        return box.exec() == QMessageBox.StandardButton.Discard
