"""CSV of every measurement: calipers in the region's units and stored values such as EF.

A measurement without a value (``MeasurementRow.problem``: e.g. a caliper across two regions)
has no row; the export's notes say which and why.
"""

from __future__ import annotations

import csv
import io

from engine.interop.files import write_text
from engine.interop.measurements import not_measured_notes, study_measurements
from engine.interop.project_data import ProjectData
from engine.interop.registry import ExportContext, ExportSummary, register_exporter

CSV_FILE = "measurements.csv"
COLUMNS = (
    "study", "annotation_id", "kind", "name", "frame", "label", "value", "unit", "ucum", "calibrated",
    "origin", "points",
)  # fmt: skip


@register_exporter("csv", "CSV of every measurement with value, unit and frame")
def export_csv(data: ProjectData, ctx: ExportContext) -> ExportSummary:
    """Write ``measurements.csv`` (one row per measured value, full float precision)."""
    labels = {lab.id: lab.name for lab in data.labels}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    notes: list[str] = []
    for study in data.studies:
        rows = study_measurements(study, labels)
        notes += not_measured_notes(ctx.study_name(study), rows)
        for m in (m for m in rows if not m.problem):
            points = ";".join(f"{x:g} {y:g}" for x, y in m.points)
            writer.writerow(
                [ctx.study_name(study), m.annotation_id, m.kind, m.name, m.frame, m.label, repr(m.value),
                 m.unit, m.ucum[0], int(m.calibrated), m.origin, points]
            )  # fmt: skip
    write_text(ctx.staging / CSV_FILE, buf.getvalue())
    return ExportSummary((CSV_FILE,), tuple(notes))
