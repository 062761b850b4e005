"""Run a list of tasks over a cine's frame range: preprocess -> heads -> postprocess -> summaries.

Three stages overlap, each on its own thread, joined by bounded queues of batches:

1. decode + preprocess (a worker thread, up to ``depth`` batches ahead);
2. inference through every head (the calling thread; the backends release the GIL);
3. task post-processing (a worker thread, up to ``depth`` batches behind).

So a cine runs at the speed of its slowest stage, usually inference. The encoder runs once
per frame for all heads (the predictor caches features by key); each task post-processes its
head's outputs. Batches stay in frame order through every stage. A predictor whose ``auto``
backend is still undecided (``MeasuresChoice``) measures its candidates on the first batch,
judged by the tasks' results on those frames.

``tasks="auto"`` first runs the exam head on up to ``EXAM_SAMPLE_FRAMES`` frames spread over
the range (their features stay cached for the main pass), or takes the exam a person set, then
runs only what applies to that exam (``engine.exams``), each task's results restricted to the
labels and measurements that apply. The model's exam is checked against the body regions the
file's header declares (``engine.exams.against_header``): where they disagree the exam is
``unknown``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol, runtime_checkable

import numpy as np

from engine.config import TASK_NAMES, ModelCfg
from engine.errors import TaskError
from engine.exams import AUTO, EXAM_TASK, Routing, against_header, route, wants_auto
from engine.heads.kinds.exam import ExamResult
from engine.heads.spec import head_spec, restrict_result
from engine.io.cine import Cine
from engine.model_card import encoder_only
from engine.progress import NEVER, CancelToken, Progress, ProgressFn, no_progress
from engine.provenance import ModelRef
from engine.tasks.base import TASKS, CineContext, FrameContext, Task, postprocess_frame
from engine.transforms.preprocess import Prepared, preprocess
from engine.transforms.sector import detect_sector
from engine.types import Quantity, TaskResult

FAN_SAMPLE_FRAMES = 8
PIPELINE_DEPTH = 2
EXAM_SAMPLE_FRAMES = 16


class HeadRunner(Protocol):
    """What the runner needs from a predictor (``engine.inference.Predictor`` provides it)."""

    def run_heads(
        self, keys: Sequence[Hashable], images: np.ndarray, names: Sequence[str]
    ) -> dict[str, dict[str, np.ndarray]]:
        """Outputs ``{head: {name: [B, ...]}}`` of ``images`` ``[B, C, H, W]`` float32."""
        ...


@runtime_checkable
class MeasuresChoice(Protocol):
    """A predictor that settles an ``auto`` backend by measurement (``engine.inference.Predictor``)."""

    undecided: bool

    def measure_choice(
        self,
        keys: Sequence[Hashable],
        images: np.ndarray,
        names: Sequence[str],
        results: Callable[[dict[str, dict[str, np.ndarray]]], object],
    ) -> object:
        """Time the candidate paths on these frames; ``results`` gives the task results to compare."""
        ...


@dataclass(frozen=True)
class RunResult:
    """The results of one run.

    Attributes:
        tasks: results of the tasks asked for, keyed by task name, in ``TASK_NAMES`` order.
        frames: the frame indices analysed.
        crop: (x0, y0, x1, y1) of the original frames the model saw (the fan when cropped).
        exam: the study's exam (None when the model has no exam head or it did not run).
        skipped: with ``auto``, each task that did not run and why.
        note: one line on the run as a whole ("" when there is nothing to say).
    """

    tasks: dict[str, TaskResult]
    frames: tuple[int, ...]
    crop: tuple[int, int, int, int]
    exam: ExamResult | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    note: str = ""


def resolve_tasks(cfg: ModelCfg, names: str | Sequence[str], ref: ModelRef, source: str = "") -> list[Task]:
    """Build the tasks asked for: ``"all"`` (every task the model has a head for) or a list
    (``auto`` is settled by ``run_tasks`` before this).

    Raises:
        TaskError: an unknown task name, or a model lacking the head a task needs.
    """
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not cfg.heads:
        raise TaskError(source or None, encoder_only(cfg.name))
    if list(names) in (["all"], [AUTO]):  # auto runs a subset of all, settled by the exam
        names = [n for n in TASK_NAMES if n in cfg.heads_by_name and n in TASKS]
    unknown = [n for n in names if n not in TASKS]
    if unknown or not names:
        raise TaskError(
            source or None, f"unknown task {', '.join(unknown) or '(none)'} (known: {', '.join(TASKS)})"
        )
    return [TASKS.get(n)(cfg, ref) for n in dict.fromkeys(names)]


def _with_dependencies(tasks: list[Task], cfg: ModelCfg, ref: ModelRef) -> list[Task]:
    """Add the tasks that asked tasks use (when the model has their heads), in TASK_NAMES order."""
    have = {t.info.name: t for t in tasks}
    for t in list(tasks):
        for dep in t.info.uses:
            if dep not in have and dep in cfg.heads_by_name and dep in TASKS:
                have[dep] = TASKS.get(dep)(cfg, ref)
    order = {n: i for i, n in enumerate(TASK_NAMES)}
    return sorted(have.values(), key=lambda t: order.get(t.info.name, len(order)))


def _check_frame(frame: np.ndarray, index: int, source: str) -> None:
    ok_shape = frame.ndim == 2 or (frame.ndim == 3 and frame.shape[-1] == 3)
    if not ok_shape or frame.dtype.kind not in "uif" or frame.size == 0:
        raise TaskError(
            source,
            f"frame {index} is {frame.dtype} {list(frame.shape)}, not a grey [H, W] or RGB [H, W, 3] image",
        )


def _crop(cine: Cine, cfg: ModelCfg, frames: Sequence[int]) -> tuple[int, int, int, int]:
    if not cfg.crop_to_fan:
        return (0, 0, cine.info.columns, cine.info.rows)
    step = max(1, len(frames) // FAN_SAMPLE_FRAMES)
    sample = [cine.frame(i) for i in frames[::step][:FAN_SAMPLE_FRAMES]]
    return detect_sector(np.stack(sample)).box


def _batches(frames: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(frames), size):
        yield frames[start : start + size]


def _frame_results(
    cine: Cine,
    tasks: Sequence[Task],
    heads: Sequence[str],
    ready: list[tuple[int, np.ndarray, Prepared]],
    outputs: dict[str, dict[str, np.ndarray]],
) -> list[dict[str, object]]:
    """Per frame of a batch, every task's result from the heads' ``outputs`` ``[B, ...]``."""
    out = []
    for b, (i, frame, prep) in enumerate(ready):
        ctx = FrameContext(i, frame, prep.geometry, cine.calibration_for(i))
        one = {h: {name: value[b] for name, value in outputs[h].items()} for h in heads}
        out.append(postprocess_frame(tasks, one, ctx))
    return out


Outputs = dict[str, dict[str, np.ndarray]]


def _conditions(
    cfg: ModelCfg, running: Sequence[Task], routing: Routing | None
) -> Callable[[Outputs], Outputs]:
    """The heads' batch outputs with the labels the study's exam rules out taken out of the
    competition (``HeadSpec.condition``): a cardiac exam's pixels choose among its own labels."""
    if routing is None:
        return lambda outputs: outputs
    fixes = {}
    for t in running:
        head, keep = cfg.heads_by_name.get(t.info.head), routing.keep.get(t.info.name)
        condition = head_spec(head.kind).condition if head is not None else None
        if condition is not None and keep is not None:
            fixes[t.info.head] = partial(condition, allowed=[keep(n) for n in head.labels])
    return lambda outputs: {h: fixes[h](o) if h in fixes else o for h, o in outputs.items()}


