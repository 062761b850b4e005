"""Choosing a model and running its tasks on a study, Qt-free and without torch at import.

``available_models`` lists the model store (bundled and user versions, the active version of
each model first); ``statement`` is what the app shows about a model's training data;
``ModelRunner`` loads a model version once and runs the engine's tasks on a frame range of the
study the document already holds open (its frames are decoded once, for the viewer and the
model alike). The engine (and torch) is imported on the first run, inside the worker thread.

A request's tasks are ``("auto",)`` (what applies to the study's exam: the exam a person set,
else the one the model's exam head recognises), ``("all",)`` or task names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.model.exam import exam_labels, user_exam
from app.model.scores import calibration_text
from engine.model_card import ModelCard, encoder_only
from engine.progress import NEVER, CancelToken, ProgressFn, no_progress

if TYPE_CHECKING:
    from engine.io.cine import Cine

NOT_CLINICAL = "not for clinical use"
AUTO = "auto"


@dataclass(frozen=True)
class ModelChoice:
    """One model version the user can pick.

    Attributes:
        card: its model card.
        active: the version the store marks active for its name.
    """

    card: ModelCard
    active: bool

    @property
    def key(self) -> str:
        """``name@version``, what the store resolves."""
        return f"{self.card.name}@{self.card.version}"

    @property
    def title(self) -> str:
        """What the model list shows, e.g. "echocare-demo v2 (active)"."""
        return f"{self.card.name} v{self.card.version}" + (" (active)" if self.active else "")


def available_models() -> list[ModelChoice]:
    """Every stored model version: active versions first, then the others, newest first."""
    from engine import model_store

    cards = model_store.list_cards()
    user = {c.name for c in cards if (model_store.user_root() / c.name / c.version).is_dir()}

    def active(card: ModelCard) -> bool:
        if card.name in user:
            return model_store.active_version(card.name) == card.version
        return True  # a bundled model without user versions is what its name loads

    choices = [ModelChoice(c, active(c)) for c in cards]
    bundled_first = {c.name: i for i, c in enumerate(cards)}
    choices.sort(key=lambda m: (not m.active, bundled_first[m.card.name], -_number(m.card.version)))
    return choices


def _number(version: str) -> int:
    return int(version) if version.isdigit() else 0


def statement(card: ModelCard) -> str:
    """The training-data statement shown whenever ``card`` is the active model.

    A model not shown to be clinically valid always says so, in plain words; a calibrated
    model says so too (the ECE before and after, how many labels have score thresholds).
    """
    trained = card.model.trained_on.strip() or "unknown data"
    lower = trained.lower()
    as_is = ("trained", "fine-tuned", "imported", "random", "demo")
    text = trained if lower.startswith(as_is) else f"trained on {trained}"
    if not card.model.clinical_use and NOT_CLINICAL not in lower:
        text += f", {NOT_CLINICAL}"
    prefix = "Demo model — " if "demo" in card.name.lower() and "demo" not in lower else ""
    calibrated = calibration_text(card.model)
    if not card.model.heads:
        calibrated = encoder_only(card.name)
    return f"{card.name} v{card.version} · {prefix}{text}" + (f" · {calibrated}" if calibrated else "")


def not_clinical(card: ModelCard) -> bool:
    """True when the card does not claim clinical validity (shown as a warning)."""
    return not card.model.clinical_use or "simulat" in card.model.trained_on.lower()


@dataclass(frozen=True)
class RunRequest:
    """What to run.

    Attributes:
        model: ``name@version`` of the model.
        tasks: task names, ("all",) or ("auto",) (what applies to the study's exam).
        frames: frame indices to analyse.
        cine: the open study (the document's reader, shared with the viewer; its readers are
            thread-safe and it stays open after the run).
        exam: with ``auto``, the exam a person set (a leaf of the model's exam tree, or
            "unknown"); None lets the model recognise it.
    """

    model: str
    tasks: tuple[str, ...]
    frames: tuple[int, ...]
    cine: Cine
    exam: str | None = None


class ModelRunner:
    """Loads model versions on first use and runs tasks on a study.

    Args:
        device: ``auto|cpu|cuda|mps``.
        backend: ``torch|onnx|auto``; torch by default, which needs no export step (its
            precision is measured where there is a choice: bf16 on a CPU with AMX, on CUDA).
    """

    def __init__(self, device: str = "auto", backend: str = "torch") -> None:
        self.device = device
        self.backend = backend
        self._loaded: dict[str, tuple[Any, Any]] = {}

    def task_names(self) -> list[str]:
        """The engine's task names, in its canonical order (no task code is imported)."""
        from engine.config import TASK_NAMES

        return list(TASK_NAMES)

    def _predictor(self, key: str) -> tuple[Any, Any]:
        if key not in self._loaded:
            from engine.factory import load_model
            from engine.inference import Predictor

            loaded = load_model(key, device=self.device)
            self._loaded = {key: (loaded, Predictor(loaded, backend=self.backend, device=self.device))}
        return self._loaded[key]

    def run(
        self, request: RunRequest, progress: ProgressFn = no_progress, cancel: CancelToken = NEVER
    ) -> Any:
        """Run the request on its cine (left open); returns the engine's ``RunResult``.

        Raises:
            EchoCareError: the model, the file or a task failed (one-line message).
            Cancelled: ``cancel`` was set.
        """
        from engine.tasks.runner import run_tasks

        loaded, predictor = self._predictor(request.model)
        cancel.raise_if_cancelled()
        tasks: str | Sequence[str] = list(request.tasks)
        if request.tasks in (("all",), (AUTO,)):
            tasks = request.tasks[0]
        exam = user_exam(exam_labels(loaded.cfg), request.exam, loaded.ref) if tasks == AUTO else None
        return run_tasks(
            request.cine, predictor, loaded.cfg, loaded.ref, tasks, request.frames,
            progress=progress, cancel=cancel, exam=exam,
        )  # fmt: skip
