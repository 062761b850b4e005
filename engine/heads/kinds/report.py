"""Report: structured findings from the other tasks plus the text decoder's number-free impression.

The head's labels are its vocabulary; its target is the report text, encoded with that
vocabulary; training feeds the target to the decoder (teacher forcing).
"""

from __future__ import annotations

from typing import Any

from engine.annotations import Annotation
from engine.drafts import Drafts, LabelIds
from engine.heads.spec import Files, HeadSpec, register_spec
from engine.tasks.report import ReportTask, encode_report
from engine.types import Report


def _json(r: Report, files: Files) -> dict[str, Any]:
    return {"text": r.text, "findings": [list(f) for f in r.findings], "impression": r.impression}


def _drafts(r: Report, label_id: LabelIds, out: Drafts) -> None:
    """The report's words only (its impression, digit-free by construction); the app links the
    numbers to the study's measurements each time the report is shown."""
    out.annotations.append(Annotation("report", value=f"Impression: {r.impression or '(none)'}"))


SPEC = register_spec(HeadSpec(
    kind="report", rank=6, task=ReportTask, metric=("token_f1", True),
    json={Report: _json}, drafts={Report: _drafts},
    network="GruReportHead", loss="ReportLoss", metric_args=lambda m: {"vocab": m.labels},
    teacher_forced=True, open_vocabulary=True, per_frame_json=False,
    remap=lambda t, src, dst: t,  # text: encoded with the model's vocabulary when prepared
    size=lambda labels: {"vocab_size": len(labels)},
    target=lambda t, g, s: encode_report(str(t), s.vocab, s.report_len),
))