def _settle(
    predictor: HeadRunner,
    keys: Sequence[Hashable],
    images: np.ndarray,
    heads: Sequence[str],
    results: Callable[[dict[str, dict[str, np.ndarray]]], object],
    progress: ProgressFn,
    total: int,
) -> None:
    """Let a predictor whose ``auto`` backend is undecided measure its candidates on this batch."""
    if isinstance(predictor, MeasuresChoice) and predictor.undecided:
        progress(Progress(0, total, "measuring the fastest backend"))
        predictor.measure_choice(keys, images, heads, results)


def run_tasks(
    cine: Cine,
    predictor: HeadRunner,
    cfg: ModelCfg,
    ref: ModelRef,
    tasks: str | Sequence[str] = "all",
    frames: Sequence[int] | None = None,
    batch_size: int = 4,
    progress: ProgressFn = no_progress,
    cancel: CancelToken = NEVER,
    depth: int = PIPELINE_DEPTH,
    exam: ExamResult | None = None,
) -> RunResult:
    """Run ``tasks`` on ``frames`` of ``cine`` (all frames by default).

    Args:
        tasks: ``"auto"`` (what applies to the study's exam), ``"all"`` or a list of task names.
        depth: batches the decode stage may run ahead of inference, and the post-processing
            stage behind it.
        exam: the exam a person set for this study; with ``auto`` it replaces the model's.

    Raises:
        TaskError: unknown task, a head the model lacks, or a frame the model cannot take.
        Cancelled: ``cancel`` was set; checked between batches.
    """
    source = str(cine.path)
    picked = tuple(frames) if frames is not None else tuple(range(cine.n_frames))
    if not picked:
        raise TaskError(source, "no frames to analyse")
    if wants_auto(tasks):
        routing = _route(cine, predictor, cfg, ref, picked, batch_size, progress, cancel, exam)
        if routing.exam is None:
            tasks = "all"
        else:
            run = _run(
                cine, predictor, cfg, ref, routing.tasks, picked, batch_size, progress, cancel, depth, routing
            )  # fmt: skip
            return RunResult(
                {EXAM_TASK: _exam_result(routing.exam), **run.tasks}, picked, run.crop,
                routing.exam, routing.skipped, routing.note,
            )  # fmt: skip
        result = _run(cine, predictor, cfg, ref, tasks, picked, batch_size, progress, cancel, depth, None)
        note = f"model {cfg.name!r} has no exam head: every task ran"
        return RunResult(result.tasks, picked, result.crop, None, {}, note)
    result = _run(cine, predictor, cfg, ref, tasks, picked, batch_size, progress, cancel, depth, None)
    found = result.tasks.get(EXAM_TASK)
    return RunResult(result.tasks, picked, result.crop, found.summary[0] if found and found.summary else None)


