"""``echocare segment PATH --model NAME --frame N [--point X,Y[,bg]]... [--box X0,Y0,X1,Y1]
[--propagate A-B] --out DIR``: click or box to a mask with the model's prompt head.

Points and the box are in the source's pixels (x to the right, y down, from the top-left
pixel); a point ending in ``,bg`` is a negative click (not the structure). With
``--propagate A-B`` the mask is carried from frame N to every frame of A-B with the prompt
head. Writes ``DIR/mask_NNNNN.png`` (0 or 255, the source's size) per frame and
``DIR/segment.json``: per frame the area (mm² where calibrated, else px²), the head's
predicted IoU (``quality``, and ``unsure`` where it is below ``UNSURE``: the mask is a guess) and
the milliseconds the prompt took. Where the head offers another
reading of the prompt on frame N (the structure around the one asked for: the whole LV for a
click in its cavity), it is written too, as ``DIR/alternative_NNNNN.png`` with its area.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from engine.errors import EchoCareError

SCHEMA = "echocare-segment/1"


def add_parser(sub: Any) -> None:
    """Register ``segment`` on the ``echocare`` sub-command parser."""
    p = sub.add_parser("segment", help="click or box to a mask with the model's prompt head")
    p.add_argument("path", help="DICOM file, video, image or folder")
    p.add_argument("--model", required=True, help="model name, name@version or a model folder")
    p.add_argument("--frame", type=int, default=0, help="the frame the prompt is on (default 0)")
    p.add_argument(
        "--point",
        action="append",
        default=[],
        metavar="X,Y[,bg]",
        help="a click in source pixels; ',bg' makes it negative; repeat for more clicks",
    )
    p.add_argument("--box", default=None, metavar="X0,Y0,X1,Y1", help="a box around the structure")
    p.add_argument("--propagate", default=None, metavar="A-B", help="carry the mask through frames A to B")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def parse_point(text: str) -> tuple[float, float, bool]:
    """``"X,Y"`` or ``"X,Y,bg"`` -> (x, y, positive)."""
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) == 3 and parts[2].lower() in ("bg", "neg", "-"):
            return float(parts[0]), float(parts[1]), False
        if len(parts) == 2:
            return float(parts[0]), float(parts[1]), True
    except ValueError:
        pass
    raise EchoCareError(None, f"--point {text!r} is not X,Y or X,Y,bg")


def parse_box(text: str) -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(v) for v in text.split(","))
    except ValueError:
        raise EchoCareError(None, f"--box {text!r} is not X0,Y0,X1,Y1") from None
    return x0, y0, x1, y1


def parse_span(text: str) -> tuple[int, int]:
    try:
        a, b = (int(v) for v in text.split("-"))
    except ValueError:
        raise EchoCareError(None, f"--propagate {text!r} is not A-B (frame numbers)") from None
    return a, b


def _entry(timed: Any, alternative: Any = None) -> dict[str, Any]:
    """One frame of segment.json; ``alternative`` (its area) where the other reading was written."""
    from engine.results_json import number, quantity

    r = timed.result
    entry = {
        "frame": r.frame,
        "mask_png": f"mask_{r.frame:05d}.png",
        "area": quantity(r.area),
        "quality": number(r.quality, 4),
        "alternative_quality": number(r.alternative_quality, 4),
        "unsure": r.unsure(),
        "ms": number(timed.ms, 1),
        "encoded": timed.encoded,
    }
    if alternative is not None:
        entry.update(alternative_png=f"alternative_{r.frame:05d}.png", alternative_area=quantity(alternative))
    return entry


def _frame(timed: Any) -> int:
    return int(timed.result.frame)


def _write_png(path: Path, mask: Any) -> None:
    import cv2

    if not cv2.imwrite(str(path), mask.astype("uint8") * 255):
        raise EchoCareError(path, "cannot write PNG file")


def run(args: argparse.Namespace) -> int:
    """Load the model and the cine, prompt, propagate, write the masks and segment.json."""
    from engine.factory import load_model
    from engine.heads.kinds.prompt import Prompt
    from engine.inference import Predictor
    from engine.io import open_cine
    from engine.tasks.outputs import check_output_folder
    from engine.tasks.prompting import PromptSession

    points = tuple(parse_point(p) for p in args.point)
    box = parse_box(args.box) if args.box else None
    span = parse_span(args.propagate) if args.propagate else None
    check_output_folder(str(args.out))
    with open_cine(args.path) as cine:
        loaded = load_model(args.model, device=args.device)
        predictor = Predictor(loaded, backend="torch", device=args.device)
        session = PromptSession(cine, predictor)
        session.check_frame(args.frame)
        if span is not None:
            session.check_frame(span[0])
            session.check_frame(span[1])
        prompt = Prompt(points, box)
        prompt.check((cine.info.rows, cine.info.columns), str(cine.path))
        first = session.segment(args.frame, prompt)
        results = [first]
        if span is not None:
            results += list(session.propagate(args.frame, first.result.mask, min(span), max(span)))
        args.out.mkdir(parents=True, exist_ok=True)
        for timed in results:
            _write_png(args.out / f"mask_{timed.result.frame:05d}.png", timed.result.mask)
        other = None
        if first.result.offers_alternative():
            r = first.result
            _write_png(args.out / f"alternative_{r.frame:05d}.png", r.alternative)
            other = r.alternative_area
        doc = {
            "schema": SCHEMA,
            "source": str(cine.path),
            "model": loaded.ref.label(),
            "prompt": {
                "frame": args.frame,
                "points": [list(p) for p in points],
                "box": list(box) if box else None,
            },
            "frames": [_entry(t, other if t is first else None) for t in sorted(results, key=_frame)],
        }
        (args.out / "segment.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    area, quality = first.result.area, first.result.quality
    also = f"; other reading {other.value:.1f} {other.unit}" if other is not None else ""
    doubt = ", unsure: add a point or a box" if first.result.unsure() else ""
    said = f"quality {quality:.2f}{doubt}, {first.ms:.0f} ms"
    done = f"{len(results)} mask(s) -> {args.out}"
    print(f"frame {args.frame}: {area.value:.1f} {area.unit} ({said}){also}; {done}")
    return 0
