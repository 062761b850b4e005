"""The overlapped cine pipeline: decoding, inference and post-processing run on their own threads."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from engine.errors import TaskError
from engine.inference import Predictor
from engine.io.memory import ArrayCine
from engine.progress import Cancelled, CancelToken
from engine.tasks.runner import run_tasks

WAIT_S = 20.0  # a generous bound for a deadlock; never reached when the stages overlap


def _frames(n: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 255, (n, 48, 64), dtype=np.uint8)


class RecordingCine(ArrayCine):
    """Records the thread of every decode and signals when frame ``signal_at`` is decoded."""

    def __init__(self, frames: np.ndarray, signal_at: int) -> None:
        super().__init__(frames, fps=25)
        self.signal_at = signal_at
        self.decoded = threading.Event()
        self.threads: set[str] = set()

    def _decode(self, index: int) -> np.ndarray:
        self.threads.add(threading.current_thread().name)
        if index == self.signal_at:
            self.decoded.set()
        return super()._decode(index)


class WaitingPredictor:
    """Wraps a Predictor; its first batch blocks until the cine has decoded a later batch."""

    def __init__(self, inner: Predictor, cine: RecordingCine) -> None:
        self.inner, self.cine = inner, cine
        self.overlapped: list[bool] = []
        self.threads: set[str] = set()

    def run_heads(self, keys, images, names):
        if not self.overlapped:
            self.overlapped.append(self.cine.decoded.wait(WAIT_S))
        self.threads.add(threading.current_thread().name)
        return self.inner.run_heads(keys, images, names)


def test_decoding_runs_ahead_of_inference_on_its_own_thread(tiny):
    cine = RecordingCine(_frames(9), signal_at=4)  # frame 4 is in the second batch of 3... and the third
    pred = WaitingPredictor(Predictor(tiny, backend="torch", device="cpu"), cine)
    run = run_tasks(cine, pred, tiny.cfg, tiny.ref, "all", batch_size=3, depth=2)
    assert pred.overlapped == [True]  # batch 2 was decoded while batch 1 was still being inferred
    assert run.frames == tuple(range(9))
    decode_threads = {t for t in cine.threads if t.startswith("decode")}
    assert decode_threads and not decode_threads & pred.threads


def test_results_do_not_depend_on_pipeline_depth(tiny):
    cine = ArrayCine(_frames(7), fps=25)
    pred = Predictor(tiny, backend="torch", device="cpu", cache_bytes=0)
    a = run_tasks(cine, pred, tiny.cfg, tiny.ref, "all", batch_size=2, depth=1)
    b = run_tasks(cine, pred, tiny.cfg, tiny.ref, "all", batch_size=2, depth=4)
    assert list(a.tasks) == list(b.tasks)
    for name in a.tasks:
        fa, fb = a.tasks[name].frames, b.tasks[name].frames
        assert len(fa) == len(fb) == 7
    seg_a, seg_b = a.tasks["segmentation"].frames, b.tasks["segmentation"].frames
    assert [x.frame for x in seg_a] == [y.frame for y in seg_b] == list(range(7))
    assert all(np.array_equal(x.mask, y.mask) for x, y in zip(seg_a, seg_b, strict=True))
    np.testing.assert_allclose(
        a.tasks["classification"].summary[0].probs, b.tasks["classification"].summary[0].probs, rtol=1e-5
    )


def test_a_bad_frame_and_a_cancel_stop_the_pipeline(tiny):
    frames = list(_frames(6))
    frames[4] = np.zeros((48, 64, 2), np.uint8)

    class Broken(ArrayCine):
        def _decode(self, index: int) -> np.ndarray:
            return frames[index]

    pred = Predictor(tiny, backend="torch", device="cpu")
    with pytest.raises(TaskError, match="frame 4"):
        run_tasks(Broken(_frames(6)), pred, tiny.cfg, tiny.ref, "all", batch_size=2)
    token = CancelToken()
    seen = []

    def progress(p):
        seen.append(p.done)
        token.cancel()

    with pytest.raises(Cancelled):
        run_tasks(
            ArrayCine(_frames(8)),
            pred,
            tiny.cfg,
            tiny.ref,
            "all",
            batch_size=2,
            progress=progress,
            cancel=token,
        )
    assert seen == [2]
