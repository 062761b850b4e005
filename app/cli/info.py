"""``echocare info PATH [--json]``: what a file holds, without decoding its frames."""

from __future__ import annotations

import argparse
import json
from typing import Any

from engine.io import open_cine


def add_parser(sub: Any) -> None:
    """Register ``info`` on the ``echocare`` sub-command parser."""
    parser = sub.add_parser("info", help="describe a DICOM file, video, image or folder")
    parser.add_argument("path", help="file or folder to describe")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def _timestamps(ts: list[float]) -> str:
    shown = ", ".join(f"{t:g}" for t in ts[:4])
    return f"{shown}, ... {ts[-1]:g} ms" if len(ts) > 4 else f"{shown} ms"


def _region_rows(regions: list[dict[str, Any]]) -> list[str]:
    lines = []
    for i, r in enumerate(regions):
        spacing = (
            f"{r['spacing_x']:.4g} {r['unit_x']} x {r['spacing_y']:.4g} {r['unit_y']} per pixel"
            if r["spacing_x"] and r["spacing_y"]
            else f"no scale ({r['unit_x']} / {r['unit_y']})"
        )
        clamped = "  (clamped to the image)" if r["clamped"] else ""
        bounds = f"x {r['x0']}..{r['x1']}, y {r['y0']}..{r['y1']}"
        lines.append(f"  region {i}: {r['data_type']:<12} {bounds:<26} {spacing}{clamped}")
    return lines


def _declared(declared: dict[str, Any] | None) -> str | None:
    """``"cardiac (Image Type: CARDIOLOGY)"``: the regions the header names, and where."""
    if not declared:
        return None
    return f"{' or '.join(declared['regions'])} ({declared['field']}: {declared['text']})"


def format_table(info: dict[str, Any]) -> str:
    """The ``info`` dictionary as aligned ``key: value`` lines, regions one per line."""
    fps = "none" if info["fps"] is None else f"{info['fps']:.4g}"
    rows = [
        ("path", info["path"]),
        ("kind", info["kind"]),
        ("frames", info["frames"]),
        ("size", f"{info['rows']} rows x {info['columns']} columns"),
        ("color", "RGB" if info["color"] else "grey"),
        ("bits", info["bits"]),
        ("fps", f"{fps} (from {info['timing_source']})"),
        ("timestamps", _timestamps(info["timestamps_ms"])),
        (
            "calibrated",
            f"{'yes' if info['calibrated'] else 'NO, pixels only'} ({info['calibration_source']})",
        ),
        ("pixel spacing", info["pixel_spacing"]),
        ("regions", len(info["regions"])),
        ("transfer syntax", info["transfer_syntax"]),
        ("photometric", info["photometric"]),
        ("modality", info["modality"]),
        ("manufacturer", info["manufacturer"]),
        ("exam (header)", _declared(info.get("declared_exam"))),
    ]
    lines = [f"{k + ':':<17}{'-' if v is None else v}" for k, v in rows]
    lines[11:11] = _region_rows(info["regions"])
    lines += [f"{'note:':<17}{note}" for note in info.get("calibration_notes", [])]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the description of ``args.path``; errors propagate as EchoCareError."""
    with open_cine(args.path) as cine:
        info = cine.info.as_dict()
    print(json.dumps(info) if args.json else format_table(info))
    return 0
