"""COCO JSON: frames as PNG images, masks as RLE, boxes, landmarks as keypoints.

Each annotated frame becomes one COCO image (``images/<study>/f00012.png``). Mask planes give
one RLE annotation per label present; boxes give ``bbox``; landmarks give one keypoint. Every
annotation also carries an ``echocare`` object (kind, frame, points, value, name, id) so that an
import restores exactly what was exported, measurements included.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.annotations import Annotation
from engine.interop import rle
from engine.interop.files import write_json, write_png
from engine.interop.project_data import ProjectData, StudyData
from engine.interop.registry import ExportContext, ExportSummary, register_exporter

COCO_FILE = "annotations.json"


def _points_box(points: list[list[float]]) -> list[float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def _annotation_entry(a: Annotation, image_id: int, ann_id: int) -> dict[str, Any]:
    points = [list(p) for p in a.points]
    entry: dict[str, Any] = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": a.label_id,
        "iscrowd": 0,
        "echocare": {"id": a.id, "kind": a.kind, "frame": a.frame, "points": points}
        | ({"value": a.value} if a.value is not None else {})
        | ({"name": a.name} if a.name else {}),
    }
    if points:
        box = _points_box(points)
        entry["bbox"], entry["area"] = box, box[2] * box[3]
    if a.kind == "landmark":
        entry["keypoints"], entry["num_keypoints"] = [points[0][0], points[0][1], 2], 1
    return entry


def _frames_of(study: StudyData) -> list[int]:
    frames = {a.frame for a in study.annotations if a.frame >= 0} | set(study.masks)
    return sorted(frames)


def _study_entries(
    study: StudyData, ctx: ExportContext, coco: dict[str, list[Any]], files: list[str]
) -> None:
    name = ctx.study_name(study)
    frames = _frames_of(study)
    study_wide = [a for a in study.annotations if a.frame < 0]
    if not frames and not study_wide:
        return
    with study.open() as cine:
        for f in frames or [0]:
            image_id = len(coco["images"]) + 1
            rel = f"images/{name}/f{f:05d}.png"
            image = ctx.frame(cine, f)
            write_png(ctx.staging / rel, image)
            files.append(rel)
            ext: dict[str, Any] = {"study": name, "frame": f, "frames": cine.n_frames}
            if ctx.deidentifier is None:
                ext["source"] = str(study.path)
            coco["images"].append(
                {"id": image_id, "file_name": rel, "height": image.shape[0], "width": image.shape[1]}
                | {"echocare": ext}
            )
            mask = study.masks.get(f)
            if mask is not None:
                for label_id in (int(v) for v in np.unique(mask.plane) if v):
                    binary = mask.plane == label_id
                    coco["annotations"].append(
                        {"id": len(coco["annotations"]) + 1, "image_id": image_id, "category_id": label_id,
                         "segmentation": rle.encode(binary), "area": float(binary.sum()),
                         "bbox": rle.bbox(binary), "iscrowd": 1,
                         "echocare": {"kind": "mask", "frame": f, "origin": mask.origin.value}}
                    )  # fmt: skip
            todo = [a for a in study.annotations if a.frame == f]
            if f == (frames or [0])[0]:
                todo += study_wide
            for a in todo:
                coco["annotations"].append(_annotation_entry(a, image_id, len(coco["annotations"]) + 1))


@register_exporter("coco", "COCO JSON with frame images, RLE masks, boxes and keypoints")
def export_coco(data: ProjectData, ctx: ExportContext) -> ExportSummary:
    """Write ``annotations.json`` and the annotated frames as PNG images."""
    coco: dict[str, list[Any]] = {
        "images": [],
        "annotations": [],
        "categories": [
            {
                "id": lab.id,
                "name": lab.name,
                "supercategory": "echocare",
                "keypoints": ["point"],
                "skeleton": [],
                "echocare": {"color": list(lab.color), "opacity": lab.opacity},
            }
            for lab in data.labels
        ],
    }
    files: list[str] = []
    for study in data.studies:
        _study_entries(study, ctx, coco, files)
    doc = {"info": {"description": "EchoCare Studio export", "version": "1"}, "licenses": [], **coco}
    write_json(ctx.staging / COCO_FILE, doc)
    return ExportSummary((*files, COCO_FILE))
