"""Report: structured findings from the other tasks plus the text decoder's number-free impression.

The head's labels are its vocabulary; its target is the report text, encoded with that
vocabulary; training feeds the target to the decoder (teacher forcing).
"""

from __future__ import annotations

from typing import Any

from engine.heads.spec import Files, HeadSpec, register_spec
from engine.tasks.report import ReportTask, encode_report
from engine.types import Report


def _json(r: Report, files: Files) -> dict[str, Any]:
    return {"text": r.text, "findings": [list(f) for f in r.findings], "impression": r.impression}


SPEC = register_spec(HeadSpec(
    kind="report", rank=6, task=ReportTask, json={Report: _json}, metric=("token_f1", True),
    network="GruReportHead", loss="ReportLoss", metric_args=lambda m: {"vocab": m.labels},
    teacher_forced=True, open_vocabulary=True, per_frame_json=False,
    remap=lambda t, src, dst: t,  # text: encoded with the model's vocabulary when prepared
    size=lambda labels: {"vocab_size": len(labels)},
    target=lambda t, g, s: encode_report(str(t), s.vocab, s.report_len),
))
