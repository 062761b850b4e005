"""PlaybackController: plays the document's cine at the file's own timing.

A fast timer wakes the controller; each wake-up asks the PlaybackClock which frame belongs on
screen for the wall-clock time elapsed, so a late tick skips frames instead of slowing down.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer

from app.model.document import Document
from app.model.playback import PlaybackClock

TICK_MS = 5


class PlaybackController(QObject):
    """Starts, stops and re-times playback; all state lives in ``doc.view``."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc: Document | None = None
        self._clock: PlaybackClock | None = None
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._on_timer_timeout)

    def bind(self, doc: Document) -> None:
        self.stop()
        if self.doc is not None:
            self.doc.view.changed.disconnect(self._on_view_changed)
        self.doc = doc
        doc.view.changed.connect(self._on_view_changed)

    def play(self) -> None:
        if self.doc is not None and self.doc.n_frames > 1:
            self.doc.view.playing = True

    def stop(self) -> None:
        if self.doc is not None:
            self.doc.view.playing = False

    def toggle(self) -> None:
        if self.doc is not None:
            self.doc.view.playing = not self.doc.view.playing

    def _restart_clock(self) -> None:
        doc = self.doc
        assert doc is not None
        start_ms = doc.cine.timestamps_ms[doc.view.frame_index]
        self._clock = PlaybackClock(time.monotonic(), start_ms, doc.view.speed, doc.view.loop)

    def _on_view_changed(self, name: str, value: object) -> None:
        if name == "playing":
            if value:
                self._restart_clock()
                self._timer.start()
            else:
                self._timer.stop()
                self._clock = None
        elif name in ("speed", "loop") and self._clock is not None:
            self._restart_clock()

    def _on_timer_timeout(self) -> None:
        doc, clock = self.doc, self._clock
        if doc is None or clock is None:
            return
        frame = clock.frame(doc.cine, time.monotonic())
        if frame is None:
            doc.set_frame(doc.n_frames - 1)
            self.stop()
            return
        doc.set_frame(frame)
