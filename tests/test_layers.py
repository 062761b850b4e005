"""Start-up cost and layering: the light modules never pull torch or Qt in."""

from __future__ import annotations

import subprocess
import sys

import pytest

LIGHT_MODULES = [
    "engine",
    "engine.io",
    "engine.config",
    "engine.provenance",
    "engine.annotations",
    "app.cli.main",
]


@pytest.mark.parametrize("module", LIGHT_MODULES)
def test_light_module_imports_neither_torch_nor_qt(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "heavy = [m for m in ('torch', 'PySide6', 'pyqtgraph', 'monai') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} imports {out.stdout.strip()}"


def test_cli_help_lists_every_command() -> None:
    import argparse

    from app.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    names = set(sub.choices)
    assert {"info", "frames", "models", "train", "infer", "export"} <= names
    out = subprocess.run(
        [sys.executable, "-m", "app.cli.main", "--help"], capture_output=True, text=True, check=True
    )
    for name in names:
        assert name in out.stdout
    train = sub.choices["train"]
    actions = next(a for a in train._actions if isinstance(a, argparse._SubParsersAction))
    assert {"pretrain", "finetune", "distill"} <= set(actions.choices)
