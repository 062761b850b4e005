"""Progress reporting and cooperative cancellation for long, Qt-free work."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """One progress report: ``done`` of ``total`` units, with a short message."""

    done: int
    total: int
    message: str = ""

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, self.done / self.total)


ProgressFn = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """A ProgressFn that ignores every report."""


class Cancelled(Exception):
    """Raised inside work whose CancelToken was cancelled."""


class CancelToken:
    """A thread-safe flag checked between units of work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


class _NeverToken(CancelToken):
    def cancel(self) -> None:  # pragma: no cover - guard against misuse
        raise RuntimeError("the shared NEVER token cannot be cancelled")


NEVER = _NeverToken()
