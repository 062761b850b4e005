"""``results.json``: the versioned, documented record of one inference run (docs/results-schema.md).

Top level: ``schema`` ("echocare.results/1"), ``created``, ``source`` (the cine's info object),
``model`` (name, version, sha256), ``frames`` (indices analysed), ``crop`` and ``tasks`` keyed
by task name; when the exam is known, ``exam`` (levels with probabilities, source: model or user),
and with ``--tasks auto``, ``skipped`` (task -> why it did not run) and ``note``. Each result
type's encoder is declared by its head kind (``engine.heads.kinds``); numbers are rounded for
readability (coordinates 0.01 px, physical values 0.001, probabilities 1e-4).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.errors import ReadError
from engine.heads.spec import Files, head_spec, result_encoders
from engine.project.atomic import write_atomic
from engine.provenance import ModelRef
from engine.types import Quantity, TaskResult

SCHEMA = "echocare.results/1"


def number(value: float, digits: int = 3) -> float | None:
    """``value`` rounded to ``digits``; None (JSON null) when not finite."""
    return round(float(value), digits) if math.isfinite(value) else None


def quantity(q: Quantity) -> dict[str, Any]:
    """A Quantity as JSON: name, value, unit, calibrated (+ frame when per frame)."""
    out: dict[str, Any] = {"name": q.name, "value": number(q.value), "unit": q.unit}
    out["calibrated"] = q.calibrated
    if q.frame is not None:
        out["frame"] = q.frame
    return out


def _quantity(r: Quantity, files: Files) -> dict[str, Any]:
    return quantity(r)


def encoders() -> dict[type, Callable[[Any, Files], dict[str, Any]]]:
    """Result type -> encoder: every head kind's (``engine.heads.spec``), and ``Quantity``."""
    return {Quantity: _quantity, **result_encoders()}


def encode(result: object, files: Files = {}) -> dict[str, Any] | str:  # noqa: B006 - read-only
    """One result as JSON data (the impression strings of the report's frames stay strings)."""
    if isinstance(result, str):
        return result
    return encoders()[type(result)](result, files)


def task_json(result: TaskResult, labels: tuple[str, ...] = (), files: Files = {}) -> dict[str, Any]:  # noqa: B006
    """A task's entry: ``labels``, per-frame results (``frames``) and the cine summary (``cine``)."""
    out: dict[str, Any] = {"labels": list(labels), "cine": [encode(s, files) for s in result.summary]}
    if head_spec(result.task).per_frame_json:
        out["frames"] = [encode(f, files) for f in result.frames]
    elif result.summary:
        out.update(encode(result.summary[0], files))  # type: ignore[arg-type]
    return out


def results_document(
    tasks: Mapping[str, TaskResult],
    source: Mapping[str, object],
    model: ModelRef,
    frames: tuple[int, ...],
    crop: tuple[int, int, int, int],
    labels: Mapping[str, tuple[str, ...]] = {},
    files: Files = {},  # noqa: B006 - read-only
    exam: object | None = None,
    skipped: Mapping[str, str] = {},
    note: str = "",
) -> dict[str, Any]:
    """The whole results.json document.

    Args:
        tasks: results keyed by task name.
        source: ``CineInfo.as_dict()`` of the input.
        model: provenance of the model version.
        frames: frame indices analysed.
        crop: (x0, y0, x1, y1) of the original frames the model saw.
        labels: each task's labels (from the model card).
        files: paths, relative to the output folder, of written PNGs.
        exam: the study's exam (``engine.heads.kinds.exam.ExamResult``), when known.
        skipped: tasks that did not run, with the reason.
        note: one line on the run as a whole.
    """
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "source": dict(source),
        "model": {"name": model.name, "version": model.version, "sha256": model.sha256},
        "frames": list(frames),
        "crop": list(crop),
        "tasks": {name: task_json(r, labels.get(name, ()), files) for name, r in tasks.items()},
    }
    if exam is not None:
        out["exam"] = encode(exam, files)
    if skipped:
        out["skipped"] = dict(skipped)
    if note:
        out["note"] = note
    return out


def write_results(path: str | Path, document: Mapping[str, Any]) -> Path:
    """Write the document as indented UTF-8 JSON, replacing any older file atomically."""
    p = Path(path)
    write_atomic(p, (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    return p


def read_results(path: str | Path) -> dict[str, Any]:
    """Read a results.json, checking its schema.

    Raises:
        ReadError: not JSON, or a schema this version does not read.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ReadError(p, f"not a results file ({err})") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema != SCHEMA:
        raise ReadError(p, f"results schema {schema!r} is not {SCHEMA!r}")
    return data
