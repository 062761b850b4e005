"""``echocare train distill``: the distillation trainer, added to ``echocare train``'s actions.

``echocare train`` is built by ``app.cli.train``; this module adds its ``distill`` action, so it
is listed after ``train`` in ``app.cli.main.COMMANDS``.
"""

from __future__ import annotations

import argparse
from typing import Any


def _actions(train: argparse.ArgumentParser) -> Any:
    return next(a for a in train._actions if isinstance(a, argparse._SubParsersAction))


def add_parser(sub: Any) -> None:
    """Register ``echocare train distill`` under the existing ``train`` command."""
    from training.api import add_distill_arguments

    parser = _actions(sub.choices["train"]).add_parser(
        "distill", help="distil a small, fast student from a stored teacher model"
    )
    add_distill_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from training.api import run_distill

    return run_distill(args)
