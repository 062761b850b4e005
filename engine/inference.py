"""The inference core: one encoder pass per frame feeds every head, on the backend's device.

:class:`Predictor` runs a loaded model through a backend (PyTorch or ONNX Runtime). Encoder
features stay where the backend made them (torch tensors, on the GPU with CUDA; numpy arrays
with ONNX Runtime), in a bounded LRU :class:`FeatureCache` keyed by (frame key, model sha256,
model version): a second head, a re-run or a new prompt on a frame never re-encodes it, and the
heads read the features without a trip through the host. Only the heads' outputs go to numpy,
once per batch, for the tasks' post-processing. Uncached frames are encoded in batches.

With ``auto`` the runtime and precision are chosen by measurement on the first frames of a run
(``Predictor.measure_choice``, called by ``engine.tasks.runner``; ``engine.backends.measured``)
and remembered per machine and model; until then, or where nothing is measured,
``engine.backends.base.choose_backend`` decides by rule.

Inputs are preprocessed model inputs: float32 [B, 3, H, W] at the card's input size, already
normalised (see ``engine.transforms``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine import agreement
from engine.backends import measured
from engine.backends.base import Backend, BackendChoice, choose_backend, to_host
from engine.errors import TaskError
from engine.export.graphs import FEATURES, IMAGE
from engine.factory import LoadedModel

Features = tuple[Any, ...]  # five device arrays [C_i, H_i, W_i] of one frame (torch or numpy)
HeadOutputs = dict[str, dict[str, np.ndarray]]  # {head: {output: [B, ...]}}

DEFAULT_CACHE_BYTES = 512 << 20
_WARM_UP = ("measuring", "warm-up")  # the cache key of the frame each candidate runs untimed first


class FeatureCache:
    """A bounded LRU cache of per-frame encoder features (numpy arrays or device tensors).

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


def _own(array: Any) -> Any:
    """One frame of a batch output, owning its memory (so the cache accounts exact bytes);
    a numpy copy is read-only, safe to share from the cache."""
    if isinstance(array, torch.Tensor):
        return array.clone()
    out = np.array(array, dtype=np.float32, order="C")
    out.setflags(write=False)
    return out


def _stack(arrays: Sequence[Any]) -> Any:
    """Frames back into a batch, on the device they are on."""
    if isinstance(arrays[0], torch.Tensor):
        return torch.stack(list(arrays))
    return np.stack(arrays)


def _read_only(array: Any) -> np.ndarray:
    out = to_host(array)
    out.setflags(write=False)
    return out


def _onnx_dir(loaded: LoadedModel) -> Path:
    from engine.model_store import user_root

    return user_root().parent / "cache" / "onnx" / (loaded.ref.sha256[:16] or loaded.ref.version)


