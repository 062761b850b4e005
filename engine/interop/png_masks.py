"""PNG masks: one 8-bit label image per annotated frame, pixel value = label id."""

from __future__ import annotations

from engine.interop.files import write_json, write_png
from engine.interop.project_data import ProjectData
from engine.interop.registry import ExportContext, ExportSummary, register_exporter

LABELS_FILE = "labels.json"


@register_exporter("png", "PNG label masks (value = label id) with the frame images beside them")
def export_png(data: ProjectData, ctx: ExportContext) -> ExportSummary:
    """Write ``masks/<study>/f00012.png``, the matching ``images/...`` and ``labels.json``."""
    files: list[str] = []
    for study in data.studies:
        if not study.masks:
            continue
        name = ctx.study_name(study)
        with study.open() as cine:
            for frame, mask in sorted(study.masks.items()):
                for folder, image in (("masks", mask.plane), ("images", ctx.frame(cine, frame))):
                    rel = f"{folder}/{name}/f{frame:05d}.png"
                    write_png(ctx.staging / rel, image)
                    files.append(rel)
    labels = [{"id": lab.id, "name": lab.name, "color": list(lab.color)} for lab in data.labels]
    write_json(ctx.staging / LABELS_FILE, {"background": 0, "labels": labels})
    return ExportSummary((*files, LABELS_FILE), () if files else ("no study has masks",))
