"""A tiny Qt-free signal: the document announces changes and widgets listen."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Signal:
    """A list of callbacks called in order with the emitted arguments.

    The model emits past-tense events (``frame_changed``, ``annotations_changed``); Qt widgets
    connect setters to them. No threads are involved: only the GUI thread edits the document.
    """

    def __init__(self) -> None:
        self._slots: list[Callable[..., Any]] = []
        self._blocked = 0

    def connect(self, slot: Callable[..., Any]) -> Callable[..., Any]:
        """Call ``slot`` on every emit; returns it so this can be used as a decorator."""
        self._slots.append(slot)
        return slot

    def disconnect(self, slot: Callable[..., Any]) -> None:
        """Stop calling ``slot``; unknown slots are ignored."""
        if slot in self._slots:
            self._slots.remove(slot)

    def emit(self, *args: Any) -> None:
        """Call every connected slot with ``args`` unless the signal is blocked."""
        if self._blocked:
            return
        for slot in list(self._slots):
            slot(*args)

    def block(self) -> _Blocker:
        """A context manager that silences the signal while it is held."""
        return _Blocker(self)


class _Blocker:
    def __init__(self, signal: Signal) -> None:
        self._signal = signal

    def __enter__(self) -> None:
        self._signal._blocked += 1

    def __exit__(self, *exc: object) -> None:
        self._signal._blocked -= 1
