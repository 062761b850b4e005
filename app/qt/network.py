"""ReceiveController: the app's DICOM listener behind the *Receive* switch.

The listener (``engine.net.listener.Listener``, the one ``echocare listen`` runs) writes what
arrives into the open project through its own database connection; each stored instance comes
back here as a signal on the GUI thread, so the window refreshes its study list while the
listener runs. It accepts the calling AE titles of the DICOM nodes in the settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.model.settings import AppSettings


class ReceiveController(QObject):
    """``received(line, study_id)`` per stored instance (study id -1 for SEG, SR, PDF);
    ``logged(line)`` for refusals and association events; ``state_changed(text)`` for the
    status bar ("" when off)."""

    received = Signal(str, int)
    logged = Signal(str)
    state_changed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.listener: Any = None
        self.count = 0

    @property
    def running(self) -> bool:
        return self.listener is not None

    def start(self, project: Path, settings: AppSettings) -> str:
        """Listen for the project; returns "" or a one-line reason it could not start."""
        from engine.net.listener import Listener

        self.stop()
        allow = settings.node_ae_titles()
        if not allow:
            return "no DICOM node is configured: add the scanners and PACS that may send in Settings"
        try:
            listener = Listener(
                project, settings.listen_ae_title, settings.listen_port, allow=allow,
                log=self.logged.emit, on_received=self._on_received,
            )  # fmt: skip
            listener.start()
        except (OSError, ValueError) as err:
            reason = getattr(err, "strerror", None) or err
            return f"cannot listen on port {settings.listen_port}: {reason}"
        self.listener, self.count = listener, 0
        self._say()
        return ""

    def stop(self) -> None:
        """Stop listening; instances in flight are finished first."""
        if self.listener is not None:
            listener, self.listener = self.listener, None
            listener.stop(timeout=10)
            self.state_changed.emit("")

    def _on_received(self, item: Any) -> None:  # in the association's thread
        self.count += 1
        study = item.record.study_id
        self.received.emit(item.line(), -1 if study is None else int(study))
        self._say()

    def _say(self) -> None:
        listener = self.listener
        if listener is not None:
            self.state_changed.emit(
                f"Receiving as {listener.ae_title}:{listener.port} · {self.count} received"
            )
