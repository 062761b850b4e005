"""`echocare infer --tasks auto` on each bundled sample with the bundled demo model: the right exam,
and only that exam's findings (no EF or fetal biometry on the breast, no lesion class or biometry on
the heart, no cardiac findings on the fetal head)."""

import json
from pathlib import Path

import pytest

from app.cli.main import main
from engine.model_card import read_card

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "resources" / "samples"
MODEL = ROOT / "resources" / "models" / "echocare-demo"
FETAL_BIOMETRY = {"HC", "BPD", "OFD", "hc_mm", "bpd_mm", "mean hc_mm", "mean bpd_mm"}
CARDIAC = {"EF", "LV length", "lv_cavity", "lv_myocardium", "lv_apex", "lv_base"}


def _names(doc):
    """Every label, landmark and quantity name the results hold (with a nonzero mask or a box)."""
    names = set()
    tasks = doc["tasks"]
    for f in tasks.get("segmentation", {}).get("frames", []):
        names |= {label for label, n in f["pixel_counts"].items() if n}
        names |= {a["name"].removesuffix(" area") for a in f["areas"]}
    for f in tasks.get("detection", {}).get("frames", []):
        names |= {b["label"] for b in f["boxes"]}
    for f in tasks.get("landmarks", {}).get("frames", []):
        names |= {p["name"] for p in f["points"]} | {m["name"] for m in f["measurements"]}
    for f in tasks.get("regression", {}).get("frames", []):
        names |= {v["name"] for v in f["values"]}
    for c in tasks.get("regression", {}).get("cine", []):
        names.add("EF" if c.get("kind") == "ejection_fraction" else c["name"])
    return names


def _infer(sample, tmp_path):
    out = tmp_path / sample
    assert (
        main(["infer", str(SAMPLES / f"{sample}.dcm"), "--model", str(MODEL), "--out", str(out), "--quiet"])
        == 0
    )
    doc = json.loads((out / "results.json").read_text())
    return doc, (out / "report.txt").read_text()


@pytest.fixture(scope="module")
def needs_exam_head():
    card = read_card(MODEL)
    assert any(h.kind == "exam" for h in card.model.heads), "the bundled model has an exam head"


def test_breast_sample_is_a_breast_exam_with_no_ef_and_no_fetal_biometry(tmp_path, needs_exam_head):
    doc, report = _infer("breast_lesion_cine", tmp_path)
    assert doc["exam"]["levels"]["organ"]["name"] == "breast" and not doc["exam"]["unknown"]
    assert "classification" in doc["tasks"] and "detection" in doc["skipped"]
    assert not _names(doc) & (FETAL_BIOMETRY | CARDIAC)
    assert "Ejection" not in report and "HC" not in report and "BPD" not in report


def test_cardiac_sample_is_a_left_ventricle_exam_with_ef_and_no_lesion_class_or_biometry(
    tmp_path, needs_exam_head
):
    doc, report = _infer("cardiac_lv_cine", tmp_path)
    assert doc["exam"]["levels"]["organ"]["name"] == "left ventricle"
    assert "classification" not in doc["tasks"] and "classification" in doc["skipped"]
    names = _names(doc)
    assert "EF" in names and not names & (FETAL_BIOMETRY | {"lesion", "benign", "malignant"})
    assert "malignant" not in report and "benign" not in report and "HC" not in report


def test_fetal_sample_is_a_fetal_head_exam_with_no_cardiac_findings(tmp_path, needs_exam_head):
    doc, report = _infer("fetal_head", tmp_path)
    assert doc["exam"]["levels"]["organ"]["name"] == "fetal head"
    assert "classification" not in doc["tasks"]
    names = _names(doc)
    assert names & {"HC", "BPD"} and not names & (CARDIAC | {"lesion", "vessel"})
    assert "Ejection" not in report and "malignant" not in report
