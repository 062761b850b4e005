"""Command-line runner shared by ``python -m training`` (torchrun's entry) and ``echocare train``.

Sub-commands: ``pretrain --config FILE``, ``finetune --config FILE``, ``heads --encoder NAME
--recipe FILE`` (every head on a stored encoder), ``compare A B``. Options
``--resume`` (continue from the newest checkpoint) and ``--set key.sub=value`` (override config
values, parsed as YAML scalars). Only rank 0 prints progress (tqdm) and results.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from engine.errors import ConfigError
from engine.progress import Progress, ProgressFn
from engine.registry import Registry

ACTIONS: Registry[Callable[[argparse.Namespace], int]] = Registry("train action")


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["run.out_dir=x", "optim.lr=0.01"]`` -> nested dict with YAML-typed values."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(None, f"--set expects key=value, got {item!r}")
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(raw)
    return out


def tqdm_progress(enabled: bool) -> tuple[ProgressFn, Callable[[], None]]:
    """A ProgressFn drawing a tqdm bar (rank 0 only) and a function closing it."""
    if not enabled:
        return (lambda _p: None), (lambda: None)
    from tqdm import tqdm

    bar = tqdm(total=0, unit="step", dynamic_ncols=True, file=sys.stderr)

    def update(p: Progress) -> None:
        bar.total = p.total
        bar.n = p.done
        bar.set_description(p.message, refresh=False)
        bar.refresh()

    return update, bar.close


def _is_main() -> bool:
    return os.environ.get("RANK", "0") == "0"


@ACTIONS.register("pretrain")
def _pretrain(args: argparse.Namespace) -> int:
    from training.config import load_pretrain_cfg
    from training.ssl.pretrain import run_pretrain

    cfg = load_pretrain_cfg(args.config, parse_overrides(args.set))
    progress, close = tqdm_progress(_is_main() and not args.quiet)
    try:
        result = run_pretrain(cfg, resume=args.resume, progress=progress)
    finally:
        close()
    if _is_main():
        print(
            json.dumps(
                {
                    "status": result.loop.status,
                    "steps": result.loop.steps,
                    "encoder": str(result.encoder) if result.encoder else None,
                    "metrics": result.metrics,
                }
            )
        )
    return 0 if result.loop.status in ("finished", "early_stopped") else 3


@ACTIONS.register("finetune")
def _finetune(args: argparse.Namespace) -> int:
    from training.api import finetune
    from training.config import load_finetune_cfg

    cfg = load_finetune_cfg(args.config, parse_overrides(args.set))
    progress, close = tqdm_progress(_is_main() and not args.quiet)
    try:
        result = finetune(cfg, resume=args.resume, progress=progress)
    finally:
        close()
    if _is_main():
        print(json.dumps(result.summary()))
    return 0 if result.status in ("finished", "early_stopped") else 3


@ACTIONS.register("heads")
def _heads(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from training.recipes.heads import train_heads

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="echocare-heads-"))
    result = train_heads(
        args.encoder, args.recipe, out, quick=args.quick, log=lambda line: print(line, flush=True)
    )
    card = result.card
    print(
        json.dumps(
            {
                "model": f"{card.name}@{card.version}",
                "heads": [h.name for h in card.model.heads],
                "folder": str(result.folder),
                "work": str(out),
                "minutes": result.minutes,
            }
        )
    )
    return 0


@ACTIONS.register("compare")
def _compare(args: argparse.Namespace) -> int:
    from training.versions import compare_text

    print(compare_text(args.a, args.b))
    return 0


def add_arguments(sub: Any) -> None:
    """Register the train sub-commands on an argparse sub-parser collection."""
    for name in ("pretrain", "finetune"):
        p = sub.add_parser(name, help=f"{name} from a YAML or JSON config")
        p.add_argument("--config", required=True, help="run config (YAML or JSON)")
        p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a value")
        p.add_argument("--quiet", action="store_true", help="no progress bar")
        p.set_defaults(train_action=name)
    p = sub.add_parser("heads", help="train every head on a stored encoder (e.g. the imported EchoCare one)")
    p.add_argument(
        "--encoder", required=True, help="model name, NAME@VERSION or folder whose encoder is used"
    )
    p.add_argument(
        "--recipe", default="configs/demo.yaml", help="the demo recipe whose scenes and phases train"
    )
    p.add_argument("--out", default=None, help="working folder (default: a new temporary folder)")
    p.add_argument("--quick", action="store_true", help="the exam and prompt stages' smoke settings")
    p.set_defaults(train_action="heads")
    p = sub.add_parser("compare", help="two model versions side by side (metrics on the frozen test split)")
    p.add_argument("a", help="NAME@VERSION (or a version folder)")
    p.add_argument("b", help="NAME@VERSION (or a version folder)")
    p.set_defaults(train_action="compare")


def run(args: argparse.Namespace) -> int:
    """Dispatch parsed arguments to their action."""
    return ACTIONS.get(args.train_action)(args)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m training ...``; errors print as one line and exit 2."""
    from engine.errors import EchoCareError

    parser = argparse.ArgumentParser(prog="python -m training", description="EchoCare Studio training")
    add_arguments(parser.add_subparsers(dest="action", required=True, metavar="ACTION"))
    args = parser.parse_args(argv)
    try:
        return run(args)
    except EchoCareError as err:
        print(f"error: {err.one_line()}", file=sys.stderr)
        return 2
