"""``echocare import-labels PROJECT (--coco FILE | --masks DIR --images DIR [--labels FILE])``.

Brings an existing dataset in as human-final labels: COCO JSON (RLE or polygon masks, boxes,
keypoints) or a folder of PNG label masks paired by name with their images.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.interop import import_coco, import_png_masks


def add_parser(sub: Any) -> None:
    """Register ``import-labels`` on the ``echocare`` sub-command parser."""
    parser = sub.add_parser("import-labels", help="import COCO JSON or PNG masks into a project")
    parser.add_argument("project", type=Path, help="an existing project folder")
    parser.add_argument("--coco", type=Path, help="COCO JSON file")
    parser.add_argument("--media", type=Path, help="folder the COCO file names are relative to")
    parser.add_argument("--masks", type=Path, help="folder of PNG label masks (value = label id)")
    parser.add_argument("--images", type=Path, help="folder of the images the masks belong to")
    parser.add_argument("--labels", type=Path, help="labels.json naming the mask values")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Import and print what was added."""
    if (args.coco is None) == (args.masks is None):
        raise ConfigError(args.project, "give either --coco FILE or --masks DIR --images DIR")
    if args.coco is not None:
        result = import_coco(args.project, args.coco, args.media)
    else:
        if args.images is None:
            raise ConfigError(args.masks, "--images DIR is required with --masks")
        result = import_png_masks(args.project, args.masks, args.images, args.labels)
    added = f", new labels: {', '.join(result.labels_added)}" if result.labels_added else ""
    print(f"imported {result.annotations} annotations and {result.masks} masks into "
          f"{len(result.studies)} studies{added}")  # fmt: skip
    return 0
