"""Fixtures of the loop tests: a main window on a lesion project (its loop panels are installed)."""

from __future__ import annotations

import pytest
from loop_project import make_project, npy_opener
from PySide6.QtWidgets import QApplication

from app.model.settings import AppSettings
from app.qt.main_window import MainWindow


@pytest.fixture
def make_window(qtbot, tmp_path):
    made = []

    def make(studies: int = 10, labelled: int = 0):
        project = make_project(tmp_path / "proj", studies=studies, labelled=labelled)
        w = MainWindow(project, opener=_opener, settings=AppSettings())
        qtbot.addWidget(w)
        w.show()
        made.append(w)
        return w

    yield make
    for w in made:
        run = w.loop_panels.training.run
        if run is not None and run.alive:
            run.kill()
            run.wait(10)
        w.close()
        w.deleteLater()
    QApplication.processEvents()


def _opener(path):
    from engine.io import open_cine

    return npy_opener(path) if str(path).endswith(".npy") else open_cine(path)
