"""``echocare train distill --teacher NAME --student VARIANT``: distil, score, store."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from training.distill.config import DistillCfg


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the distillation command."""
    d = DistillCfg(teacher="")
    parser.add_argument("--teacher", required=True, help="teacher: store name, name@version or model folder")
    parser.add_argument("--student", default=d.student, help=f"student encoder variant (default {d.student})")
    parser.add_argument("--name", default="", help="student store name (default <teacher>-lite)")
    parser.add_argument(
        "--head-scale", type=float, default=d.head_scale, help="student head widths / teacher's"
    )
    parser.add_argument("--frames", type=int, default=d.frames, help="unlabeled simulated training frames")
    parser.add_argument("--steps", type=int, default=d.steps)
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--label-weight", type=float, default=d.label_weight, help="0: teacher signals only")
    parser.add_argument(
        "--no-teacher-init", action="store_true", help="start the student from random weights only"
    )
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--eval-per-scene", type=int, default=16, help="held-out frames per scene (0: skip)")
    parser.add_argument("--no-activate", action="store_true", help="store the student without activating it")


def cfg_from_args(args: argparse.Namespace) -> DistillCfg:
    return DistillCfg(
        teacher=args.teacher,
        student=args.student,
        name=args.name,
        head_scale=args.head_scale,
        frames=args.frames,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        label_weight=args.label_weight,
        teacher_init=not args.no_teacher_init,
        seed=args.seed,
    )


def _report(every: int) -> Any:
    def show(p: Any) -> None:
        if p.done % every == 0 or p.done == p.total:
            print(f"step {p.done}/{p.total} {p.message}", file=sys.stderr, flush=True)

    return show


def run(args: argparse.Namespace) -> int:
    """Distil, compare with the teacher on held-out frames, store the student; prints its card line."""
    from engine.factory import LoadedModel
    from engine.inference import Predictor
    from engine.provenance import ModelRef
    from training.distill.evaluate import compare
    from training.distill.register import register
    from training.distill.trainer import distill

    cfg = cfg_from_args(args)
    result = distill(cfg, progress=_report(max(1, cfg.steps // 20)))
    metrics: dict[str, float] = {}
    if args.eval_per_scene > 0:
        t = result.teacher
        s = LoadedModel(t.card, result.student, ModelRef("student", "unsaved", ""), t.device, t.folder)
        figures = compare(
            Predictor(t, backend="torch", device="cpu", precision="fp32"),
            Predictor(s, backend="torch", device="cpu", precision="fp32"),
            per_scene=args.eval_per_scene,
        )
        metrics = {f"distill.{k}": v for k, v in figures.items() if v == v}
    card = register(result, cfg, metrics, activate=not args.no_activate)
    print(json.dumps({"name": card.name, "version": card.version, "parent": card.lineage.parent, **metrics}))
    return 0
