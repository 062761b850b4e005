"""Importing the engine, the store and the backend interface does not pull in torch."""

from __future__ import annotations

import subprocess
import sys


def test_engine_store_and_backend_interface_import_without_torch():
    code = (
        "import sys, engine, engine.io, engine.model_card, engine.model_store, engine.backends.base; "
        "print(sorted(m for m in ('torch', 'onnxruntime', 'PySide6') if m in sys.modules))"
    )
    cmd = [sys.executable, "-c", code]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
