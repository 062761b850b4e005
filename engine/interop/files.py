"""Durable file writes for exporters, and the staging folder that makes an export all-or-nothing."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from engine.errors import ProjectError
from engine.project.atomic import fsync_dir


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (parents created) and flush it to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return path


def write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text durably."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: Path, obj: object) -> Path:
    """Write JSON (indented, UTF-8) durably."""
    return write_text(path, json.dumps(obj, indent=1, ensure_ascii=False) + "\n")


def write_png(path: Path, image: np.ndarray) -> Path:
    """Write a ``[H, W]`` uint8/uint16 or ``[H, W, 3]`` uint8 image as a lossless PNG."""
    import cv2

    arr = np.ascontiguousarray(image)
    if arr.ndim == 3:
        arr = arr[..., ::-1]  # OpenCV writes BGR
    ok, buf = cv2.imencode(".png", arr)
    if not ok:
        raise ProjectError(path, "cannot encode the image as PNG")
    return write_bytes(path, buf.tobytes())


def check_output(out: Path) -> None:
    """Refuse an output folder that is a file or already holds files.

    Raises:
        ProjectError: ``out`` is a file or a non-empty folder.
    """
    if out.exists() and not out.is_dir():
        raise ProjectError(out, "the output path is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        raise ProjectError(out, "the output folder is not empty; choose a new or empty folder")


@contextmanager
def staged_folder(out: str | Path) -> Iterator[Path]:
    """Yield an empty staging folder beside ``out`` that becomes ``out`` when the block succeeds.

    On any error the staging folder is deleted, so ``out`` is either complete or untouched.

    Raises:
        ProjectError: ``out`` is unusable, or it or a file in it cannot be written (e.g. a full
            disk).
    """
    out = Path(out).absolute()
    check_output(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    except OSError as err:
        raise ProjectError(out, f"cannot write the output folder ({err.strerror or err})") from None
    try:
        yield staging
        fsync_dir(staging)
        if out.is_dir():
            out.rmdir()  # empty (checked above); replaced by the finished export
        staging.replace(out)
        fsync_dir(out.parent)
    except BaseException as err:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(err, OSError):
            raise ProjectError(out, f"cannot write the export ({err.strerror or err})") from None
        raise
