"""``export_project``: run one registered exporter over a project into a new output folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.errors import ConfigError
from engine.interop.files import check_output, staged_folder, write_json
from engine.interop.project_data import load_project
from engine.interop.registry import EXPORTERS, ExportContext, ExportSummary, list_formats


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: the output folder, its files (relative) and notes for the user."""

    out: Path
    format: str
    files: tuple[str, ...]
    notes: tuple[str, ...]


def export_project(
    project: str | Path,
    fmt: str,
    out: str | Path,
    *,
    deidentify: bool = False,
    study_id: int | None = None,
    frames: str | None = None,
) -> ExportResult:
    """Export a project's annotations in format ``fmt`` into the new folder ``out``.

    Args:
        project: the project folder.
        fmt: a registered format name (``list_formats()``).
        out: the output folder; must not exist yet or be empty.
        deidentify: write no patient data: DICOM attributes de-identified per PS3.15 (basic
            profile, with dates shifted per patient), burned-in text outside the fan blanked,
            and an audit of every change written to ``deidentification_audit.json``/``.csv``.
        study_id: export only this study.
        frames: export only the annotations and masks on these frames (``engine.frames``
            grammar, e.g. ``"0,5,10-20"``), with the study-wide ones; all frames when ``None``.

    Returns:
        The files written.

    Raises:
        EchoCareError: unknown format, not a project, no labels or studies, unreadable study,
            or an output folder that cannot be written. Nothing is left in ``out`` then.
    """
    out = Path(out)
    known = list_formats()
    if fmt not in EXPORTERS:
        raise ConfigError(out, f"unknown export format {fmt!r} (known: {', '.join(known)})")
    check_output(out.absolute())
    data = load_project(project, study_id, frames)
    deid = None
    if deidentify:
        from engine.deid.session import Deidentifier

        deid = Deidentifier(data.folder)
    with staged_folder(out) as staging:
        summary: ExportSummary = EXPORTERS[fmt](data, ExportContext(staging, deid))
        files = list(summary.files)
        if deid is not None:
            files += deid.write_audit(staging)
        write_json(
            staging / "export.json",
            {"format": fmt, "deidentified": deidentify, "files": files, "notes": list(summary.notes)},
        )
    if deid is not None:
        deid.save()
    return ExportResult(out.absolute(), fmt, (*files, "export.json"), summary.notes)
