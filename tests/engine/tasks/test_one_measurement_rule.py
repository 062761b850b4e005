"""One distance, five paths: the app's caliper, the AI draft, the report, the CSV and the SR agree.

Each case writes a small US cine (one region, two regions of different scale, or none), puts a
person's distance caliper and the AI draft of the same two points (a landmarks result's
measurement, converted to the app's draft value) in a project, exports it, and reads every
path back. All of them must state the same value and unit, or all must say "not measured".
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from app.model.annotations import Annotation, draft
from app.model.document import Document
from app.model.inference import to_drafts
from app.model.labels import LabelSet
from app.model.measure import MeasureError, measure
from app.model.report import linked_numbers
from engine.interop import export_project
from engine.interop.measurements import split_name
from engine.io.calibration import Calibration, Region
from engine.io.open import open_cine
from engine.measurement import ACROSS_REGIONS
from engine.project import LabelRecord, ProjectStore, to_record
from engine.provenance import ModelRef
from engine.tasks.base import CineContext, FrameContext
from engine.tasks.landmarks import LandmarkTask
from engine.tasks.presets import all_heads_cfg
from engine.transforms.geometry import Geometry

H, W, FRAME = 120, 160, 2
REF = ModelRef("echocare-all", "1", "0" * 64)
UCUM = {"mm": "mm", "px": "{pixel}"}
ONE = [(0, 0, W - 1, H - 1, 0.025)]  # (x0, y0, x1, y1, cm per pixel): 0.25 mm/px
TWO = [(0, 0, W // 2 - 1, H - 1, 0.025), (W // 2, 0, W - 1, H - 1, 0.05)]  # 0.25 | 0.5 mm/px


@dataclass(frozen=True)
class Case:
    regions: list[tuple[int, int, int, int, float]]
    p: tuple[float, float]
    q: tuple[float, float]
    expected: tuple[float, str] | None  # (value, unit) by hand; None: not measurable


CASES = {
    "one region": Case(ONE, (10.5, 20.0), (70.25, 90.0), (math.hypot(59.75, 70.0) * 0.25, "mm")),
    # both points in the right region, whose scale is twice the left one's
    "two regions, right": Case(TWO, (90.0, 10.0), (150.0, 100.0), (math.hypot(60.0, 90.0) * 0.5, "mm")),
    # x = 79.5 is the edge between pixel 79 (left region) and pixel 80: it belongs to pixel 79
    "two regions, on the border": Case(
        TWO, (10.0, 10.0), (79.5, 60.0), (math.hypot(69.5, 50.0) * 0.25, "mm")
    ),
    "two regions, straddling": Case(TWO, (10.0, 10.0), (120.0, 10.0), None),
    "straddling from the border": Case(TWO, (79.5, 10.0), (150.0, 10.0), None),
    "uncalibrated": Case([], (10.0, 10.0), (40.0, 50.0), (50.0, "px")),
}


def write_cine(us_dicom, path: Path, regions: list[tuple[int, int, int, int, float]]) -> Path:
    """A 4-frame US multi-frame DICOM with tissue regions in cm per pixel (none: uncalibrated)."""
    frames = np.random.default_rng(0).integers(0, 200, (4, H, W), dtype=np.uint8)
    return us_dicom(path, frames, [(x0, y0, x1, y1, cm, cm) for x0, y0, x1, y1, cm in regions], fps=25.0)


def ai_draft(case: Case, cine) -> Annotation | None:
    """The landmarks task's "mitral annulus" distance between p and q, as the app's AI draft
    (None: the task could not measure it, so the run drafts no number)."""
    task = LandmarkTask(all_heads_cfg(), REF)
    ctx = FrameContext(
        FRAME, cine.frame(FRAME), Geometry.letterbox((H, W), (64, 64)), cine.calibration_for(FRAME)
    )
    apex = ((case.p[0] + case.q[0]) / 2, 110.0)
    landmarks = task.result(ctx, np.array([apex, case.p, case.q]), np.ones(3))
    drafts = to_drafts([landmarks], LabelSet()).annotations
    values = [a for a in drafts if a.name.startswith("mitral annulus")]
    assert len(values) == (1 if np.isfinite(landmarks.measurements[0].value) else 0)
    return draft(values[0], REF) if values else None


def statement(value: float, unit: str) -> tuple[float, str] | None:
    """What a path states: (value, unit), or None for "not measured"."""
    return None if math.isnan(value) else (value, unit)


@pytest.mark.parametrize("name", CASES)
def test_caliper_draft_report_csv_and_sr_state_one_value(name, tmp_path, us_dicom):
    case = CASES[name]
    source = write_cine(us_dicom, tmp_path / "clip.dcm", case.regions)
    cine = open_cine(source)
    assert cine.calibration.calibrated == bool(case.regions)
    caliper = Annotation("distance", FRAME, 0, (case.p, case.q))

    # 1. the app's caliper
    try:
        m = measure(caliper, cine.calibration_for(FRAME))
    except MeasureError as err:
        app, app_text, why = None, f"not measurable ({err})", str(err)
    else:
        app, app_text, why = (m.value, m.unit), m.text, ""
    assert (app is None) == (case.expected is None)
    if case.expected is not None:
        assert app[0] == pytest.approx(case.expected[0], rel=1e-12) and app[1] == case.expected[1]
        assert ("uncalibrated" in app_text) == (app[1] == "px")
    else:
        assert why == ACROSS_REGIONS

    # 2. the AI draft: the landmarks task's measurement, as the app stores it
    ai = ai_draft(case, cine)
    if ai is None:
        assert app is None
    else:
        ai_name, ai_unit, ai_calibrated = split_name(ai.name)
        assert ai_name == "mitral annulus" and ai_calibrated == (case.regions != [])
        assert statement(float(ai.value), ai_unit) == app

    # the app's report (it lists study-wide values only, so the caliper's line)
    doc = Document(cine)
    doc.put_annotation(caliper)
    assert (f"distance, frame {FRAME}", app_text) in linked_numbers(doc)
    cine.close()

    # a project holding the person's caliper and the model's draft
    folder = tmp_path / "project"
    store = ProjectStore(folder)
    store.set_labels([LabelRecord(1, "LV", (230, 60, 60))])
    study = store.add_study(source, 4, H, W)
    store.save_study(study.id, [to_record(a) for a in (caliper, ai) if a is not None])
    store.close()
    stem = f"{study.id:04d}_{source.stem}"

    # 3. the exported report (text and PDF)
    report = export_project(folder, "report", tmp_path / "report")
    lines = (tmp_path / "report" / f"{stem}_report.txt").read_text().splitlines()
    caliper_line = f"- distance, frame {FRAME}: {app_text}"
    assert caliper_line in lines
    ai_line = f"- mitral annulus, frame {FRAME}: {app_text}"
    assert (f"{ai_line} (AI draft)" in lines) == (ai is not None)
    pdf = (tmp_path / "report" / f"{stem}_report.pdf").read_bytes()
    assert caliper_line in _pdf_text(pdf)
    assert report.notes == ()

    # 4. the CSV: one row each with the exact value, or no row and a note saying why
    result = export_project(folder, "csv", tmp_path / "csv")
    with open(tmp_path / "csv" / "measurements.csv", newline="") as f:
        rows = {r["annotation_id"]: r for r in csv.DictReader(f)}
    for a in (caliper, ai):
        row = rows.get(a.id) if a is not None else None
        assert ((float(row["value"]), row["unit"]) if row else None) == app
        if row:
            assert (row["ucum"], row["calibrated"]) == (UCUM[app[1]], str(int(app[1] == "mm")))
    not_measured = (f"{stem}: distance on frame {FRAME} not measured: {ACROSS_REGIONS}",)
    assert result.notes == (() if app else not_measured)

    # 5. the DICOM SR, read back with pydicom
    result = export_project(folder, "dicom-sr", tmp_path / "sr")
    srs = [f for f in result.files if f.startswith("sr/")]
    if app is None:
        assert srs == [] and result.notes == (*not_measured, f"{stem}: no measurements, no SR written")
        return
    assert result.notes == ()
    ds = pydicom.dcmread(tmp_path / "sr" / srs[0])
    values = [item.MeasuredValueSequence[0] for item in _num_items(ds)]
    stated = [(v.FloatingPointValue, v.MeasurementUnitsCodeSequence[0].CodeValue) for v in values]
    assert stated == [(app[0], UCUM[app[1]])] * 2  # the caliper, then the draft


def test_the_landmarks_summary_averages_the_frames_where_it_was_measured():
    task = LandmarkTask(all_heads_cfg(), REF)
    left, right = (Region(x0, y0, x1, y1, cm * 10, cm * 10, "mm", "mm") for x0, y0, x1, y1, cm in TWO)
    cal = Calibration(regions=(left, right), source="regions")
    frame, geometry = np.zeros((H, W), np.uint8), Geometry.letterbox((H, W), (64, 64))
    apex = (40.0, 110.0)
    inside = np.array([apex, (10.0, 10.0), (40.0, 50.0)])  # 50 px in the left region: 12.5 mm
    across = np.array([apex, (10.0, 10.0), (120.0, 10.0)])
    frames = [
        task.result(FrameContext(i, frame, geometry, cal), pts, np.ones(3))
        for i, pts in enumerate([inside, across])
    ]
    assert math.isnan(frames[1].measurements[0].value)
    cine = CineContext((0.0, 40.0), cal, (0, 1))
    annulus = task.summarize(frames, {}, cine)[0]
    assert (annulus.value, annulus.unit, annulus.calibrated) == (pytest.approx(12.5), "mm", True)
    never = task.summarize(frames[1:], {}, cine)[0]
    assert math.isnan(never.value) and never.unit == "mm"


def _pdf_text(pdf: bytes) -> str:
    """The lines a text PDF shows, joined by spaces (so wrapped lines read whole again)."""
    shown = re.findall(rb"\(((?:\\.|[^\\)])*)\) '", pdf)
    return " ".join(re.sub(rb"\\(.)", rb"\1", s).decode("latin-1") for s in shown)


def _num_items(ds: Dataset):
    for item in ds.get("ContentSequence", []):
        if item.ValueType == "NUM":
            yield item
        yield from _num_items(item)
