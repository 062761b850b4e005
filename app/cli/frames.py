"""``echocare frames PATH --out DIR [--frames 0,5,10-20]``: write frames as PNG, exactly as displayed.

Colour frames are written as RGB PNG (after YBR or palette conversion), monochrome frames as
8- or 16-bit grey PNG, named ``frame_00000.png`` by frame index.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import EchoCareError
from engine.frames import HELP as FRAMES_HELP
from engine.frames import parse_frames
from engine.io import open_cine


def add_parser(sub: Any) -> None:
    """Register ``frames`` on the ``echocare`` sub-command parser."""
    parser = sub.add_parser("frames", help="write frames of a cine as PNG files")
    parser.add_argument("path", help="DICOM file, video, image or folder")
    parser.add_argument("--out", required=True, type=Path, help="folder to write frame_NNNNN.png into")
    parser.add_argument("--frames", default="all", help=FRAMES_HELP)
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def write_png(path: Path, frame: np.ndarray) -> None:
    """Write ``[H, W]`` uint8/uint16 grey or ``[H, W, 3]`` RGB uint8 as PNG, keeping the depth."""
    import cv2

    img = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR) if frame.ndim == 3 else frame
    if not cv2.imwrite(str(path), img):
        raise EchoCareError(path, "cannot write PNG file")


def run(args: argparse.Namespace) -> int:
    """Write the selected frames; errors propagate as EchoCareError."""
    with open_cine(args.path) as cine:
        indices = parse_frames(args.frames, cine.n_frames, args.path)
        try:
            args.out.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise EchoCareError(args.out, f"cannot create output folder ({err.strerror})") from None
        for i in indices:
            write_png(args.out / f"frame_{i:05d}.png", cine.frame(i))
    print(f"wrote {len(indices)} frame(s) to {args.out}")
    return 0
