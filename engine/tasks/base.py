"""The Task protocol, its description (TaskInfo), per-frame context and the TASKS table.

A task turns one head's raw outputs into typed results: ``postprocess`` maps the outputs of
one frame (no batch axis) to a frame result in original-frame pixels, and ``summarize``
combines the frame results of a cine (and, where it says so, other tasks' results) into
cine-level results. Tasks never see tensors: outputs are numpy arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Protocol

import numpy as np

from engine.config import HeadCfg, ModelCfg
from engine.errors import TaskError
from engine.heads.spec import head_spec, task_names
from engine.io.calibration import Calibration
from engine.provenance import ModelRef
from engine.transforms.geometry import Geometry
from engine.types import TaskResult


@dataclass(frozen=True)
class TaskInfo:
    """What a task is.

    Attributes:
        name: the task name, a head kind (``engine.heads.kinds``).
        title: a human title for menus.
        head: the model head it runs.
        uses: other tasks whose results ``summarize`` (or ``postprocess``, through
            ``FrameContext.results``) reads when they ran (e.g. regression reads segmentation for
            the ejection fraction; landmarks may snap to a segmented ellipse; report reads everything).
        labels: the head's labels from the model card.
        model: the model version.
    """

    name: str
    title: str
    head: str
    uses: tuple[str, ...]
    labels: tuple[str, ...]
    model: ModelRef


@dataclass(frozen=True)
class FrameContext:
    """One frame as the post-processing sees it.

    Attributes:
        index: frame index in the cine.
        frame: the original pixels ``[H, W]`` or ``[H, W, 3]``.
        geometry: the mapping between the original frame and the model input.
        calibration: the frame's calibration (per region mm per pixel).
        results: this frame's results of the tasks post-processed before this one (in
            head-kind order; see :func:`postprocess_frame`).
    """

    index: int
    frame: np.ndarray
    geometry: Geometry
    calibration: Calibration
    results: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class CineContext:
    """What a summary may need about the cine: frame times and calibration."""

    timestamps_ms: tuple[float, ...]
    calibration: Calibration
    frames: tuple[int, ...]


class Task(Protocol):
    """The typed interface between the engine's heads and the app."""

    info: TaskInfo

    def postprocess(self, outputs: Mapping[str, np.ndarray], ctx: FrameContext) -> object:
        """Turn one frame's head outputs (no batch axis) into a frame result."""
        ...

    def summarize(
        self, frames: Sequence[object], others: Mapping[str, TaskResult], cine: CineContext
    ) -> tuple[object, ...]:
        """Cine-level results from the frame results (and other tasks' results)."""
        ...


TaskFactory = Callable[[ModelCfg, ModelRef], Task]


class TaskTable:
    """The task class of every head kind, by name, read from the kinds (``engine.heads.kinds``)."""

    def get(self, name: str) -> TaskFactory:
        """The task class called ``name``, built as ``cls(cfg, ref)``.

        Raises:
            KeyError: no head kind of that name (the message lists the known ones).
        """
        if name not in self:
            raise KeyError(f"unknown task {name!r} (known: {', '.join(self)})")
        return head_spec(name).task

    def names(self) -> list[str]:
        return sorted(task_names())

    def __contains__(self, name: object) -> bool:
        return name in task_names()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


TASKS = TaskTable()


def head_cfg(cfg: ModelCfg, task: str, source: str | None = None) -> HeadCfg:
    """The model's head for ``task``; a model lacking it raises a one-line TaskError."""
    head = cfg.heads_by_name.get(task)
    if head is None:
        have = ", ".join(cfg.heads_by_name) or "none"
        raise TaskError(source or cfg.name, f"model {cfg.name!r} has no {task} head (has: {have})")
    return head


def make_info(cfg: ModelCfg, ref: ModelRef, name: str, title: str, uses: tuple[str, ...] = ()) -> TaskInfo:
    """TaskInfo for ``name`` from the model card (checks the model has the head)."""
    head = head_cfg(cfg, name)
    return TaskInfo(name, title, head.name, uses, head.labels, ref)


def postprocess_frame(
    tasks: Sequence[Task], outputs: Mapping[str, Mapping[str, np.ndarray]], ctx: FrameContext
) -> dict[str, object]:
    """Every task's result for one frame, run in head-kind order.

    Args:
        outputs: per head name, that head's outputs for this frame (no batch axis).
        ctx: the frame; each task sees the results of the tasks before it in ``ctx.results``.
    """
    order = {n: i for i, n in enumerate(task_names())}
    done: dict[str, object] = {}
    for t in sorted(tasks, key=lambda t: order.get(t.info.name, len(order))):
        seen = replace(ctx, results=MappingProxyType(dict(done)))
        done[t.info.name] = t.postprocess(outputs[t.info.head], seen)
    return done


def softmax(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Numerically stable softmax along ``axis`` (float32)."""
    z = x.astype(np.float32) - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function (float32)."""
    return (1.0 / (1.0 + np.exp(-x.astype(np.float32)))).astype(np.float32)
