"""``make demo``: run the demo model on a sample study, as its exam asks, and say where the outputs are.

    python -m app.cli.demo --sample resources/samples/cardiac_lv_cine.dcm --out out/demo

It runs ``echocare infer SAMPLE --model echocare-demo --tasks auto --out OUT`` (the tasks that apply
to the exam the model recognises; overlays, masks, enhanced frames, results.json, report.txt), then
prints the exam, the report and the output paths (``--tasks all`` runs every task). The
demo model was trained on simulated ultrasound only and is not for clinical use; the printout
says so. A missing demo model or sample ends in one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from engine.frames import HELP as FRAMES_HELP

DEMO_MODEL = "echocare-demo"
TRAIN_HINT = (
    "python -m training.recipes.demo --config configs/demo.yaml --out runs/demo "
    "--install resources/models/echocare-demo"
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m app.cli.demo", description=__doc__.splitlines()[0])
    p.add_argument("--sample", default="resources/samples/cardiac_lv_cine.dcm", help="study to analyse")
    p.add_argument("--out", default="out/demo", help="output folder")
    p.add_argument("--model", default=DEMO_MODEL, help="model name or folder (default: the demo model)")
    p.add_argument("--frames", default="all", help=FRAMES_HELP)
    p.add_argument("--tasks", default="auto", help="auto (what applies to the exam), all, or a comma list")
    return p


def _outputs(out: Path) -> list[str]:
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    files = doc.get("files", {})
    lines = [f"  results      {out / 'results.json'}"]
    if "report" in files:
        lines.append(f"  report       {out / files['report']}")
    for folder in ("overlays", "masks", "enhanced"):
        found = sorted((out / folder).glob("*.png"))
        if found:
            lines.append(f"  {folder:<12} {out / folder}/ ({len(found)} PNG)")
    for video in ("overlay.mp4", "overlay.avi"):
        if (out / video).is_file():
            lines.append(f"  video        {out / video}")
    return lines


def _exam_line(out: Path) -> str:
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    exam = doc.get("exam")
    ran = ", ".join(t for t in doc["tasks"] if t != "exam")
    if exam is None:
        return f"  tasks: {ran}" + (f" ({doc['note']})" if doc.get("note") else "")
    skipped = f"; not applicable: {', '.join(doc['skipped'])}" if doc.get("skipped") else ""
    return f"  exam: {exam['label']} ({exam['source']}); tasks: {ran}{skipped}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the process exit status."""
    from engine import model_store
    from engine.errors import EchoCareError

    args = _parser().parse_args(argv)
    sample, out = Path(args.sample), Path(args.out)
    if not sample.is_file():
        print(f"error: {sample}: no such sample study", file=sys.stderr)
        return 2
    try:
        _, card = model_store.locate(args.model)
    except EchoCareError:
        print(
            f"error: the demo model {args.model!r} is missing (resources/models/{DEMO_MODEL}); "
            f"train it with: {TRAIN_HINT}",
            file=sys.stderr,
        )
        return 2
    from app.cli.main import main as echocare

    code = echocare(
        ["infer", str(sample), "--model", args.model, "--tasks", args.tasks, "--frames", args.frames,
         "--out", str(out), "--quiet"]
    )  # fmt: skip
    if code != 0:
        return code
    print(f"EchoCare Studio demo: {sample.name} analysed by {card.name} v{card.version}")
    print(f"  {card.model.trained_on}")
    print(_exam_line(out))
    if (out / "report.txt").is_file():
        print()
        print((out / "report.txt").read_text(encoding="utf-8").rstrip())
        print()
    print(f"Outputs in {out}:")
    print("\n".join(_outputs(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
