"""Turn the engine's task results into AI drafts: one undoable command per model run.

Each head kind declares how its results become draft annotations and mask planes
(``engine.drafts``); this module only maps label names to the project's labels (matched by name,
any case; a name the schema lacks is added as a new label) and wraps the drafts with the model's
provenance into a single ``apply_prediction`` step. The exam the run used (the ``exam`` task's
summary) is recorded in the same step, so undoing the run brings the previous exam line back.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.model.commands import apply_prediction
from app.model.document import Document
from app.model.exam import PutFoundExam, StudyExam, run_exam
from app.model.history import Composite
from app.model.labels import MAX_LABELS, Label, LabelSet
from engine import drafts as engine_drafts
from engine.drafts import Drafts

PALETTE = ((230, 60, 60), (60, 160, 230), (70, 200, 90), (240, 200, 40), (200, 90, 220), (250, 140, 40))


def label_id(labels: LabelSet, name: str) -> int:
    """The id of the label called ``name`` (any case), added to the schema when missing."""
    for lab in labels:
        if lab.name.lower() == name.lower():
            return lab.id
    new_id = next(i for i in range(1, MAX_LABELS + 1) if i not in labels)
    labels.put(Label(new_id, name, PALETTE[(new_id - 1) % len(PALETTE)]))
    return new_id


def to_drafts(results: Iterable[object], labels: LabelSet) -> Drafts:
    """Task results (or TaskResults) as draft annotations and mask planes in ``labels``' ids.

    Raises:
        TypeError: a result type no head kind converts.
    """
    return engine_drafts.to_drafts(results, lambda name: label_id(labels, name))


def prediction_command(doc: Document, results: Iterable[object]) -> Composite:
    """One undoable step adding the results of one model run as AI drafts.

    Raises:
        ValueError: the results come from more than one model version.
    """
    results = list(results)
    drafts = to_drafts(results, doc.labels)
    exam = run_exam(results)
    models = drafts.models | ({exam.model} if exam is not None else set())
    if len(models) != 1:
        raise ValueError(f"one model run expected, got {len(models)} model versions")
    (model,) = models
    cmd = apply_prediction(doc, model, drafts.annotations, drafts.masks, drafts.enhanced)
    if exam is None:
        return cmd
    found = PutFoundExam(StudyExam.from_result(exam), doc.found_exam)
    return Composite(cmd.text, (found, *cmd.commands))
