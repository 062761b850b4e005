"""Undo/redo of document commands, with gesture grouping (one brush stroke is one step)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from app.model.events import Signal

if TYPE_CHECKING:
    from app.model.document import Document


class Command(Protocol):
    """One reversible edit. ``do`` and ``undo`` change the document through its mutators."""

    text: str

    def do(self, doc: Document) -> None: ...

    def undo(self, doc: Document) -> None: ...


class Composite:
    """Several commands done in order and undone in reverse, as one history step."""

    def __init__(self, text: str, commands: list[Command] | tuple[Command, ...]) -> None:
        self.text = text
        self.commands = tuple(commands)

    def do(self, doc: Document) -> None:
        with doc.bulk():
            for cmd in self.commands:
                cmd.do(doc)

    def undo(self, doc: Document) -> None:
        with doc.bulk():
            for cmd in reversed(self.commands):
                cmd.undo(doc)


class History:
    """The undo and redo stacks of one document.

    ``generation`` grows with every push, undo and redo, so a saver can tell whether the
    document changed since it last wrote it. ``changed`` fires after each of them.
    """

    def __init__(self, doc: Document, limit: int = 500) -> None:
        self._doc = doc
        self._undo: list[Command] = []
        self._redo: list[Command] = []
        self._group: list[Command] | None = None
        self.limit = limit
        self.generation = 0
        self.changed = Signal()

    def push(self, cmd: Command, *, done: bool = False) -> None:
        """Record ``cmd``, doing it first unless ``done`` says it was already applied live."""
        if not done:
            cmd.do(self._doc)
        if self._group is not None:
            self._group.append(cmd)
            return
        self._record(cmd)

    def _record(self, cmd: Command) -> None:
        self._undo.append(cmd)
        del self._undo[: -self.limit]
        self._redo.clear()
        self._bump()

    @contextmanager
    def group(self, text: str) -> Iterator[None]:
        """Collect every push inside the block into one step named ``text``."""
        outer = self._group
        self._group = []
        try:
            yield
        finally:
            cmds, self._group = self._group, outer
            if cmds:
                self.push(Composite(text, cmds), done=True)

    def undo(self) -> bool:
        """Undo the last step; False when there is nothing to undo."""
        if not self._undo:
            return False
        cmd = self._undo.pop()
        cmd.undo(self._doc)
        self._redo.append(cmd)
        self._bump()
        return True

    def redo(self) -> bool:
        """Redo the last undone step; False when there is nothing to redo."""
        if not self._redo:
            return False
        cmd = self._redo.pop()
        cmd.do(self._doc)
        self._undo.append(cmd)
        self._bump()
        return True

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()
        self.changed.emit()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        return self._undo[-1].text if self._undo else ""

    @property
    def redo_text(self) -> str:
        return self._redo[-1].text if self._redo else ""

    def _bump(self) -> None:
        self.generation += 1
        self.changed.emit()
