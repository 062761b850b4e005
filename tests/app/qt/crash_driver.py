"""Runs the real main window offscreen, makes one brush edit, prints EDITED, then idles.

Usage: python crash_driver.py PROJECT_DIR CLIP.npy
The crash test kills this process with SIGKILL a few seconds after EDITED.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtWidgets import QApplication

from app.model.settings import AppSettings
from app.qt.main_window import MainWindow
from engine.io.memory import ArrayCine


def opener(path):
    return ArrayCine(np.load(path), fps=25.0, path=str(path))


def main() -> None:
    project, clip = sys.argv[1], sys.argv[2]
    app = QApplication([])
    window = MainWindow(project, opener=opener, settings=AppSettings())
    window.show()
    assert window.open_path(clip)
    window.doc.set_frame(2)
    window.set_tool("brush")
    window.tool.press(30, 30)
    window.tool.move(60, 40)
    window.tool.release(70, 50)
    print("EDITED", int(window.doc.mask(2).astype(bool).sum()), flush=True)
    app.exec()


if __name__ == "__main__":
    main()
