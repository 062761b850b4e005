"""Start-up without torch, the launch entry point, and the background worker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.qt import workers
from app.qt.launch import launch
from app.qt.main_window import MainWindow
from engine.errors import ReadError
from engine.progress import Progress

REPO = Path(__file__).resolve().parents[3]


def test_the_gui_imports_no_torch():
    code = "import sys, app.qt.launch, app.qt.main_window; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_launch_opens_the_window_and_reports_a_bad_file(qapp, tmp_path):
    bad = tmp_path / "not-a-clip.dcm"
    bad.write_bytes(b"nothing useful")
    seen = {}

    def inspect_and_close():
        (window,) = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        seen["message"] = window.last_message
        window.close()
        window.deleteLater()

    QTimer.singleShot(300, inspect_and_close)
    assert launch([str(bad), "--project", str(tmp_path / "proj")]) == 0
    assert seen["message"].startswith(str(bad)) and "\n" not in seen["message"]


def test_worker_reports_progress_and_returns_on_the_gui_thread(qtbot):
    def work(progress, cancel):
        for i in range(3):
            cancel.raise_if_cancelled()
            progress(Progress(i + 1, 3, "step"))
        return "done"

    got = []
    worker = workers.Worker(work)
    worker.signals.progressed.connect(got.append)
    with qtbot.waitSignal(worker.signals.returned, timeout=5000) as blocker:
        worker.start()
    assert blocker.args == ["done"]
    qtbot.waitUntil(lambda: len(got) == 3, timeout=2000)
    assert [p.done for p in got] == [1, 2, 3]


def test_cancelled_worker_says_so_and_errors_are_one_line(qtbot):
    worker = workers.Worker(lambda progress, cancel: cancel.raise_if_cancelled())
    worker.cancel()
    with qtbot.waitSignal(worker.signals.cancelled, timeout=5000):
        worker.start()

    def fail(progress, cancel):
        raise ReadError("/data/x.dcm", "truncated pixel data")

    failing = workers.Worker(fail)
    with qtbot.waitSignal(failing.signals.errored, timeout=5000) as blocker:
        failing.start()
    assert blocker.args == ["/data/x.dcm: truncated pixel data"]


def test_an_unexpected_failure_reaches_the_gui_with_its_traceback(qtbot):
    def bug(progress, cancel):
        raise RuntimeError("shape mismatch in head")

    worker = workers.Worker(bug)
    with qtbot.waitSignal(worker.signals.crashed, timeout=5000) as blocker:
        worker.start()
    (details,) = blocker.args
    assert details.startswith("Traceback")
    assert details.rstrip().endswith("RuntimeError: shape mismatch in head")
