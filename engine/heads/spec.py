"""One declaration per head kind: everything the engine, the app and training need to know of it.

A :class:`HeadSpec` names the head's network and loss (imported only when built, so reading
specs never imports torch), its task (the post-processing into typed results), the JSON
encoder and the AI-draft converter of each result type it produces, how a label list sizes
the network, how an original-frame target becomes a model-input target, how targets follow a
change of label order, its primary metric and a few flags. Every table that used to repeat a
head's name is derived from these specs: the model's head classes, the losses, the tasks,
``TASK_NAMES``, the results JSON, the app's AI drafts, fine-tuning targets and the gate's
primary metrics.

Each kind is one module in ``engine.heads.kinds`` that calls :func:`register_spec`; modules are
found there by name, so a new kind is one new file (plus its network and its metric).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

from engine.heads.base import HEADS, FeatureSpec
from engine.registry import Registry
from engine.transforms.geometry import Geometry

Files = Mapping[str, Mapping[int, str]]  # {"masks"|"enhanced"|"overlays": {frame: relative path}}
JsonEncoder = Callable[[Any, Files], dict[str, Any]]
Remap = Callable[[Any, Sequence[str], Sequence[str]], Any]


class TargetInput(Protocol):
    """What target preparation needs of the model input (``training.finetune.samples.InputSpec``)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    vocab: tuple[str, ...]
    report_len: int


TargetFn = Callable[[Any, Geometry, TargetInput], Any]


@dataclass(frozen=True)
class MetricContext:
    """What a head's metric may be built from.

    Attributes:
        spec: the encoder's feature pyramid.
        params: the head's constructor parameters.
        labels: the head's labels (a report head's vocabulary).
        mean, std: the model's input normalisation.
    """

    spec: FeatureSpec
    params: Mapping[str, Any]
    labels: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]


def _no_args(*_: object) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class HeadSpec:
    """A head kind.

    Attributes:
        kind: the head's name; also its task's name and its key in a model's heads.
        rank: post-processing order (a task sees the results of lower ranks).
        network: the class name of the network, built as ``cls(spec, **params)``.
        loss: the class name of its training loss, called as ``loss(outputs, target)``.
        task: the post-processing class, built as ``task(cfg, ref)`` (``engine.tasks.base.Task``).
        json: per result type the task produces, its results.json encoder.
        drafts: per result type, how it becomes AI-draft annotations and mask planes
            (``engine.drafts``): called as ``fn(result, label_id, drafts)``.
        size: the network's size arguments from its labels, e.g. ``{"num_classes": 3}``.
        target: an original-frame target -> the model-input target the loss takes.
        metric: the primary metric's name in ``training.metrics`` and whether higher is better.
        remap: re-indexes a target from one label order into another; None when the labels
            cannot be re-indexed (the head is rebuilt for new labels).
        loss_args: the loss's keyword arguments from the pyramid and the head's params.
        metric_args: the metric's keyword arguments.
        stacked: batches stack the targets; False keeps a list (e.g. boxes per image).
        teacher_forced: training runs the head with the target as its ``tokens`` input.
        open_vocabulary: the labels are a vocabulary: a model keeps its own whatever words the
            data has (unknown words encode as ``<unk>``).
        per_frame_json: results.json lists per-frame results; False writes the summary alone.
        module: the module holding the network and the loss; ``engine.heads.<kind>`` by default.
        restrict: per result type, the result keeping only the labels and quantities a study's
            exam allows: called as ``fn(result, keep)`` with ``keep(name) -> bool``
            (``engine.exams``); a type without one is kept whole.
        interactive: the head answers prompts given with each call (``Predictor.run_prompted``
            passes them as extra inputs of its network); it is not a task of ``--tasks all``
            or ``auto`` (``task_names`` leaves it out) and the runner never runs it.
        train_inputs: the extra inputs a training step gives the head, made from its batched
            model-input target (a prompted head's prompts); None: the head takes none.
        condition: a head whose labels compete for each output (segmentation's softmax over
            labels): its batch outputs with the labels a study's exam rules out taken out of the
            competition, so that each output picks among the allowed ones. Called as
            ``fn(outputs, allowed)`` with one bool per label; None: ``restrict`` alone applies.
    """

    kind: str
    rank: int
    network: str
    loss: str
    task: Callable[..., Any]
    json: Mapping[type, JsonEncoder]
    drafts: Mapping[type, Callable[..., None]]
    size: Callable[[Sequence[str]], dict[str, Any]]
    target: TargetFn
    metric: tuple[str, bool]
    remap: Remap | None = None
    loss_args: Callable[[FeatureSpec, Mapping[str, Any]], dict[str, Any]] = _no_args
    metric_args: Callable[[MetricContext], dict[str, Any]] = _no_args
    stacked: bool = True
    teacher_forced: bool = False
    open_vocabulary: bool = False
    per_frame_json: bool = True
    module: str = ""
    restrict: Mapping[type, Callable[[Any, Callable[[str], bool]], Any]] = field(default_factory=dict)
    interactive: bool = False
    train_inputs: Callable[[Any], Mapping[str, Any]] | None = None
    condition: Callable[[Mapping[str, Any], Sequence[bool]], dict[str, Any]] | None = None

    def network_class(self) -> Any:
        """The network class (imports torch)."""
        return getattr(_module(self.module or f"engine.heads.{self.kind}"), self.network)

    def build_loss(self, spec: FeatureSpec, params: Mapping[str, Any]) -> Any:
        """The training loss of a head built with ``params`` (imports torch)."""
        loss = getattr(_module(self.module or f"engine.heads.{self.kind}"), self.loss)
        return loss(**self.loss_args(spec, params))


SPECS: Registry[HeadSpec] = Registry("head kind")


def register_spec(spec: HeadSpec) -> HeadSpec:
    """Add a head kind (called once by its module in ``engine.heads.kinds``)."""
    SPECS.register(spec.kind)(spec)
    return spec


@cache
def _module(name: str) -> Any:
    return importlib.import_module(name)


@cache
def _import_kinds() -> None:
    from engine.heads import kinds

    for info in pkgutil.iter_modules(kinds.__path__):
        importlib.import_module(f"{kinds.__name__}.{info.name}")


def load_kinds() -> tuple[HeadSpec, ...]:
    """Every head kind, in rank order (imports each module of ``engine.heads.kinds`` once)."""
    _import_kinds()
    return tuple(sorted((SPECS.get(n) for n in SPECS.names()), key=lambda s: s.rank))


def head_spec(kind: str) -> HeadSpec:
    """The spec of ``kind``.

    Raises:
        KeyError: no such head kind (the message lists the known ones).
    """
    load_kinds()
    return SPECS.get(kind)


def task_names() -> tuple[str, ...]:
    """Every head kind's task name, in post-processing order (interactive kinds are no tasks)."""
    return tuple(s.kind for s in load_kinds() if not s.interactive)


def network_class(kind: str) -> Any:
    """The network class of ``kind``: a spec's, or one registered with ``register_head``."""
    if kind in HEADS:
        return HEADS.get(kind)
    return head_spec(kind).network_class()


def restrict_result(result: Any, keep: Callable[[str], bool]) -> Any:
    """``result`` with only what ``keep`` allows (its kind's ``restrict``; other types whole)."""
    for spec in load_kinds():
        fn = spec.restrict.get(type(result))
        if fn is not None:
            return fn(result, keep)
    return result


def result_encoders() -> dict[type, JsonEncoder]:
    """Result type -> results.json encoder, over every head kind."""
    out: dict[type, JsonEncoder] = {}
    for spec in load_kinds():
        out.update(spec.json)
    return out
