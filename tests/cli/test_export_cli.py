"""``echocare export`` and ``echocare import-labels``: files written, one-line errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from app.cli.main import main
from engine.project import AnnotationRecord, LabelRecord, MaskRecord, ProjectStore

CARDIAC = Path(__file__).resolve().parents[2] / "resources" / "samples" / "cardiac_lv_cine.dcm"


def _project(folder: Path, labels: bool = True) -> Path:
    store = ProjectStore(folder)
    if labels:
        store.set_labels([LabelRecord(1, "LV", (230, 60, 60))])
    study = store.add_study(CARDIAC, 60, 480, 640)
    plane = np.zeros((480, 640), np.uint8)
    plane[200:260, 300:380] = 1
    dist = AnnotationRecord("d", "distance", 2, 1, {"points": [[110.0, 120.0], [210.0, 120.0]]})
    store.save_study(study.id, [dist], {2: MaskRecord(2, plane)})
    store.close()
    return folder


def test_export_csv_and_list(tmp_path, capsys):
    proj = _project(tmp_path / "p")
    assert main(["export", str(proj), "--format", "csv", "--out", str(tmp_path / "o")]) == 0
    assert "files written" in capsys.readouterr().out
    assert (tmp_path / "o" / "measurements.csv").read_text().count("\n") == 2
    assert main(["export", str(proj), "--format", "list"]) == 0
    listed = capsys.readouterr().out
    assert all(f in listed for f in ("dicom-seg", "dicom-sr", "coco", "png", "nifti", "csv", "report"))


def test_export_only_the_frames_asked_for(tmp_path, capsys):
    store = ProjectStore(tmp_path / "p")
    store.set_labels([LabelRecord(1, "LV", (230, 60, 60))])
    study = store.add_study(CARDIAC, 60, 480, 640)
    plane = np.zeros((480, 640), np.uint8)
    plane[200:260, 300:380] = 1
    box = {"points": [[10.0, 20.0], [110.0, 90.0]]}
    marks = [AnnotationRecord(f"m{f}", "box", f, 1, box) for f in range(6)]
    wide = AnnotationRecord("c", "class", -1, 1, {"value": "normal"})
    store.save_study(study.id, [*marks, wide], {f: MaskRecord(f, plane) for f in (1, 3, 5)})
    store.close()
    out = tmp_path / "o"

    def export(fmt: str, folder: Path, frames: str) -> int:
        project = str(tmp_path / "p")
        return main(["export", project, "--format", fmt, "--out", str(folder), "--frames", frames])

    assert export("png", out, "0,3-5") == 0
    assert sorted(p.name for p in (out / "masks").rglob("*.png")) == ["f00003.png", "f00005.png"]
    assert export("coco", tmp_path / "c", "2-3") == 0
    coco = json.loads((tmp_path / "c" / "annotations.json").read_text())
    boxes = [a for a in coco["annotations"] if a.get("bbox") and not a.get("segmentation")]
    assert len(boxes) == 2
    assert export("csv", tmp_path / "x", "60") == 2
    assert "frames '60': out of range (the cine has frames 0-59)" in _error(capsys)
    assert not (tmp_path / "x").exists()


def test_deidentified_seg_from_the_command_line(tmp_path):
    proj = _project(tmp_path / "p")
    args = ["export", str(proj), "--format", "dicom-seg", "--out", str(tmp_path / "o"), "--deidentify"]
    assert main(args) == 0
    written = json.loads((tmp_path / "o" / "export.json").read_text())
    assert written["deidentified"] and "seg/study_0001_seg.dcm" in written["files"]
    assert (tmp_path / "o" / "deidentification_audit.csv").is_file()


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    return err


def test_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys):
    proj = _project(tmp_path / "p")
    out = tmp_path / "o"
    assert main(["export", str(proj), "--format", "dicom-xyz", "--out", str(out)]) == 2
    assert "unknown export format" in _error(capsys) and not out.exists()
    bare = _project(tmp_path / "bare", labels=False)
    assert main(["export", str(bare), "--format", "coco", "--out", str(out)]) == 2
    assert "no labels" in _error(capsys) and not out.exists()
    (tmp_path / "file").write_text("x")
    assert main(["export", str(proj), "--format", "csv", "--out", str(tmp_path / "file" / "o")]) == 2
    assert "cannot write" in _error(capsys)
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]


def test_import_labels_from_an_export(tmp_path, capsys):
    proj = _project(tmp_path / "p")
    assert main(["export", str(proj), "--format", "coco", "--out", str(tmp_path / "o")]) == 0
    ProjectStore(tmp_path / "new").close()
    coco = tmp_path / "o" / "annotations.json"
    assert main(["import-labels", str(tmp_path / "new"), "--coco", str(coco)]) == 0
    assert "imported 1 annotations and 1 masks into 1 studies" in capsys.readouterr().out
    assert main(["import-labels", str(tmp_path / "new")]) == 2
    assert "either --coco" in _error(capsys)
