"""Run Qt-free long work on the thread pool with progress and cancel.

The work is a callable taking ``progress`` and ``cancel`` keywords (the engine's convention);
results, progress and errors come back as signals on the GUI thread, where they may be applied
to the document as one undoable command.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from engine.errors import EchoCareError
from engine.progress import Cancelled, CancelToken, Progress


class WorkerSignals(QObject):
    """``progressed(Progress)``, ``returned(object)``, ``errored(str)`` (one line),
    ``crashed(str)`` (a traceback), ``cancelled()``, ``finished()``."""

    progressed = Signal(object)
    returned = Signal(object)
    errored = Signal(str)
    crashed = Signal(str)
    cancelled = Signal()
    finished = Signal()


class Worker(QRunnable):
    """One job for the thread pool; keep a reference until ``finished``.

    Args:
        fn: ``fn(progress=..., cancel=...)`` returning the result.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.fn = fn
        self.token = CancelToken()
        self.signals = WorkerSignals()
        self.setAutoDelete(False)

    def start(self, pool: QThreadPool | None = None) -> None:
        """Queue the work on ``pool`` (the global pool by default); connect signals first."""
        (pool or QThreadPool.globalInstance()).start(self)

    def cancel(self) -> None:
        """Ask the work to stop at its next check."""
        self.token.cancel()

    def _report(self, progress: Progress) -> None:
        self.signals.progressed.emit(progress)

    def run(self) -> None:
        try:
            result = self.fn(progress=self._report, cancel=self.token)
        except Cancelled:
            self.signals.cancelled.emit()
        except EchoCareError as err:
            self.signals.errored.emit(err.one_line())
        except Exception:  # a bug, not a user error: its traceback goes to a dialog
            self.signals.crashed.emit(traceback.format_exc())
        else:
            self.signals.returned.emit(result)
        finally:
            self.signals.finished.emit()


def start_tracked(
    workers: set[Worker], fn: Callable[..., Any], done: Callable[[Any], None], say: Callable[[str], Any]
) -> Worker:
    """Start ``fn`` in a Worker kept in ``workers`` until it finishes; errors go to ``say`` as one line."""
    worker = Worker(fn)
    worker.signals.returned.connect(done)
    worker.signals.errored.connect(say)
    worker.signals.crashed.connect(lambda text: say(text.strip().splitlines()[-1]))
    worker.signals.finished.connect(lambda: workers.discard(worker))
    workers.add(worker)
    worker.start()
    return worker