class Predictor:
    """Encoder + heads of one model version behind a backend, with a feature cache.

    Args:
        loaded: from ``engine.factory.load_model``.
        backend: ``auto|torch|onnx``; with ``precision="auto"`` the paths of that choice are
            measured (``measure_choice``), else ``engine.backends.base.choose_backend`` decides.
        device: ``auto|cpu|cuda|mps``.
        precision: ``auto|fp32|bf16|fp16|int8``: torch autocast (bf16, fp16), or the ONNX
            encoder in dynamic int8 on the CPU / every ONNX graph in fp16 on CUDA.
        cache_bytes: bound of the feature cache.
        batch_size: frames per encoder pass.
        onnx_dir: where the ONNX export is kept; a per-user cache folder by default.
        choices: where measured choices are kept; the per-user ``backend-choice.json`` by default.

    Attributes:
        choice: the path in use.
        candidates: the paths ``auto`` measures here (empty when the precision is fixed).
        undecided: ``auto`` has not measured on this machine and model yet; ``choice`` is the rule's.
        measurement: the trials behind the choice, when it was measured (now or before).
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
        choices: measured.ChoiceCache | None = None,
    ) -> None:
        self.loaded = loaded
        self.cache = FeatureCache(cache_bytes)
        self.batch_size = max(1, int(batch_size))
        self._model_key = (loaded.ref.sha256, loaded.ref.version)
        self._onnx_dir = Path(onnx_dir) if onnx_dir else _onnx_dir(loaded)
        self.fallbacks: dict[str, str] = {}
        self._heads: dict[str, Backend] = {}
        self._encoder: Backend | None = None
        self._choices = choices or measured.ChoiceCache()
        self.candidates = measured.candidate_choices(backend, device, precision)
        self.measurement: measured.Measurement | None = None
        self._choice_key = ""
        if len(self.candidates) > 1:
            self._choice_key = measured.choice_key(self.candidates[0].device, backend, *self._model_key)
            self.measurement = self._choices.get(self._choice_key)
        if self.measurement is not None and self.measurement.chosen in self.candidates:
            self.choice = self.measurement.chosen
        elif len(self.candidates) == 1:
            self.choice = self.candidates[0]
        else:
            self.measurement = None
            self.choice = choose_backend(backend, device, precision)
        self.undecided = len(self.candidates) > 1 and self.measurement is None
        if not self.undecided:
            self._encoder = self._backend("encoder")

    @property
    def head_names(self) -> tuple[str, ...]:
        return self.loaded.module.head_names

    @property
    def encoder(self) -> Backend:
        """The encoder's backend (built on first use while ``auto`` is undecided)."""
        if self._encoder is None:
            self._encoder = self._backend("encoder")
        return self._encoder

    @encoder.setter
    def encoder(self, backend: Backend) -> None:
        self._encoder = backend

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
        h, w = self.loaded.card.model.input_size
        expected = (len(keys), self.loaded.card.model.in_chans, h, w)
        if images.shape != expected:
            raise TaskError(None, f"model input must be {list(expected)}, got {list(images.shape)}")
        return images

    def _device_features(self, keys: Sequence[Hashable], images: Any) -> list[Features]:
        """Per frame, the five feature levels on the device, encoding only uncached frames.

        ``images`` is the batch already uploaded (``encoder.upload``).
        """
        found = [self.cache.get((k, *self._model_key)) for k in keys]
        todo = [i for i, f in enumerate(found) if f is None]
        for start in range(0, len(todo), self.batch_size):
            idx = todo[start : start + self.batch_size]
            out = self.encoder.run_device({IMAGE: images[idx]})
            for row, i in enumerate(idx):
                feats = tuple(_own(out[n][row]) for n in FEATURES)
                self.cache.put((keys[i], *self._model_key), feats)
                found[i] = feats
        return found  # type: ignore[return-value]

    def features(self, keys: Sequence[Hashable], images: np.ndarray) -> list[tuple[np.ndarray, ...]]:
        """Encoder features of each frame, on the host and read-only, encoding only uncached frames.

        Args:
            keys: one hashable per frame (e.g. (study uid, frame index)); equal keys mean
                equal images.
            images: model inputs [B, 3, H, W] float32, B == len(keys).

        Returns:
            per frame, five arrays [C_i, H / s_i, W / s_i].
        """
        images = self._check(keys, images)
        feats = self._device_features(keys, self.encoder.upload(images))
        return [tuple(_read_only(f) for f in frame) for frame in feats]

    def run_heads(
        self, keys: Sequence[Hashable], images: np.ndarray, names: Iterable[str] | None = None
    ) -> HeadOutputs:
        """Run heads on frames, reusing cached features.

        The image goes to the device once; the features stay there; every head's outputs come
        back to the host together.

        Returns:
            ``{head: {output: array [B, ...]}}`` in frame order.

        Raises:
            TaskError: an unknown head or a wrongly shaped input.
        """
        wanted = self.head_names if names is None else tuple(names)
        heads = {n: self._head(n) for n in wanted}
        images = self._check(keys, images)
        on_device = self.encoder.upload(images)
        per_frame = self._device_features(keys, on_device)
        inputs = {n: _stack([f[i] for f in per_frame]) for i, n in enumerate(FEATURES)}
        inputs[IMAGE] = on_device
        outputs = {name: backend.run_device(inputs) for name, backend in heads.items()}
        return {name: {k: to_host(v) for k, v in out.items()} for name, out in outputs.items()}

    def run_prompted(
        self, name: str, keys: Sequence[Hashable], images: np.ndarray, inputs: Mapping[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """Run an interactive head (``HeadSpec.interactive``) with its prompt ``inputs`` on the
        frames' cached features: the encoder runs only for frames not in the cache, so a new
        prompt on a shown frame costs the head alone.

        The head runs in torch at fp32 on the model's device (it is small, and its prompts
        change at every call); features from another backend are brought there.

        Args:
            name: the head.
            inputs: the head's extra inputs by keyword, ``[B, ...]`` each.

        Returns:
            the head's outputs ``{output: array [B, ...]}``.
        """
        if name not in self.head_names:
            raise TaskError(self.loaded.folder, f"model {self.loaded.card.name} has no {name} head")
        images = self._check(keys, images)
        per_frame = self._device_features(keys, self.encoder.upload(images))
        device = self.loaded.device

        def tensor(x: Any) -> torch.Tensor:
            t = x if isinstance(x, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(to_host(x)))
            return t.to(device=device, dtype=torch.float32)

        feats = [tensor(_stack([f[i] for f in per_frame])) for i in range(len(FEATURES))]
        head = self.loaded.module.heads[name]
        with torch.no_grad():
            out = head(feats, tensor(images), **{k: tensor(v) for k, v in inputs.items()})
        return {k: to_host(v) for k, v in out.items()}

    def measure_choice(
        self,
        keys: Sequence[Hashable],
        images: np.ndarray,
        names: Sequence[str],
        results: Callable[[HeadOutputs], object],
    ) -> measured.Measurement | None:
        """Settle an undecided ``auto``: time every candidate path on these frames and keep the
        fastest whose task results agree with the fp32 reference's (``engine.agreement``).

        Each candidate runs one frame untimed, then ``names`` on all the frames, timed in turn
        with the others (``engine.backends.measured.measure``). The chosen path's backends and
        cached features become this predictor's, and the choice is stored for this machine and
        model.

        Args:
            keys, images: the frames, as for ``run_heads``.
            names: the heads the run needs.
            results: the task results of ``run_heads`` outputs (what must agree).

        Returns:
            the measurement; None when the choice was already made.
        """
        if not self.undecided:
            return None
        images = self._check(keys, images)
        paths: dict[BackendChoice, Predictor] = {}

        def prepare(choice: BackendChoice) -> Callable[[], HeadOutputs]:
            path = Predictor(
                self.loaded, choice.kind, choice.device, choice.precision,
                self.cache.max_bytes, self.batch_size, self._onnx_dir,
            )  # fmt: skip
            path.run_heads([_WARM_UP], images[:1], names)
            paths[choice] = path

            def timed() -> HeadOutputs:
                path.cache.clear()  # every round encodes the frames
                return path.run_heads(keys, images, names)

            return timed

        def differs(ref: HeadOutputs, got: HeadOutputs) -> str | None:
            return agreement.first_difference(results(ref), results(got))

        found = measured.measure(self.candidates, prepare, len(keys), differs)
        winner = paths[found.chosen]
        self.choice, self.fallbacks, self.cache = winner.choice, winner.fallbacks, winner.cache
        self._encoder, self._heads = winner._encoder, winner._heads
        self.measurement, self.undecided = found, False
        self._choices.put(self._choice_key, found)
        return found


def predictor_for(name_or_dir: str | Path, backend: str = "auto", device: str = "auto") -> Predictor:
    """Load a stored model and wrap it in a Predictor (convenience for the app and the CLI)."""
    from engine.factory import load_model

    choice = choose_backend(backend, device)
    loaded = load_model(name_or_dir, device="cpu" if choice.kind == "onnx" else choice.device)
    return Predictor(loaded, backend=backend, device=choice.device)
