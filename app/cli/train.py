"""``echocare train pretrain|finetune|compare``: training runs from config files.

The same actions run under torchrun as ``python -m training ...`` (see docs/training.md).
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    """Register ``echocare train``."""
    from training.api import add_train_arguments

    parser = sub.add_parser("train", help="pretrain or fine-tune EchoCare models; compare versions")
    add_train_arguments(parser.add_subparsers(dest="action", required=True, metavar="ACTION"))
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from training.api import run_train

    return run_train(args)
