"""COCO (round trip through import), PNG masks, CSV, NIfTI and the report."""

from __future__ import annotations

import csv
import json
import math

import cv2
import numpy as np
from interop_project import LABELS

from engine.annotations import Annotation
from engine.interop import export_project, import_coco, import_png_masks, rle
from engine.interop.measurements import study_measurements
from engine.interop.nifti import read as read_nifti
from engine.interop.project_data import StudyData, load_project
from engine.io import open_cine
from engine.measurement import NOT_A_NUMBER
from engine.project import AnnotationRecord, MaskRecord, ProjectStore, StudyRecord


def _key(a):
    return (a.kind, a.frame, a.data_json())


def test_coco_round_trip_gives_identical_annotations(project, tmp_path):
    export_project(project.folder, "coco", tmp_path / "coco")
    ProjectStore(tmp_path / "new").close()
    result = import_coco(tmp_path / "new", tmp_path / "coco" / "annotations.json")
    assert result.masks == len(project.masks)

    store = ProjectStore(tmp_path / "new")
    (study,) = store.studies()
    assert store.resolve(study) == project.source.resolve()
    assert [(lab.id, lab.name, lab.color) for lab in store.labels()] == [
        (x.id, x.name, x.color) for x in LABELS
    ]
    got = store.annotations(study.id)
    assert sorted(map(_key, got)) == sorted(map(_key, project.annotations))
    assert {(a.id, a.label_id) for a in got} == {(a.id, a.label_id) for a in project.annotations}
    assert all(a.origin.value == "human_final" and a.review == "accepted" for a in got)
    masks = store.masks(study.id)
    assert sorted(masks) == sorted(project.masks)
    for f, plane in project.masks.items():
        np.testing.assert_array_equal(masks[f].plane, plane)
    store.close()


