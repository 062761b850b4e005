"""``echocare infer PATH --model NAME --tasks auto|all|LIST --out DIR``: run the clinical tasks on a cine.

``auto`` (the default) runs what applies to the study's exam, as the model's exam head names it
(``--exam`` sets it instead); ``all`` runs every task; a list runs exactly that list. Writes
DIR/results.json (docs/results-schema.md), mask/enhanced/overlay PNGs per frame, an
overlay video for a cine and report.txt. A progress bar goes to stderr unless ``--quiet``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine.frames import HELP as FRAMES_HELP
from engine.progress import Progress, ProgressFn, no_progress


def add_parser(sub: Any) -> None:
    """Register ``infer`` on the ``echocare`` sub-command parser."""
    p = sub.add_parser("infer", help="run classification, segmentation, ... on a cine and write results")
    p.add_argument("path", help="DICOM file, video, image or folder")
    p.add_argument("--model", required=True, help="model name, name@version or a model folder")
    p.add_argument(
        "--tasks",
        default="auto",
        help="auto (what applies to the study's exam), all, or a comma list such as segmentation,landmarks",
    )
    p.add_argument(
        "--exam",
        default=None,
        help="with auto: the study's exam as the model names it (region/organ/view, see `models show`), "
        "or unknown; the model's exam head decides when absent",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--frames", default="all", help=FRAMES_HELP)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--backend", default="auto", choices=("auto", "torch", "onnx"))
    p.add_argument("--batch-size", type=int, default=4, help="frames per model pass")
    p.add_argument("--no-overlays", action="store_true", help="skip overlay PNGs and video")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def _progress_bar(quiet: bool) -> tuple[ProgressFn, Any]:
    if quiet:
        return no_progress, None
    from tqdm import tqdm

    bar = tqdm(total=0, unit="frame", file=sys.stderr, desc="infer", leave=False)

    def update(p: Progress) -> None:
        bar.total = p.total
        bar.n = p.done
        bar.set_postfix_str(p.message, refresh=True)

    return update, bar


def run(args: argparse.Namespace) -> int:
    """Load the model and the cine, run the tasks, write the outputs; returns the exit status."""
    from engine.factory import load_model
    from engine.frames import parse_frames
    from engine.inference import Predictor
    from engine.io import open_cine
    from engine.tasks.outputs import check_output_folder, write_outputs
    from engine.tasks.runner import resolve_tasks, run_tasks

    check_output_folder(args.out)  # a bad --out fails before the model runs
    cine = open_cine(args.path)
    with cine:
        frames = parse_frames(args.frames, cine.n_frames, cine.path)
        loaded = load_model(args.model, device=args.device)
        resolve_tasks(loaded.cfg, args.tasks, loaded.ref, str(args.model))  # fail before any work
        exam = _user_exam(loaded, args.exam)
        predictor = Predictor(loaded, backend=args.backend, device=args.device, batch_size=args.batch_size)
        progress, bar = _progress_bar(args.quiet)
        try:
            cfg, ref = loaded.cfg, loaded.ref
            result = run_tasks(
                cine, predictor, cfg, ref, args.tasks, frames, args.batch_size, progress, exam=exam
            )
        finally:
            if bar is not None:
                bar.close()
        path = write_outputs(result, cine, loaded.cfg, loaded.ref, args.out, overlays=not args.no_overlays)
    if not args.quiet:
        for line in summary_lines(result):
            print(line, file=sys.stderr)
        print(f"{len(result.tasks)} tasks on {len(frames)} frames -> {path}", file=sys.stderr)
    return 0


def _user_exam(loaded: Any, exam: str | None) -> Any:
    """The ExamResult a person set with ``--exam``; None when not set."""
    if exam is None:
        return None
    from engine.errors import TaskError
    from engine.heads.kinds.exam import ExamResult

    head = loaded.cfg.heads_by_name.get("exam")
    if head is None:
        raise TaskError(loaded.folder, f"model {loaded.cfg.name!r} has no exam head: --exam needs one")
    try:
        return ExamResult.chosen_by_user(head.labels, exam, loaded.ref)
    except ValueError as err:
        raise TaskError(loaded.folder, str(err)) from None


def summary_lines(result: Any) -> list[str]:
    """The exam, the routing note and each skipped task, one line each."""
    lines = []
    if result.exam is not None:
        e = result.exam
        how = "set by the user" if e.source == "user" else f"model, {e.confidence:.2f}"
        lines.append(f"exam: {e.label()} ({e.reason if e.unknown else how})")
    if result.note:
        lines.append(result.note)
    lines += [f"skipped {task}: {why}" for task, why in result.skipped.items()]
    return lines
