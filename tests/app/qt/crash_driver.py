"""Runs the real main window offscreen, makes one brush edit, prints EDITED, then idles.

Usage: python crash_driver.py PROJECT_DIR CLIP (any file ``open_cine`` reads)
Each autosave written after the edit prints SAVED; the crash test kills this process with
SIGKILL once it has read SAVED.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from app.model.settings import AppSettings
from app.qt.main_window import MainWindow


def main() -> None:
    project, clip = sys.argv[1], sys.argv[2]
    app = QApplication([])
    window = MainWindow(project, settings=AppSettings())
    window.show()
    assert window.open_path(clip)
    window.doc.set_frame(2)
    window.set_tool("brush")
    window.tool.press(230, 230)
    window.tool.move(260, 240)
    window.tool.release(270, 250)
    print("EDITED", int(window.doc.mask(2).astype(bool).sum()), flush=True)
    # autosave writes from its timers, so only once the event loop below runs
    window.autosave.saved.connect(lambda: print("SAVED", flush=True))
    app.exec()


if __name__ == "__main__":
    main()
