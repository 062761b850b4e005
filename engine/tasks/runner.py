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
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Protocol, runtime_checkable

import numpy as np

from engine.config import TASK_NAMES, ModelCfg
from engine.errors import TaskError
from engine.io.cine import Cine
from engine.progress import NEVER, CancelToken, Progress, ProgressFn, no_progress
from engine.provenance import ModelRef
from engine.tasks.base import TASKS, CineContext, FrameContext, Task, postprocess_frame
from engine.transforms.preprocess import Prepared, preprocess
from engine.transforms.sector import detect_sector
from engine.types import TaskResult

FAN_SAMPLE_FRAMES = 8
PIPELINE_DEPTH = 2


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
    """

    tasks: dict[str, TaskResult]
    frames: tuple[int, ...]
    crop: tuple[int, int, int, int]


def resolve_tasks(cfg: ModelCfg, names: str | Sequence[str], ref: ModelRef, source: str = "") -> list[Task]:
    """Build the tasks asked for: ``"all"`` (every task the model has a head for) or a list.

    Raises:
        TaskError: an unknown task name, or a model lacking the head a task needs.
    """
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if list(names) == ["all"]:
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
) -> RunResult:
    """Run ``tasks`` on ``frames`` of ``cine`` (all frames by default).

    Args:
        depth: batches the decode stage may run ahead of inference, and the post-processing
            stage behind it.

    Raises:
        TaskError: unknown task, a head the model lacks, or a frame the model cannot take.
        Cancelled: ``cancel`` was set; checked between batches.
    """
    source = str(cine.path)
    asked = resolve_tasks(cfg, tasks, ref, source)
    running = _with_dependencies(asked, cfg, ref)
    picked = tuple(frames) if frames is not None else tuple(range(cine.n_frames))
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
            outputs = predictor.run_heads(keys, images, heads)
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
    results: dict[str, TaskResult] = {}
    for t in running:
        name = t.info.name
        summary = t.summarize(per_frame[name], results, cine_ctx)
        results[name] = TaskResult(name, tuple(per_frame[name]), tuple(summary))
    wanted = {t.info.name for t in asked}
    return RunResult({n: r for n, r in results.items() if n in wanted}, picked, crop)
