"""Pretraining frame sources: label trees from DICOM attributes, a CSV or folder names."""

from __future__ import annotations

import shutil
from pathlib import Path

from engine.io import open_cine
from training.config import DataCfg, PretrainCfg, TreeCfg
from training.data.frames import FRAME_SOURCES, PretrainFrames
from training.data.tree import UNKNOWN, LabelTree

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def test_dicom_attributes_give_the_tree_and_patient_ids(tmp_path):
    for name in ("breast_lesion_cine.dcm", "fetal_head.dcm"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    cfg = PretrainCfg(
        arch="echocare_test",
        input_size=(64, 64),
        data=DataCfg(source="folders", paths=(str(tmp_path),), frames_per_cine=3),
        tree=TreeCfg(source="dicom", levels=("StudyDescription", "BodyPartExamined", "ProtocolName")),
    )
    refs, read = FRAME_SOURCES.get("folders")(cfg)
    by_study = {r.labels for r in refs}
    assert by_study == {("Simulated lesion", "BREAST", None), ("Simulated fetal head", "UTERUS", None)}
    assert all(r.patient.startswith("SIM-") for r in refs)
    for name in ("breast_lesion_cine.dcm", "fetal_head.dcm"):  # frames spread over each cine
        with open_cine(tmp_path / name) as cine:
            frames = [r.frame for r in refs if r.source.endswith(name)]
            assert len(frames) == min(3, len(cine)) and frames[-1] == len(cine) - 1
    tree = LabelTree.from_paths(cfg.tree.levels, [r.labels for r in refs])
    item = PretrainFrames(refs, read, tree, (64, 64))[0]
    assert item["image"].shape == (3, 64, 64) and item["labels"][2] == UNKNOWN


def test_csv_tree(image_tree, tmp_path):
    csv = tmp_path / "tree.csv"
    files = sorted(p.relative_to(image_tree) for p in image_tree.rglob("*.png"))
    csv.write_text("path,site\n" + "".join(f"{f},{'A' if 'neck' in str(f) else 'B'}\n" for f in files))
    cfg = PretrainCfg(
        data=DataCfg(source="folders", paths=(str(image_tree),), frames_per_cine=1),
        tree=TreeCfg(source="csv", levels=("site",), csv=str(csv)),
    )
    refs, _ = FRAME_SOURCES.get("folders")(cfg)
    assert {r.labels for r in refs} == {("A",), ("B",)}
    assert sum(r.labels == ("A",) for r in refs) == len(refs) // 2
