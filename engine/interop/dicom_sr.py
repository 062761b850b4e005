"""DICOM SR (TID 1500 Measurement Report) of a study's measurements, built with highdicom.

Each caliper is a planar ROI group (TID 1410) whose region is the caliper's geometry on its
source frame (Referenced Frame Number for multi-frame sources), holding one measurement with
its UCUM unit. Study-wide values such as EF are a measurement group (TID 1501) referencing
the ED/ES frames where they are marked. Every value also carries its exact double in
Floating Point Value beside the decimal string. A measurement without a value
(``MeasurementRow.problem``: e.g. a caliper across two regions) is left out; the export's
notes say which and why.
"""

from __future__ import annotations

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from engine.interop.dicom_copy import source_dataset, write_dataset
from engine.interop.measurements import MeasurementRow, not_measured_notes, study_measurements
from engine.interop.project_data import ProjectData, StudyData
from engine.interop.registry import ExportContext, ExportSummary, register_exporter

SR_SERIES_NUMBER = 901
ULTRASONOGRAPHY = hd.sr.CodedConcept("16310003", "SCT", "Diagnostic ultrasonography")
LOCAL_SCHEME = "99ECHOCARE"
NAMES = {
    "distance": codes.SCT.Length,
    "ellipse": codes.SCT.Area,
    "area": codes.SCT.Area,
    "angle": codes.SCT.Angle,
}
VALUE_NAMES = {"EF": hd.sr.CodedConcept("10230-1", "LN", "Left ventricular Ejection fraction")}
GRAPHIC = {"distance": "POLYLINE", "angle": "POLYLINE", "area": "POLYLINE", "ellipse": "ELLIPSE"}


def _name(m: MeasurementRow) -> hd.sr.CodedConcept:
    if m.kind in NAMES:
        code = NAMES[m.kind]
        return hd.sr.CodedConcept(code.value, code.scheme_designator, code.meaning)
    known = VALUE_NAMES.get(m.name)
    if known is not None:
        return known
    slug = "".join(c for c in m.name.upper() if c.isalnum())[:16] or "VALUE"
    return hd.sr.CodedConcept(slug, LOCAL_SCHEME, m.name[:64] or "value")


def _unit(m: MeasurementRow) -> hd.sr.CodedConcept:
    code, meaning = m.ucum
    return hd.sr.CodedConcept(code, "UCUM", meaning)


def _graphic(m: MeasurementRow) -> np.ndarray:
    pts = np.asarray(m.points, dtype=np.float64)
    if m.kind == "area":
        return np.vstack([pts, pts[:1]])  # a closed polygon repeats its first point
    if m.kind == "ellipse":
        (x0, y0), (x1, y1) = pts
        cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, abs(x1 - x0) / 2, abs(y1 - y0) / 2
        horizontal = [[cx - rx, cy], [cx + rx, cy]]
        vertical = [[cx, cy - ry], [cx, cy + ry]]
        return np.asarray(horizontal + vertical if rx >= ry else vertical + horizontal)
    return pts


def _frames(source: Dataset, frames: list[int]) -> list[int] | None:
    return [f + 1 for f in frames] if "NumberOfFrames" in source and frames else None


def _groups(study: StudyData, rows: list[MeasurementRow], source: Dataset) -> list[object]:
    groups: list[object] = []
    marks = sorted(a.frame for a in study.annotations if a.kind == "frame_mark" and a.frame >= 0)
    for i, m in enumerate(rows, start=1):
        tracking = hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=f"{m.name} {i}")
        measurement = hd.sr.Measurement(name=_name(m), value=m.value, unit=_unit(m))
        if m.kind in GRAPHIC and m.frame >= 0:
            region = hd.sr.ImageRegion(
                graphic_type=GRAPHIC[m.kind],
                graphic_data=_graphic(m),
                source_image=hd.sr.SourceImageForRegion(
                    source.SOPClassUID, source.SOPInstanceUID, _frames(source, [m.frame])
                ),
            )
            groups.append(
                hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
                    tracking_identifier=tracking, referenced_region=region, measurements=[measurement]
                )
            )
        else:
            image = hd.sr.SourceImageForMeasurementGroup(
                source.SOPClassUID, source.SOPInstanceUID, _frames(source, marks)
            )
            groups.append(
                hd.sr.MeasurementsAndQualitativeEvaluations(
                    tracking_identifier=tracking, measurements=[measurement], source_images=[image]
                )
            )
    return groups


def build_sr(study: StudyData, rows: list[MeasurementRow], source: Dataset) -> Dataset:
    """The TID 1500 SR of ``rows`` (measured values of ``study``, none with a ``problem``)
    referencing ``source``."""
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name="EchoCare Studio"
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=ULTRASONOGRAPHY,
        imaging_measurements=_groups(study, rows, source),  # type: ignore[arg-type]
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=[source],
        content=report,
        series_instance_uid=hd.UID(),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="EchoCare",
        is_complete=True,
        series_description="EchoCare measurements",
    )
    _set_exact_values(sr, [m.value for m in rows])
    return sr


def _set_exact_values(sr: Dataset, values: list[float]) -> None:
    """Put each measurement's exact double in Floating Point Value, in report order."""
    items: list[Dataset] = []

    def walk(ds: Dataset) -> None:
        for item in ds.get("ContentSequence", []):
            if "MeasuredValueSequence" in item:
                items.append(item.MeasuredValueSequence[0])
            walk(item)

    walk(sr)
    for item, value in zip(items, values, strict=True):
        item.FloatingPointValue = float(value)


@register_exporter("dicom-sr", "DICOM SR measurement report (TID 1500) per study")
def export_sr(data: ProjectData, ctx: ExportContext) -> ExportSummary:
    """Write ``sr/<study>_sr.dcm`` for every study with measured values."""
    labels = {lab.id: lab.name for lab in data.labels}
    files: list[str] = []
    notes: list[str] = []
    for study in data.studies:
        measured = study_measurements(study, labels)
        notes += not_measured_notes(ctx.study_name(study), measured)
        rows = [m for m in measured if not m.problem]
        if not rows:
            notes.append(f"{ctx.study_name(study)}: no measurements, no SR written")
            continue
        source, copied = source_dataset(study, ctx)
        rel = f"sr/{ctx.study_name(study)}_sr.dcm"
        write_dataset(ctx.staging / rel, build_sr(study, rows, source))
        files += [*([copied] if copied else []), rel]
    return ExportSummary(tuple(files), tuple(notes))
