"""DICOM SR (TID 1500): every value and unit equals what the app measures, frames referenced."""

from __future__ import annotations

import highdicom as hd
import pydicom

from app.model.measure import measure
from engine.interop import export_project
from engine.io import open_cine
from engine.project import from_record

UCUM = {"mm": "mm", "mm²": "mm2", "deg": "deg", "px": "{pixel}", "px²": "{pixel}2"}


def _num_items(ds):
    for item in ds.get("ContentSequence", []):
        if item.ValueType == "NUM":
            yield item, ds
        yield from _num_items(item)


def test_sr_values_and_units_equal_the_apps_measurements(project, tmp_path):
    result = export_project(project.folder, "dicom-sr", tmp_path / "out")
    (sr_file,) = [f for f in result.files if f.startswith("sr/")]
    ds = pydicom.dcmread(tmp_path / "out" / sr_file)
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    parsed = hd.sr.srread(tmp_path / "out" / sr_file)
    assert isinstance(parsed, hd.sr.Comprehensive3DSR)
    by_highdicom = [
        (m.value, m.unit.value)
        for g in parsed.content.get_planar_roi_measurement_groups()
        for m in g.get_measurements()
    ]

    calipers = [a for a in project.annotations if a.kind in ("distance", "ellipse", "area", "angle")]
    with open_cine(project.source) as cine:
        expected = [measure(from_record(a), cine.calibration_for(a.frame)) for a in calipers]
    items = list(_num_items(ds))
    assert len(items) == len(calipers) + 1  # the calipers and EF
    assert by_highdicom == [(m.value, UCUM[m.unit]) for m in expected]

    source = pydicom.dcmread(project.source, stop_before_pixels=True)
    for (item, group), a, m in zip(items, calipers, expected, strict=False):
        value = item.MeasuredValueSequence[0]
        assert value.FloatingPointValue == m.value
        assert abs(float(value.NumericValue) - m.value) <= 1e-9 * max(1.0, abs(m.value))
        assert value.MeasurementUnitsCodeSequence[0].CodeValue == UCUM[m.unit]
        assert value.MeasurementUnitsCodeSequence[0].CodingSchemeDesignator == "UCUM"
        scoord = next(i for i in group.ContentSequence if i.ValueType == "SCOORD")
        ref = scoord.ContentSequence[0].ReferencedSOPSequence[0]
        assert ref.ReferencedSOPInstanceUID == source.SOPInstanceUID
        assert int(ref.ReferencedFrameNumber) == a.frame + 1

    ef_item, ef_group = items[-1]
    ef = ef_item.MeasuredValueSequence[0]
    assert ef_item.ConceptNameCodeSequence[0].CodeValue == "10230-1"
    assert ef.FloatingPointValue == 57.25
    assert ef.MeasurementUnitsCodeSequence[0].CodeValue == "%"
    image = next(i for i in ef_group.ContentSequence if i.ValueType == "IMAGE")
    assert list(image.ReferencedSOPSequence[0].ReferencedFrameNumber) == [11, 25]  # ED 10, ES 24
