"""``echocare export PROJECT --format FORMAT --out DIR [--deidentify] [--study ID] [--frames 0,5,10-20]``.

Formats: dicom-seg, dicom-sr, dicom, coco, png, nifti, csv, report (``--format list`` shows
them). The output folder must be new or empty; it appears only when the export succeeded.
Also registers ``import-labels`` (``app.cli.import_labels``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.frames import HELP as FRAMES_HELP
from engine.interop import DESCRIPTIONS, export_project, list_formats


def add_parser(sub: Any) -> None:
    """Register ``export`` and its counterpart ``import-labels`` on the ``echocare`` parser."""
    from app.cli import import_labels

    parser = sub.add_parser("export", help="export a project's annotations (DICOM SEG/SR, COCO, ...)")
    parser.add_argument("project", type=Path, help="the project folder")
    parser.add_argument("--format", required=True, dest="fmt", help="output format, or 'list' to show them")
    parser.add_argument("--out", type=Path, help="new or empty folder to write into")
    parser.add_argument(
        "--deidentify", action="store_true", help="remove patient data (PS3.15 basic profile, fan masking)"
    )
    parser.add_argument("--study", type=int, default=None, help="export only this study id")
    parser.add_argument("--frames", default=None, help=f"export only these frames: {FRAMES_HELP}")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)
    import_labels.add_parser(sub)


def run(args: argparse.Namespace) -> int:
    """Export, then print one line per file written (relative to ``--out``) and any notes."""
    if args.fmt == "list":
        for name in list_formats():
            print(f"{name:10s} {DESCRIPTIONS[name]}")
        return 0
    if args.out is None:
        from engine.errors import ConfigError

        raise ConfigError(args.project, "--out is required: the folder to export into")
    result = export_project(
        args.project, args.fmt, args.out, deidentify=args.deidentify, study_id=args.study, frames=args.frames
    )
    for note in result.notes:
        print(f"note: {note}")
    print(f"{len(result.files)} files written to {result.out}")
    return 0
