"""The study report as text and PDF: the stored report text plus every measurement.

Each measurement reads as the app shows it (``engine.measurement.value_text``); one without a
value (a caliper that cannot be measured) reads "not measurable (why)", as in the app's report.
"""

from __future__ import annotations

from engine.interop.files import write_bytes, write_text
from engine.interop.measurements import MeasurementRow, study_measurements
from engine.interop.pdf import text_pdf
from engine.interop.project_data import ProjectData, StudyData
from engine.interop.registry import ExportContext, ExportSummary, register_exporter
from engine.measurement import value_text


def _value(m: MeasurementRow) -> str:
    """The value as the app shows it, or why there is none (as the app's report says it)."""
    return f"not measurable ({m.problem})" if m.problem else value_text(m.value, m.unit, m.calibrated)


def report_text(study: StudyData, name: str, label_names: dict[int, str]) -> str:
    """The report of one study: findings (every measurement), frame marks and the report text."""
    lines = ["EchoCare Studio report", f"Study: {name}", "", "Measurements:"]
    rows = study_measurements(study, label_names)
    for m in rows:
        where = "study" if m.frame < 0 else f"frame {m.frame}"
        label = f" [{m.label}]" if m.label else ""
        draft = " (AI draft)" if m.origin == "ai_draft" else ""
        lines.append(f"- {m.name}{label}, {where}: {_value(m)}{draft}")
    if not rows:
        lines.append("- none")
    marks = sorted((a.frame, str(a.value or "")) for a in study.annotations if a.kind == "frame_mark")
    if marks:
        lines += ["", "Frame marks: " + ", ".join(f"{v} {f}" for f, v in marks)]
    classes = [str(a.value or "") for a in study.annotations if a.kind == "class"]
    if classes:
        lines += ["", "Classification: " + ", ".join(classes)]
    texts = [str(a.value or "").strip() for a in study.annotations if a.kind == "report"]
    lines += ["", "Report:", *(t for t in texts if t)] if any(texts) else []
    return "\n".join(lines) + "\n"


@register_exporter("report", "the study report as text and PDF")
def export_report(data: ProjectData, ctx: ExportContext) -> ExportSummary:
    """Write ``<study>_report.txt`` and ``<study>_report.pdf`` for every study."""
    labels = {lab.id: lab.name for lab in data.labels}
    files: list[str] = []
    for study in data.studies:
        name = ctx.study_name(study)
        text = report_text(study, name, labels)
        write_text(ctx.staging / f"{name}_report.txt", text)
        write_bytes(ctx.staging / f"{name}_report.pdf", text_pdf(text, f"EchoCare report {name}"))
        files += [f"{name}_report.txt", f"{name}_report.pdf"]
    return ExportSummary(tuple(files))
