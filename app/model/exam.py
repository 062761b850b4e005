"""The study's exam in the app: what a model run recognised, what a person set, and the line shown.

A model with an exam head recognises each study as a leaf of its exam tree
(``"region/organ/view"``) or as ``unknown``; a run with the tasks on "Automatic (by exam)" then
runs only what applies to that exam (``engine.exams``). A person can override the exam with one
of the active model's leaves, ``unknown`` (no automatic findings) or ``automatic`` (the model
decides again): ``set_exam`` is one undoable command, saved with the study, and the next run
passes it to the engine as the user's exam (``user_exam``).

``StudyExam`` is what the document keeps of the last run's exam (it is set inside the run's
undoable step and saved with the study), so the exam line survives reopening the project.
Qt-free and without torch.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from engine.config import ModelCfg
from engine.exams import EXAM_TASK
from engine.heads.kinds.exam import UNKNOWN, ExamResult
from engine.provenance import ModelRef

if TYPE_CHECKING:
    from app.model.document import Document

AUTOMATIC = "automatic"
SETTING_OVERRIDE = "exam.override"  # the study setting holding the exam a person set
SETTING_FOUND = "exam.found"  # the study setting holding the last run's exam (JSON)


def pretty(leaf: str) -> str:
    """``"cardiac/left ventricle/apical"`` -> ``"cardiac / left ventricle / apical"``."""
    return " / ".join(p.strip() for p in leaf.split("/") if p.strip()) or leaf


@dataclass(frozen=True)
class StudyExam:
    """The exam one model run used for the study, as the app shows and saves it.

    Attributes:
        leaf: the exam tree leaf (``"cardiac/left ventricle/apical"``), or ``"unknown"``.
        source: "model" (the exam head recognised it) or "user" (a person set it).
        confidence: the probability of the recognised organ (None when a person set it).
        reason: why the exam is unknown ("" when known).
        model: the model version that ran, e.g. "echocare-all v1".
    """

    leaf: str
    source: str = "model"
    confidence: float | None = None
    reason: str = ""
    model: str = ""

    @property
    def unknown(self) -> bool:
        return self.leaf == UNKNOWN

    @classmethod
    def from_result(cls, exam: ExamResult) -> StudyExam:
        """What the app keeps of the engine's exam."""
        leaf = UNKNOWN if exam.unknown else "/".join(exam.path)
        confidence = None if exam.source == "user" or exam.unknown else round(exam.confidence, 4)
        return cls(leaf, exam.source, confidence, exam.reason, exam.model.label())

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StudyExam | None:
        """The saved exam; None when the text is not one (a damaged or foreign setting)."""
        try:
            data = json.loads(text)
            return cls(
                str(data["leaf"]),
                str(data.get("source", "model")),
                None if data.get("confidence") is None else float(data["confidence"]),
                str(data.get("reason", "")),
                str(data.get("model", "")),
            )
        except (ValueError, TypeError, KeyError):
            return None


def exam_labels(cfg: ModelCfg | None) -> tuple[str, ...]:
    """The leaves of the model's exam head (empty when it has none)."""
    head = cfg.heads_by_name.get(EXAM_TASK) if cfg is not None else None
    return tuple(head.labels) if head is not None else ()


def exam_choices(labels: Sequence[str]) -> list[tuple[str, str]]:
    """(value, text) of each exam a person can pick: automatic, every leaf, unknown."""
    return [
        (AUTOMATIC, "Automatic (the model recognises it)"),
        *((leaf, pretty(leaf)) for leaf in labels),
        (UNKNOWN, "Unknown (no automatic findings)"),
    ]


def user_exam(labels: Sequence[str], override: str | None, model: ModelRef) -> ExamResult | None:
    """The exam a person set, for ``run_tasks(exam=...)``; None when automatic or not one of
    ``labels`` (an exam set with another model's tree)."""
    if override is None or override == AUTOMATIC or (override != UNKNOWN and override not in labels):
        return None
    return ExamResult.chosen_by_user(labels, override, model)


def exam_line(found: StudyExam | None, override: str | None) -> str:
    """The exam as shown with the study.

    E.g. "Exam: cardiac / left ventricle / apical (model, 0.97)", "Exam: breast / breast / lesion
    (set by you)", "Exam: unknown (model: ...)", "Exam: automatic (recognised when the model runs)".
    """
    if override == UNKNOWN:
        return "Exam: unknown (set by you)"
    if override:
        return f"Exam: {pretty(override)} (set by you)"
    if found is None or found.source == "user":
        return "Exam: automatic (recognised when the model runs)"
    if found.unknown:
        return f"Exam: unknown (model{': ' + found.reason if found.reason else ''})"
    confidence = f", {found.confidence:.2f}" if found.confidence is not None else ""
    return f"Exam: {pretty(found.leaf)} (model{confidence})"


def unknown_line(found: StudyExam | None, override: str | None) -> str:
    """The one line said when the exam is unknown ("" otherwise)."""
    if override == UNKNOWN:
        return "Exam set to unknown: no automatic findings"
    if not override and found is not None and found.source == "model" and found.unknown:
        return "The model does not recognise this study: no automatic findings"
    return ""


def run_exam(results: Sequence[object]) -> ExamResult | None:
    """The exam in a run's task results (the ``exam`` task's summary), if any."""
    for r in results:
        if getattr(r, "task", None) == EXAM_TASK and getattr(r, "summary", ()):
            found = r.summary[0]  # type: ignore[attr-defined]
            if isinstance(found, ExamResult):
                return found
    return None


@dataclass(frozen=True)
class SetExamOverride:
    """Set the exam a person chose (None: automatic); undo restores the one before."""

    after: str | None
    before: str | None
    text: str = "set exam"

    def do(self, doc: Document) -> None:
        doc.set_exam_override(self.after)

    def undo(self, doc: Document) -> None:
        doc.set_exam_override(self.before)


@dataclass(frozen=True)
class PutFoundExam:
    """Record the exam a model run used (part of the run's undoable step)."""

    after: StudyExam | None
    before: StudyExam | None
    text: str = "exam"

    def do(self, doc: Document) -> None:
        doc.set_found_exam(self.after)

    def undo(self, doc: Document) -> None:
        doc.set_found_exam(self.before)


def set_exam(doc: Document, choice: str) -> SetExamOverride | None:
    """The command that sets the study's exam to ``choice`` (a leaf, "unknown" or "automatic");
    None when it is already that."""
    after = None if choice in (AUTOMATIC, "") else choice
    if after == doc.exam_override:
        return None
    text = "exam: automatic" if after is None else f"exam: {pretty(after)}"
    return SetExamOverride(after, doc.exam_override, text)
