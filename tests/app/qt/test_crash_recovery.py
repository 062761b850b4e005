"""Kill the app with SIGKILL after an edit has been autosaved; the reopened project holds the edit."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from app.qt.main_window import RECOVERED
from engine.io.open import open_cine
from engine.project import ProjectStore

DRIVER = Path(__file__).with_name("crash_driver.py")
REPO = Path(__file__).resolve().parents[3]
SAVE_DEADLINE_S = 60  # autosave writes within 2 s; the margin is for a loaded machine


def _lines(stream) -> queue.Queue:
    """The lines of ``stream`` as they arrive (None at its end), read on a daemon thread."""
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_sigkill_after_an_edit_keeps_the_edit(tmp_path, cardiac_sample, make_window):
    project = tmp_path / "proj"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    errors = tmp_path / "driver.stderr"
    with errors.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, str(DRIVER), str(project), str(cardiac_sample)],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
        )
    try:
        lines = _lines(proc.stdout)
        line = lines.get(timeout=120)  # the edit is made (or the driver died: None)
        assert line and line.startswith("EDITED"), errors.read_text()[-2000:]
        painted = int(line.split()[1])
        try:
            saved = lines.get(timeout=SAVE_DEADLINE_S)
        except queue.Empty:
            saved = None
        assert saved == "SAVED\n", f"no autosave after the edit within {SAVE_DEADLINE_S} s"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert ProjectStore.was_left_open(project), "the unclean exit is noticed"
    window = make_window(project=project, reader=open_cine)
    assert window.last_message == RECOVERED
    (study,) = window.session.store.studies()
    assert window.open_study(study.id)
    assert painted > 100 and int(window.doc.mask(2).astype(bool).sum()) == painted
