"""The report: free text a person edits, plus numbers linked to the study's measurements.

The report annotation stores only the words. Its numbers (the exam, class, study values such as
EF with the ED/ES frames, caliper measurements) are not typed into the text: they are read from
the document each time the report is shown or exported, so changing a caliper, overriding a
value or setting the exam updates the report while the free text stays exactly as written. A
class draft hidden for its score is left out, as it is from the panels. Calipers are measured
by ``engine.measurement`` (as the exported report is); one that cannot be measured, and a value
that is not a number, reads "not measurable (why)".
"""

from __future__ import annotations

import math

from app.model.annotations import CALIPER_KINDS, STUDY_WIDE, Annotation, Review
from app.model.document import Document
from app.model.exam import exam_line
from app.model.measure import MeasureError, measure
from engine.measurement import NOT_A_NUMBER

NUMBERS_HEADER = "Findings (linked to the measurements):"


def _shown(a: Annotation) -> bool:
    return a.review is not Review.REJECTED


def _tag(a: Annotation) -> str:
    return " (AI draft)" if a.review is Review.PENDING else ""


def _number(value: object) -> str:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    return f"{v:.1f}" if math.isfinite(v) else f"not measurable ({NOT_A_NUMBER})"


def _exam_line(doc: Document) -> list[tuple[str, str]]:
    if doc.exam_override is None and doc.found_exam is None:
        return []
    return [("Exam", exam_line(doc.found_exam, doc.exam_override).removeprefix("Exam: "))]


def _class_line(doc: Document) -> list[tuple[str, str]]:
    cls = doc.study_value("class")
    if cls is None or not _shown(cls) or not doc.shown(cls):
        return []
    prob = dict(cls.scores).get(str(cls.value))
    text = f"{cls.value}" + (f" (p {prob:.2f})" if prob is not None else "")
    return [("Class", text + _tag(cls))]


def _value_lines(doc: Document) -> list[tuple[str, str]]:
    values = [a for a in doc.of_kind("value") if a.frame == STUDY_WIDE and _shown(a)]
    lines = []
    for a in sorted(values, key=lambda a: a.name):
        text = _number(a.value)
        if a.name.startswith("EF"):
            marks = doc.frame_marks()
            frames = "; ".join(f"{k} {', '.join(map(str, v))}" for k, v in marks.items() if v)
            text += f" ({frames})" if frames else ""
        lines.append((a.name or "value", text + _tag(a)))
    return lines


def _caliper_lines(doc: Document) -> list[tuple[str, str]]:
    lines = []
    calipers = [a for a in doc.annotations.values() if a.kind in CALIPER_KINDS and _shown(a)]
    for a in sorted(calipers, key=lambda a: (a.frame, a.kind)):
        try:
            text = measure(a, doc.calibration(a.frame)).text
        except MeasureError as err:
            text = f"not measurable ({err})"
        name = a.name or a.kind
        lines.append((f"{name}, frame {a.frame}", text + _tag(a)))
    return lines


def linked_numbers(doc: Document) -> list[tuple[str, str]]:
    """(name, value text) of every number the report states, read from the annotations now."""
    return _exam_line(doc) + _class_line(doc) + _value_lines(doc) + _caliper_lines(doc)


def numbers_text(doc: Document) -> str:
    """The findings block: one ``- name: value`` line per linked number."""
    lines = [f"- {k}: {v}" for k, v in linked_numbers(doc)] or ["- none"]
    return "\n".join([NUMBERS_HEADER, *lines])


def report_text(doc: Document, model_notice: str = "") -> str:
    """The whole report as exported: notice, linked numbers and the person's free text."""
    free = doc.study_value("report")
    words = "" if free is None or not _shown(free) else str(free.value)
    head = [model_notice] if model_notice else []
    return "\n\n".join([*head, numbers_text(doc), words]).rstrip() + "\n"
