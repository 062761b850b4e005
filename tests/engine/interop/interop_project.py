"""Builds a project on the bundled cardiac cine with masks on several frames and every annotation kind."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.project import AnnotationRecord, LabelRecord, MaskRecord, ProjectStore

SAMPLES = Path(__file__).resolve().parents[3] / "resources" / "samples"
CARDIAC = SAMPLES / "cardiac_lv_cine.dcm"
LABELS = [LabelRecord(1, "LV", (230, 60, 60)), LabelRecord(2, "myocardium", (60, 160, 230), 0.3)]
MASK_FRAMES = (0, 7, 21, 40)


@dataclass
class Project:
    folder: Path
    study_id: int
    source: Path
    masks: dict[int, np.ndarray]
    annotations: list[AnnotationRecord]


def _masks(rows: int, cols: int) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[:rows, :cols]
    out = {}
    for f in MASK_FRAMES:
        plane = np.zeros((rows, cols), np.uint8)
        cx, cy = 320 + f, 240 - f
        plane[(xx - cx) ** 2 / 90**2 + (yy - cy) ** 2 / 60**2 <= 1] = 1
        plane[((xx - cx) ** 2 / 110**2 + (yy - cy) ** 2 / 80**2 <= 1) & (plane == 0)] = 2
        plane[rng.random((rows, cols)) < 0.001] = 1  # scattered pixels test exactness
        out[f] = plane
    return out


ANNOTATIONS = [
    AnnotationRecord("box1", "box", 7, 1, {"points": [[200.0, 150.0], [420.0, 330.0]]}),
    AnnotationRecord("lm1", "landmark", 7, 2, {"points": [[310.5, 222.25]]}),
    AnnotationRecord("d1", "distance", 3, 1, {"points": [[100.5, 200.0], [300.0, 250.25]]}),
    AnnotationRecord("e1", "ellipse", 5, 0, {"points": [[100.0, 100.0], [200.0, 160.0]]}),
    AnnotationRecord("a1", "area", 21, 1, {"points": [[250.0, 180.0], [380.0, 190.0], [330.0, 320.0]]}),
    AnnotationRecord("g1", "angle", 8, 0, {"points": [[100.0, 100.0], [200.0, 200.0], [300.0, 120.0]]}),
    AnnotationRecord("ef", "value", -1, 0, {"points": [], "value": 57.25, "name": "EF (%)"}),
    AnnotationRecord("ed", "frame_mark", 10, 0, {"points": [], "value": "ED"}),
    AnnotationRecord("es", "frame_mark", 24, 0, {"points": [], "value": "ES"}),
    AnnotationRecord("rp", "report", -1, 0, {"points": [], "value": "Normal left ventricular size."}),
]


def make_project(folder: Path, source: Path = CARDIAC, with_masks: bool = True) -> Project:
    store = ProjectStore(folder)
    store.set_labels(LABELS)
    study = store.add_study(source, 60, 480, 640)
    masks = _masks(480, 640) if with_masks else {}
    store.save_study(study.id, ANNOTATIONS, {f: MaskRecord(f, p) for f, p in masks.items()})
    store.close()
    return Project(folder, study.id, source, masks, list(ANNOTATIONS))
