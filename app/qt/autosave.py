"""AutosaveController: saves the session shortly after edits, at most 2 s after the first one.

Each change restarts a short quiet-time timer (the debounce); a deadline timer started by the
first unsaved change guarantees the save happens within ``MAX_WAIT_MS`` even while the user
keeps editing.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from app.model.document import Document
from app.model.session import Session
from engine.errors import EchoCareError

MAX_WAIT_MS = 2000


class AutosaveController(QObject):
    """Watches the document and saves the session; ``saved()`` fires after each write."""

    saved = Signal()
    failed = Signal(str)

    def __init__(self, session: Session, delay_ms: int = 1000, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._doc: Document | None = None
        self._quiet = QTimer(self, singleShot=True, interval=min(delay_ms, MAX_WAIT_MS))
        self._deadline = QTimer(self, singleShot=True, interval=MAX_WAIT_MS)
        self._quiet.timeout.connect(self.save_now)
        self._deadline.timeout.connect(self.save_now)

    def set_delay(self, delay_ms: int) -> None:
        self._quiet.setInterval(min(delay_ms, MAX_WAIT_MS))

    def bind(self, doc: Document) -> None:
        if self._doc is not None:
            self._doc.history.changed.disconnect(self.schedule)
            self._doc.mask_changed.disconnect(self._on_doc_mask_changed)
        self._doc = doc
        doc.history.changed.connect(self.schedule)
        doc.mask_changed.connect(self._on_doc_mask_changed)

    def _on_doc_mask_changed(self, _frame: int) -> None:
        self.schedule()

    def schedule(self) -> None:
        """Note a change: save after the quiet time, and by the deadline at the latest."""
        self._quiet.start()
        if not self._deadline.isActive():
            self._deadline.start()

    @property
    def pending(self) -> bool:
        return self._quiet.isActive() or self._deadline.isActive()

    def stop(self) -> None:
        """Cancel a pending save (the caller saves itself)."""
        self._quiet.stop()
        self._deadline.stop()

    def save_now(self) -> None:
        """Save at once (also what Ctrl+S does)."""
        self.stop()
        try:
            if self.session.save():
                self.saved.emit()
        except EchoCareError as err:
            self.failed.emit(err.one_line())