def _exam_result(exam: ExamResult) -> TaskResult:
    return TaskResult(EXAM_TASK, (), (exam,))


def _route(
    cine: Cine,
    predictor: HeadRunner,
    cfg: ModelCfg,
    ref: ModelRef,
    picked: tuple[int, ...],
    batch_size: int,
    progress: ProgressFn,
    cancel: CancelToken,
    exam: ExamResult | None,
) -> Routing:
    """The routing of an ``auto`` run: the user's exam, else the exam head's on sampled frames."""
    available = [n for n in TASK_NAMES if n in cfg.heads_by_name and n in TASKS]
    if EXAM_TASK not in available:
        return Routing(tuple(available))
    if exam is None:
        step = max(1, -(-len(picked) // EXAM_SAMPLE_FRAMES))
        sample = picked[::step]
        progress(Progress(0, len(picked), "recognising the exam"))
        found = _run(cine, predictor, cfg, ref, [EXAM_TASK], sample, batch_size, no_progress, cancel, 1, None)
        exam = found.tasks[EXAM_TASK].summary[0]  # type: ignore[assignment]
    return route(cfg, available, against_header(exam, cine.info.declared_exam))  # type: ignore[arg-type]


def _restricted(result: TaskResult, keep: Callable[[str], bool]) -> TaskResult:
    """A task's results keeping only the labels and quantities ``keep`` allows."""

    def one(x: object) -> object | None:
        if isinstance(x, Quantity):
            return x if keep(x.name) else None
        return restrict_result(x, keep)

    frames = tuple(y for y in map(one, result.frames) if y is not None)
    summary = tuple(y for y in map(one, result.summary) if y is not None)
    return TaskResult(result.task, frames, summary)


def _summaries(
    running: Sequence[Task], per_frame: dict[str, list[object]], cine: CineContext, routing: Routing | None
) -> dict[str, TaskResult]:
    """Each task's summary in order; with ``routing``, each restricted before later tasks read it."""
    results: dict[str, TaskResult] = {}
    if routing is not None and routing.exam is not None:
        results[EXAM_TASK] = _exam_result(routing.exam)
    for t in running:
        name = t.info.name
        summary = t.summarize(per_frame[name], results, cine)
        results[name] = TaskResult(name, tuple(per_frame[name]), tuple(summary))
        if routing is not None and name in routing.keep:
            results[name] = _restricted(results[name], routing.keep[name])
    return results


def _run(
    cine: Cine,
    predictor: HeadRunner,
    cfg: ModelCfg,
    ref: ModelRef,
    tasks: str | Sequence[str],
    picked: tuple[int, ...],
    batch_size: int,
    progress: ProgressFn,
    cancel: CancelToken,
    depth: int,
    routing: Routing | None,
) -> RunResult:
    """One pass of the pipeline over ``picked``; with ``routing`` the results are restricted."""
    source = str(cine.path)
    if routing is not None and not tasks:
        return RunResult({}, picked, _crop(cine, cfg, picked))
    asked = resolve_tasks(cfg, tasks, ref, source)
    running = _with_dependencies(asked, cfg, ref)
    if routing is not None:  # a task skipped for this exam feeds no other task (e.g. the report)
        running = [t for t in running if t.info.name in routing.tasks]
    crop = _crop(cine, cfg, picked)
    heads = tuple(dict.fromkeys(t.info.head for t in running))
    per_frame: dict[str, list[object]] = {t.info.name: [] for t in running}

    def prepare(batch: Sequence[int]) -> list[tuple[int, np.ndarray, Prepared]]:
        out = []
        for i in batch:
            frame = cine.frame(i)
            _check_frame(frame, i, source)
            out.append((i, frame, preprocess(frame, cfg, crop)))
        return out

    results = partial(_frame_results, cine, running, heads)
    conditioned = _conditions(cfg, running, routing)

    def finish(
        ready: list[tuple[int, np.ndarray, Prepared]], outputs: dict[str, dict[str, np.ndarray]]
    ) -> None:
        for frame_results in results(ready, outputs):
            for name, result in frame_results.items():
                per_frame[name].append(result)

    batches = list(_batches(picked, batch_size))
    depth = max(1, int(depth))
    decode = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode")
    post = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postprocess")
    ahead: deque[Future] = deque(decode.submit(prepare, b) for b in batches[:depth])
    behind: deque[Future] = deque()
    queued = len(ahead)
    done = 0
    try:
        while ahead:
            cancel.raise_if_cancelled()
            ready = ahead.popleft().result()
            if queued < len(batches):  # keep the decoder `depth` batches ahead
                ahead.append(decode.submit(prepare, batches[queued]))
                queued += 1
            keys = [(source, i, crop) for i, _, _ in ready]
            images = np.stack([p.image for _, _, p in ready])
            _settle(predictor, keys, images, heads, partial(results, ready), progress, len(picked))
            outputs = conditioned(predictor.run_heads(keys, images, heads))
            behind.append(post.submit(finish, ready, outputs))
            while len(behind) > depth:
                behind.popleft().result()
            done += len(ready)
            progress(Progress(done, len(picked), f"frame {ready[-1][0]}"))
        while behind:
            behind.popleft().result()
    finally:
        decode.shutdown(wait=True, cancel_futures=True)
        post.shutdown(wait=True, cancel_futures=True)
    cine_ctx = CineContext(cine.timestamps_ms, cine.calibration_for(picked[0]), picked)
    results = _summaries(running, per_frame, cine_ctx, routing)
    wanted = {t.info.name for t in asked}
    return RunResult({n: r for n, r in results.items() if n in wanted}, picked, crop)
