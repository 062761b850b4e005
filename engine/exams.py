"""Exam routing: which tasks, labels and measurements apply to a study's exam.

The model card's ``exams`` (``engine.config.ModelCfg``) declares where each result applies: a
task (``"classification"``), a task's label (``"segmentation:lesion"``) or a measurement
(``"measurement:EF"``) lists exam names at any level of the exam tree (``"breast"``,
``"left ventricle"``), or ``"any"`` (every study, recognised or not: enhancement) or
``"known"`` (every recognised exam). A label or measurement without an entry follows its
task; a task without one applies to every recognised exam.

``--tasks auto`` runs the tasks that apply to the exam and keeps, within each, only the labels
and measurements that apply (where labels compete for a pixel, the pixel chooses among those
that apply: ``HeadSpec.condition``); an ``unknown`` exam runs only the tasks declared ``"any"``.
``all`` runs everything (today's behaviour); an explicit list runs exactly that list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from engine.config import ModelCfg
from engine.heads.kinds.exam import UNKNOWN, ExamResult
from engine.io.declared import DeclaredExam

ANY = "any"
KNOWN = "known"
AUTO = "auto"
EXAM_TASK = "exam"


def scope(cfg: ModelCfg, key: str, default: Sequence[str] = (KNOWN,)) -> tuple[str, ...]:
    """The exams ``key`` applies to (the card's entry, else ``default``)."""
    return tuple(cfg.exams.get(key, default))


def applies(scopes: Sequence[str], exam: ExamResult) -> bool:
    """Whether a result scoped to ``scopes`` applies to ``exam``."""
    if ANY in scopes:
        return True
    if exam.unknown:
        return False
    return KNOWN in scopes or bool(exam.names() & set(scopes))


def _scope_text(scopes: Sequence[str]) -> str:
    return "recognised exams" if KNOWN in scopes else ", ".join(scopes)


def _name_keys(task: str, name: str) -> list[str]:
    """Card keys a result name may be declared under: ``"mean lesion area"`` -> lesion's."""
    base = name.removeprefix("mean ").removesuffix(" area").strip()
    return [f"{task}:{base}", f"measurement:{base}"]


def keeper(cfg: ModelCfg, task: str, exam: ExamResult) -> Callable[[str], bool]:
    """``keep(name)``: whether a label, quantity or measurement of ``task`` applies to ``exam``."""
    task_scope = scope(cfg, task)

    def keep(name: str) -> bool:
        for key in _name_keys(task, name):
            if key in cfg.exams:
                return applies(cfg.exams[key], exam)
        return applies(task_scope, exam)

    return keep


@dataclass(frozen=True)
class Routing:
    """What a run does for one study.

    Attributes:
        tasks: the tasks to run, in the model's order.
        skipped: task -> why it does not run ("" reasons never appear).
        keep: task -> the predicate its results are restricted with (absent: kept whole).
        exam: the exam the routing followed (None: the model has no exam head, or not asked).
        note: one line on the routing as a whole (e.g. why nothing was found).
    """

    tasks: tuple[str, ...]
    skipped: dict[str, str] = field(default_factory=dict)
    keep: dict[str, Callable[[str], bool]] = field(default_factory=dict)
    exam: ExamResult | None = None
    note: str = ""


def wants_auto(tasks: str | Sequence[str]) -> bool:
    """Whether a task request is ``auto``."""
    names = [n.strip() for n in tasks.split(",")] if isinstance(tasks, str) else list(tasks)
    return [n for n in names if n] == [AUTO]


def against_header(exam: ExamResult, declared: DeclaredExam | None) -> ExamResult:
    """The model's ``exam``, ``unknown`` where the file's header declares other body regions
    (``engine.io.declared``): a recognised exam whose region the header does not allow gives no
    findings, and the reason names both. An exam a person set, an unknown one, or a file whose
    header names no region is returned as it is."""
    if declared is None or exam.unknown or exam.source != "model" or declared.allows(exam.region):
        return exam
    reason = f"{declared.describe()}, the image looks {exam.region} to the model"
    return replace(exam, unknown=True, reason=reason)


def route(cfg: ModelCfg, available: Sequence[str], exam: ExamResult) -> Routing:
    """The tasks of ``available`` that apply to ``exam`` (the exam task itself excluded).

    Args:
        available: every task the model can run, in order.
        exam: the study's exam (the model's or the user's).
    """
    run, skipped, keep = [], {}, {}
    for task in available:
        if task == EXAM_TASK:
            continue
        scopes = scope(cfg, task)
        if applies(scopes, exam):
            run.append(task)
            keep[task] = keeper(cfg, task, exam)
        elif exam.unknown:
            skipped[task] = f"the exam is {UNKNOWN} ({exam.reason}): no automatic findings"
        else:
            skipped[task] = f"applies to {_scope_text(scopes)}, not to {exam.label()}"
    note = ""
    if exam.unknown:
        note = f"The model does not recognise this study ({exam.reason}): no automatic findings."
    return Routing(tuple(run), skipped, keep, exam, note)
