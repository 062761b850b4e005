"""The inference core: one encoder pass per frame feeds every head.

:class:`Predictor` runs a loaded model through a backend (PyTorch or ONNX Runtime). Encoder
features are kept in a bounded LRU :class:`FeatureCache` keyed by (frame key, model sha256,
model version), so a second head, a re-run or a new prompt on a frame never re-encodes it.
Uncached frames are encoded in batches; ``run_many`` streams a cine with progress, cancel
and a prefetch thread that decodes the next frames while the current batch runs.

Inputs are preprocessed model inputs: float32 [B, 3, H, W] at the card's input size, already
normalised (see ``engine.transforms``).
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from engine.backends.base import Backend, BackendChoice, choose_backend
from engine.errors import TaskError
from engine.export.graphs import FEATURES, IMAGE
from engine.factory import LoadedModel
from engine.progress import NEVER, CancelToken, Progress, ProgressFn, no_progress

Features = tuple[np.ndarray, ...]  # five arrays [C_i, H_i, W_i] of one frame
HeadOutputs = dict[str, dict[str, np.ndarray]]  # {head: {output: [B, ...]}}

DEFAULT_CACHE_BYTES = 512 << 20


class FeatureCache:
    """A bounded LRU cache of per-frame encoder features.

    Args:
        max_bytes: the most feature bytes held; the least recently used frames go first.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[Hashable, Features] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Features | None:
        with self._lock:
            feats = self._items.get(key)
            if feats is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return feats

    def put(self, key: Hashable, feats: Features) -> None:
        size = sum(f.nbytes for f in feats)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= sum(f.nbytes for f in old)
            self._items[key] = feats
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, dropped = self._items.popitem(last=False)
                self.bytes -= sum(f.nbytes for f in dropped)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0


def _frozen(array: np.ndarray) -> np.ndarray:
    """A read-only contiguous copy, safe to share from the cache."""
    out = np.array(array, dtype=np.float32, order="C")
    out.setflags(write=False)
    return out


def _onnx_dir(loaded: LoadedModel) -> Path:
    from engine.model_store import user_root

    return user_root().parent / "cache" / "onnx" / (loaded.ref.sha256[:16] or loaded.ref.version)


