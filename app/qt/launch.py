"""``launch(argv)``: create the QApplication and the main window; returns the exit status.

Start-up imports no torch: model code is imported lazily when inference runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="echocare-studio", description="EchoCare Studio")
    parser.add_argument("path", nargs="?", help="an ultrasound file or folder to open")
    parser.add_argument("--project", help="project folder (created if missing)")
    return parser.parse_args(list(argv))


def launch(argv: Sequence[str]) -> int:
    """Run the app until its window closes."""
    args = parse_args(argv)
    from PySide6.QtWidgets import QApplication

    from app.qt.main_window import MainWindow
    from engine.errors import EchoCareError

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("EchoCare Studio")
    try:
        window = MainWindow(args.project)
    except EchoCareError as err:
        print(f"error: {err.one_line()}", file=sys.stderr)
        return 2
    window.show()
    if args.path:
        window.open_path(args.path)
    return int(app.exec())
