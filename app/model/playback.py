"""Cine playback timing: which frame is on screen after some wall-clock time.

The frame is chosen from the cine's own timestamps by elapsed time, never by counting timer
ticks, so playback keeps the scanner's timing even when the display drops ticks.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.io.cine import Cine


def cine_duration_ms(cine: Cine) -> float:
    """Length of one pass: the last timestamp plus the last frame's own duration."""
    ts = cine.timestamps_ms
    if len(ts) < 2:
        return 0.0
    return ts[-1] + (ts[-1] - ts[-2])


@dataclass(frozen=True)
class PlaybackClock:
    """A playback run that started at wall time ``start_s`` from cine time ``start_ms``.

    Attributes:
        start_s: monotonic wall-clock seconds when playback (re)started.
        start_ms: cine time, in ms, shown at that moment.
        speed: speed factor (2.0 plays twice as fast).
        loop: wrap around at the end instead of stopping.
    """

    start_s: float
    start_ms: float
    speed: float = 1.0
    loop: bool = True

    def cine_time(self, cine: Cine, now_s: float) -> float | None:
        """Cine time in ms at ``now_s``; None once a non-looping run passed the end."""
        t = self.start_ms + (now_s - self.start_s) * 1000.0 * self.speed
        duration = cine_duration_ms(cine)
        if duration <= 0:
            return 0.0
        if t >= duration:
            return t % duration if self.loop else None
        return t

    def frame(self, cine: Cine, now_s: float) -> int | None:
        """The frame on screen at ``now_s``; None once a non-looping run ended."""
        t = self.cine_time(cine, now_s)
        return None if t is None else cine.frame_at_time(t)