class Predictor:
    """Encoder + heads of one model version behind a backend, with a feature cache.

    Args:
        loaded: from ``engine.factory.load_model``.
        backend: ``auto|torch|onnx`` (see ``engine.backends.base.choose_backend``).
        device: ``auto|cpu|cuda|mps``.
        precision: ``auto|fp32|bf16|fp16|int8``: torch autocast (bf16, fp16), or the ONNX
            encoder in dynamic int8 on the CPU / every ONNX graph in fp16 on CUDA.
        cache_bytes: bound of the feature cache.
        batch_size: frames per encoder pass.
        onnx_dir: where the ONNX export is kept; a per-user cache folder by default.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        backend: str = "auto",
        device: str = "auto",
        precision: str = "auto",
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        batch_size: int = 4,
        onnx_dir: str | Path | None = None,
    ) -> None:
        self.loaded = loaded
        self.choice: BackendChoice = choose_backend(backend, device, precision)
        self.cache = FeatureCache(cache_bytes)
        self.batch_size = max(1, int(batch_size))
        self._model_key = (loaded.ref.sha256, loaded.ref.version)
        self._onnx_dir = Path(onnx_dir) if onnx_dir else _onnx_dir(loaded)
        self.fallbacks: dict[str, str] = {}
        self.encoder = self._backend("encoder")
        self._heads: dict[str, Backend] = {}

    @property
    def head_names(self) -> tuple[str, ...]:
        return self.loaded.module.head_names

    def _backend(self, graph: str) -> Backend:
        """The backend of one graph ("encoder" or "head_<name>").

        With ONNX Runtime the graph is exported on first use (checked against torch and kept
        in ``onnx_dir``); a graph that cannot be exported or fails the check runs on torch
        instead, and the reason is kept in ``fallbacks``.
        """
        if self.choice.kind == "onnx":
            try:
                return self._onnx_backend(graph)
            except Exception as err:  # the exporter and onnxruntime raise many error types
                self.fallbacks[graph] = (str(err).strip().splitlines() or [type(err).__name__])[0]
        return self._torch_backend(graph)

    def _onnx_backend(self, graph: str) -> Backend:
        from engine.backends.onnx_backend import OnnxBackend

        path = self._onnx_dir / f"{graph}.onnx"
        if not path.is_file():
            from engine.export.onnx import export_part

            try:
                export_part(self.loaded.module, graph, self._onnx_dir)
            finally:
                self.loaded.module.to(self.loaded.device)
        if self.choice.precision != "fp32" and (graph == "encoder" or self.choice.precision == "fp16"):
            from engine.export.quantize import precision_path

            path = precision_path(path, self.choice.precision)
        return OnnxBackend(path, device=self.choice.device, cache_optimized=True)

    def _torch_backend(self, graph: str) -> Backend:
        from engine.backends.torch_backend import TorchBackend
        from engine.export.graphs import EncoderGraph, HeadGraph

        module = self.loaded.module
        flat = EncoderGraph(module) if graph == "encoder" else HeadGraph(module, graph.removeprefix("head_"))
        device = self.choice.device if self.choice.kind == "torch" else str(self.loaded.device)
        return TorchBackend(flat, device=device, precision=self.choice.precision)

    def _head(self, name: str) -> Backend:
        if name not in self.head_names:
            raise TaskError(self.loaded.folder, f"model {self.loaded.card.name} has no {name} head")
        if name not in self._heads:
            self._heads[name] = self._backend(f"head_{name}")
        return self._heads[name]

    def _check(self, keys: Sequence[Hashable], images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, dtype=np.float32)
        h, w = self.loaded.card.input_size
        expected = (len(keys), self.loaded.card.in_chans, h, w)
        if images.shape != expected:
            raise TaskError(None, f"model input must be {list(expected)}, got {list(images.shape)}")
        return images

    def features(self, keys: Sequence[Hashable], images: np.ndarray) -> list[Features]:
        """Encoder features of each frame, encoding only frames not in the cache.

        Args:
            keys: one hashable per frame (e.g. (study uid, frame index)); equal keys mean
                equal images.
            images: model inputs [B, 3, H, W] float32, B == len(keys).

        Returns:
            per frame, five arrays [C_i, H / s_i, W / s_i].
        """
        images = self._check(keys, images)
        found = [self.cache.get((k, *self._model_key)) for k in keys]
        todo = [i for i, f in enumerate(found) if f is None]
        for start in range(0, len(todo), self.batch_size):
            idx = todo[start : start + self.batch_size]
            out = self.encoder.run({IMAGE: images[idx]})
            for row, i in enumerate(idx):
                feats = tuple(_frozen(out[n][row]) for n in FEATURES)
                self.cache.put((keys[i], *self._model_key), feats)
                found[i] = feats
        return found  # type: ignore[return-value]

    def run_heads(
        self, keys: Sequence[Hashable], images: np.ndarray, names: Iterable[str] | None = None
    ) -> HeadOutputs:
        """Run heads on frames, reusing cached features.

        Returns:
            ``{head: {output: array [B, ...]}}`` in frame order.

        Raises:
            TaskError: an unknown head or a wrongly shaped input.
        """
        wanted = self.head_names if names is None else tuple(names)
        heads = {n: self._head(n) for n in wanted}
        images = self._check(keys, images)
        per_frame = self.features(keys, images)
        inputs = {n: np.stack([f[i] for f in per_frame]) for i, n in enumerate(FEATURES)}
        inputs[IMAGE] = images
        return {name: backend.run(inputs) for name, backend in heads.items()}

    def run_many(
        self,
        frames: Iterable[tuple[Hashable, np.ndarray]],
        names: Iterable[str] | None = None,
        total: int = 0,
        progress: ProgressFn = no_progress,
        cancel: CancelToken = NEVER,
        prefetch: int = 2,
    ) -> Iterator[tuple[list[Hashable], HeadOutputs]]:
        """Stream (key, image [3, H, W]) pairs through the heads in batches.

        A background thread pulls the next frames from ``frames`` (decoding and
        preprocessing them) while the current batch runs.

        Args:
            frames: the frames, lazily produced.
            names: heads to run; all when None.
            total: the frame count for progress reports, if known.
            progress: called after each batch with frames done so far.
            cancel: checked before each batch; raises ``Cancelled``.
            prefetch: batches decoded ahead.

        Yields:
            the batch's keys and ``run_heads`` outputs.
        """
        wanted = tuple(self.head_names if names is None else names)
        done = 0
        for batch in _Prefetcher(frames, self.batch_size, prefetch, cancel):
            cancel.raise_if_cancelled()
            keys = [k for k, _ in batch]
            out = self.run_heads(keys, np.stack([img for _, img in batch]), wanted)
            done += len(batch)
            progress(Progress(done, total, "running heads"))
            yield keys, out
        cancel.raise_if_cancelled()


_END = object()


class _Prefetcher:
    """Batches of frames produced by a daemon thread, at most ``depth`` batches ahead."""

    def __init__(
        self, frames: Iterable[tuple[Hashable, np.ndarray]], batch_size: int, depth: int, cancel: CancelToken
    ) -> None:
        self.frames = frames
        self.batch_size = batch_size
        self.cancel = cancel
        self.slots: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self.stop = threading.Event()

    def _put(self, item: object) -> bool:
        while not self.stop.is_set():
            try:
                self.slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _batches(self) -> Iterator[list[tuple[Hashable, np.ndarray]]]:
        batch: list[tuple[Hashable, np.ndarray]] = []
        for item in self.frames:
            if self.stop.is_set() or self.cancel.cancelled:
                return
            batch.append(item)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _produce(self) -> None:
        try:
            for batch in self._batches():
                if not self._put(batch):
                    return
        except BaseException as err:  # handed to the consumer, re-raised there
            self._put(err)
        finally:
            self._put(_END)

    def __iter__(self) -> Iterator[list[tuple[Hashable, np.ndarray]]]:
        worker = threading.Thread(target=self._produce, name="echocare-prefetch", daemon=True)
        worker.start()
        try:
            while (item := self.slots.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            self.stop.set()
            worker.join(timeout=5)


def predictor_for(name_or_dir: str | Path, backend: str = "auto", device: str = "auto") -> Predictor:
    """Load a stored model and wrap it in a Predictor (convenience for the app and the CLI)."""
    from engine.factory import load_model

    choice = choose_backend(backend, device)
    loaded = load_model(name_or_dir, device="cpu" if choice.kind == "onnx" else choice.device)
    return Predictor(loaded, backend=choice.kind, device=choice.device)