def test_coco_file_is_plain_coco(project, tmp_path):
    export_project(project.folder, "coco", tmp_path / "coco")
    doc = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    images = {im["id"]: im for im in doc["images"]}
    assert sorted(im["echocare"]["frame"] for im in images.values()) == [0, 3, 5, 7, 8, 10, 21, 24, 40]
    for entry in doc["annotations"]:
        image = images[entry["image_id"]]
        frame = image["echocare"]["frame"]
        assert (tmp_path / "coco" / image["file_name"]).is_file()
        if "segmentation" in entry:
            mask = rle.decode(entry["segmentation"])
            np.testing.assert_array_equal(mask, project.masks[frame] == entry["category_id"])
            assert entry["bbox"] == rle.bbox(mask) and entry["area"] == mask.sum()
        elif entry["echocare"]["kind"] == "landmark":
            assert entry["keypoints"] == [310.5, 222.25, 2]
        elif entry["echocare"]["kind"] == "box":
            assert entry["bbox"] == [200.0, 150.0, 220.0, 180.0]
    with open_cine(project.source) as cine:
        first = cv2.imread(str(tmp_path / "coco" / images[1]["file_name"]), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(first, cine.frame(images[1]["echocare"]["frame"]))


def test_png_masks_export_and_import(project, tmp_path):
    out = tmp_path / "png"
    export_project(project.folder, "png", out)
    name = "0001_cardiac_lv_cine"
    for f, plane in project.masks.items():
        np.testing.assert_array_equal(cv2.imread(str(out / "masks" / name / f"f{f:05d}.png"), 0), plane)
    ProjectStore(tmp_path / "new").close()
    result = import_png_masks(tmp_path / "new", out / "masks", out / "images", out / "labels.json")
    assert result.masks == len(project.masks) and len(result.studies) == len(project.masks)
    store = ProjectStore(tmp_path / "new")
    assert [lab.name for lab in store.labels()] == ["LV", "myocardium"]
    for study in store.studies():
        frame = int(study.rel_path.rsplit("/f", 1)[1][:5])
        np.testing.assert_array_equal(store.masks(study.id)[0].plane, project.masks[frame])
    store.close()


def test_csv_lists_every_measurement_with_full_precision(project, tmp_path):
    export_project(project.folder, "csv", tmp_path / "csv")
    rows = list(csv.DictReader((tmp_path / "csv" / "measurements.csv").open()))
    data = load_project(project.folder)
    expected = study_measurements(data.studies[0], {1: "LV", 2: "myocardium"})
    assert [r["annotation_id"] for r in rows] == ["d1", "e1", "a1", "g1", "ef"]
    for r, m in zip(rows, expected, strict=True):
        assert float(r["value"]) == m.value and r["unit"] == m.unit and int(r["frame"]) == m.frame
    assert rows[-1]["value"] == "57.25" and rows[-1]["unit"] == "%"


def test_nifti_volumes_hold_every_frame(project, tmp_path):
    result = export_project(project.folder, "nifti", tmp_path / "nii")
    labels = read_nifti(tmp_path / "nii" / "0001_cardiac_lv_cine_labels.nii.gz")
    image = read_nifti(tmp_path / "nii" / "0001_cardiac_lv_cine_image.nii.gz")
    with open_cine(project.source) as cine:
        assert labels.data.shape == (cine.n_frames, 1, 480, 640)
        np.testing.assert_array_equal(image.data[3, 0], cine.frame(3))
    for f in range(labels.data.shape[0]):
        expected = project.masks.get(f, np.zeros((480, 640), np.uint8))
        np.testing.assert_array_equal(labels.data[f, 0], expected)
    # the scattered labelled pixels outside the scanned region have no spatial scale
    assert labels.pixdim[:2] == (1.0, 1.0)
    assert result.notes == (
        "0001_cardiac_lv_cine: voxel size 1 (not mm): the labelled pixels share no spatial scale",
    )


def test_nifti_voxel_size_is_the_scale_every_labelled_pixel_shares(project, tmp_path):
    with open_cine(project.source) as cine:
        (region,) = cine.calibration_for(0).regions
    inside = np.zeros((480, 640), bool)
    inside[region.y0 : region.y1 + 1, region.x0 : region.x1 + 1] = True
    store = ProjectStore(project.folder)
    masks = {
        f: MaskRecord(f, np.where(inside, plane, 0).astype(np.uint8)) for f, plane in project.masks.items()
    }
    store.save_study(project.study_id, store.annotations(project.study_id), masks)
    store.close()
    result = export_project(project.folder, "nifti", tmp_path / "nii")
    labels = read_nifti(tmp_path / "nii" / "0001_cardiac_lv_cine_labels.nii.gz")
    assert labels.pixdim[:2] == (np.float32(region.spacing_x), np.float32(region.spacing_y))
    assert result.notes == ()


def test_report_text_and_pdf(project, tmp_path):
    result = export_project(project.folder, "report", tmp_path / "rep")
    text = (tmp_path / "rep" / "0001_cardiac_lv_cine_report.txt").read_text()
    rows = study_measurements(load_project(project.folder).studies[0], {1: "LV"})
    for m in rows:
        assert f"{m.value:.1f}" in text
    assert "Normal left ventricular size." in text and "ED 10, ES 24" in text
    pdf = (tmp_path / "rep" / "0001_cardiac_lv_cine_report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    assert b"(- EF, study: 57.2 %) '" in pdf or b"(- EF, study: 57.3 %) '" in pdf
    assert "0001_cardiac_lv_cine_report.pdf" in result.files


def test_rejected_drafts_are_not_exported(project, tmp_path):
    store = ProjectStore(project.folder)
    rejected = AnnotationRecord(
        "r", "distance", 1, 0, {"points": [[0.0, 0.0], [5.0, 0.0]]}, review="rejected"
    )
    store.save_study(project.study_id, [*store.annotations(project.study_id), rejected])
    store.close()
    export_project(project.folder, "csv", tmp_path / "csv")
    ids = [r["annotation_id"] for r in csv.DictReader((tmp_path / "csv" / "measurements.csv").open())]
    assert "r" not in ids and "d1" in ids


def test_a_stored_value_that_is_not_a_finite_number_has_no_value(tmp_path):
    values = [Annotation("value", value=v, name="EF (%)") for v in (math.inf, math.nan, 57.25)]
    study = StudyData(StudyRecord(1, "x.dcm"), tmp_path / "x.dcm", tuple(values), {})
    rows = study_measurements(study, {})
    assert [r.problem for r in rows] == [NOT_A_NUMBER, NOT_A_NUMBER, ""]
    assert [math.isnan(r.value) for r in rows] == [True, True, False]
    assert [(r.unit, r.calibrated) for r in rows] == [("", False), ("", False), ("%", True)]
