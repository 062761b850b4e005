"""Kill the app with SIGKILL 3 s after an edit; the reopened project holds the edit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.qt.main_window import RECOVERED
from engine.io.open import open_cine
from engine.project import ProjectStore

DRIVER = Path(__file__).with_name("crash_driver.py")
REPO = Path(__file__).resolve().parents[3]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_sigkill_after_an_edit_keeps_the_edit(tmp_path, cardiac_sample, make_window):
    project = tmp_path / "proj"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, str(DRIVER), str(project), str(cardiac_sample)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()  # blocks until the edit is made (or the driver dies)
        assert line.startswith("EDITED"), proc.stderr.read()
        painted = int(line.split()[1])
        time.sleep(3.0)
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
