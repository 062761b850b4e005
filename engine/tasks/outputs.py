"""Write a run's files: results.json, mask and enhanced PNGs, overlay PNGs and video, report.txt.

Layout of the output folder::

    results.json            the versioned record (docs/results-schema.md)
    masks/frame_00012.png   uint8 label map per frame (0 background, i + 1 = labels[i])
    enhanced/frame_00012.png  the enhanced frame, original geometry
    overlays/frame_00012.png  the frame with masks, boxes and landmarks drawn
    overlay.mp4             the overlays as a video (overlay.avi, MJPG, where mp4v is missing)
    report.txt              the report text
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from engine.config import ModelCfg
from engine.errors import EchoCareError, ProjectError
from engine.io.cine import DEFAULT_FPS, Cine
from engine.provenance import ModelRef
from engine.results_json import SCHEMA, results_document, write_results
from engine.tasks.overlay import render
from engine.tasks.runner import RunResult
from engine.types import EnhancedFrame, Report, SegmentationResult

VIDEO_CODECS = (("mp4v", "overlay.mp4"), ("MJPG", "overlay.avi"))


def _png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise EchoCareError(path, "cannot write the image")


def _write_video(out: Path, frames: list[np.ndarray], fps: float) -> str | None:
    h, w = frames[0].shape[:2]
    for codec, name in VIDEO_CODECS:
        writer = cv2.VideoWriter(str(out / name), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
        if writer.isOpened():
            for f in frames:
                writer.write(f)
            writer.release()
            return name
        writer.release()
    return None


def check_output_folder(out: str | Path) -> Path:
    """``out`` as a folder the run's files can go to (called before a run, so it fails early).

    Raises:
        ProjectError: ``out`` is a file, or the folder cannot be created.
    """
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ProjectError(folder, "the output path is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ProjectError(folder, f"cannot create the output folder ({err.strerror or err})") from None
    return folder


def write_outputs(
    run: RunResult, cine: Cine, cfg: ModelCfg, ref: ModelRef, out: str | Path, overlays: bool = True
) -> Path:
    """Write every file of a run into ``out`` (created if needed); returns results.json's path.

    results.json is written last and atomically, so a folder whose results.json is complete
    holds every file it lists.

    Raises:
        ProjectError: ``out`` is a file, or a file cannot be written (e.g. a full disk).
    """
    folder = check_output_folder(out)
    try:
        return _write_outputs(run, cine, cfg, ref, folder, overlays)
    except OSError as err:
        raise ProjectError(folder, f"cannot write the run's files ({err.strerror or err})") from None


def _write_outputs(
    run: RunResult, cine: Cine, cfg: ModelCfg, ref: ModelRef, folder: Path, overlays: bool
) -> Path:
    files: dict[str, dict[int, str]] = {"masks": {}, "enhanced": {}, "overlays": {}}
    by_frame: dict[int, dict[str, object]] = {i: {} for i in run.frames}
    for name, result in run.tasks.items():
        for r in result.frames:
            if isinstance(r, SegmentationResult):
                rel = f"masks/frame_{r.frame:05d}.png"
                _png(folder / rel, r.mask)
                files["masks"][r.frame] = rel
            elif isinstance(r, EnhancedFrame):
                rel = f"enhanced/frame_{r.frame:05d}.png"
                _png(folder / rel, r.image)
                files["enhanced"][r.frame] = rel
            frame_index = getattr(r, "frame", None)
            if frame_index in by_frame:
                by_frame[frame_index][name] = r
    video = None
    if overlays:
        rendered = []
        for i in run.frames:
            image = render(cine.frame(i), by_frame[i])
            rel = f"overlays/frame_{i:05d}.png"
            _png(folder / rel, image)
            files["overlays"][i] = rel
            rendered.append(image)
        if len(rendered) > 1:
            video = _write_video(folder, rendered, cine.info.fps or DEFAULT_FPS)
    labels = {h.name: h.labels for h in cfg.heads}
    info = cine.info.as_dict()
    doc = results_document(
        run.tasks, info, ref, run.frames, run.crop, labels, files, run.exam, run.skipped, run.note
    )
    doc["files"] = {"overlay_video": video, "report": None}
    report = run.tasks.get("report")
    if report is not None and report.summary and isinstance(report.summary[0], Report):
        (folder / "report.txt").write_text(report.summary[0].text, encoding="utf-8")
        doc["files"]["report"] = "report.txt"
    assert doc["schema"] == SCHEMA
    return write_results(folder / "results.json", doc)
