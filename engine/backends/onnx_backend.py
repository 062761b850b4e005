"""ONNX Runtime backend: CUDA provider when installed, else the CPU with every optimisation.

Sessions use ``ORT_ENABLE_ALL`` and treat subnormal floats as zero. The -100 that MONAI's
shifted-window attention adds to masked pairs leaves subnormal weights (e**-100) after the
softmax, which x86 cores multiply in microcode: without this, each shifted block's
attention-times-values product ran 5 to 40 times slower than the unshifted block's (about 130 ms of
the full-size encoder's 1.4 s on 2 cores), with no change in any output. onnxruntime sets the
flag on each session's pool threads and, once per process, on the thread that creates the first
session, for good. Sessions are therefore created in a short-lived thread of their own, so the
caller's arithmetic keeps IEEE subnormals; the pool threads, which take over most of a slow
product's work, still flush them (the shifted blocks' product then costs 20 ms in all instead of 158).

The optimised graph is written next to the source file (``<name>.opt-<provider>-ort<version>.onnx``)
the first time, and later sessions load that file with optimisation switched off, which skips the
graph rewriting at start-up. On CUDA, inputs and outputs go through I/O binding (one host-to-device
copy per input, outputs fetched together). The backend's device arrays are numpy arrays on the
host: ``run_device`` is ``run``, so on CUDA each graph still uploads its inputs (the torch path,
which ``auto`` measures on CUDA, keeps features on the GPU).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from engine.backends.base import to_host
from engine.errors import ModelError


def _providers(device: str) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    wants_gpu = device.split(":", 1)[0] in ("auto", "cuda")
    if wants_gpu and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def optimized_path(path: Path, provider: str) -> Path:
    """Where the optimised graph of ``path`` for ``provider`` is cached."""
    import onnxruntime as ort

    tag = provider.removesuffix("ExecutionProvider").lower()
    return path.with_name(f"{path.stem}.opt-{tag}-ort{ort.__version__}.onnx")


class OnnxBackend:
    """Runs an exported graph with onnxruntime.

    Args:
        path: the ``.onnx`` file.
        device: ``auto|cpu|cuda``; CUDA needs onnxruntime-gpu.
        threads: intra-op threads; every core this process may use by default.
        spin: let worker threads busy-wait between the parallel sections of a run. Off by
            default: each session has its own threads, and a predictor holds one session per
            graph (encoder and every head), so spinning threads of the sessions not running
            take the cores from the one that is: with it on, the demo model's seven heads ran
            at 12.4 instead of 29.3 frames/s on 2 cores. Alone, the full-size encoder gained
            1.6-19 % from it, depending on the run (docs/BENCHMARKS.md). One pool shared by all
            sessions (``onnxruntime.set_global_thread_pool_sizes``) spins without that cost and
            ran the seven heads as fast, but its spinning workers then starve the cine
            pipeline's decode and post-processing threads (end to end 27.1 against 30.7 frames/s).
        cache_optimized: keep the optimised graph next to ``path`` and load it next time (the
            predictor does this in its export cache folder).

    Raises:
        ModelError: the file cannot be loaded as an ONNX model.
    """

    def __init__(
        self,
        path: str | Path,
        device: str = "auto",
        threads: int | None = None,
        spin: bool = False,
        cache_optimized: bool = False,
    ) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        providers = _providers(device)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or _cores()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        options.add_session_config_entry("session.set_denormal_as_zero", "1")
        spinning = "1" if spin else "0"
        options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
        options.add_session_config_entry("session.inter_op.allow_spinning", spinning)
        source, written = self.path, None
        if cache_optimized and self.path.is_file():
            cached = optimized_path(self.path, providers[0])
            if cached.is_file() and cached.stat().st_mtime >= self.path.stat().st_mtime:
                source = cached
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            else:
                written = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
                options.optimized_model_filepath = str(written)
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="onnx-session") as maker:
                self.session = maker.submit(ort.InferenceSession, str(source), options, providers).result()
        except Exception as err:  # onnxruntime raises its own untyped errors
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise ModelError(path, f"cannot load ONNX model ({first})") from None
        if written is not None and written.is_file():
            written.replace(optimized_path(self.path, providers[0]))
        self.loaded_from = source
        self.input_names = tuple(i.name for i in self.session.get_inputs())
        self.output_names = tuple(o.name for o in self.session.get_outputs())
        self._input_types = {i.name: i.type for i in self.session.get_inputs()}
        self.on_cuda = self.providers[0] == "CUDAExecutionProvider"

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def _feed(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        dtype = {n: np.float16 if "float16" in t else np.float32 for n, t in self._input_types.items()}
        return {n: np.ascontiguousarray(inputs[n], dtype=dtype[n]) for n in self.input_names}

    def upload(self, array: np.ndarray) -> np.ndarray:
        """The array itself: ONNX Runtime sessions take host arrays."""
        return array

    def run_device(self, inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """``run`` on host arrays (a torch tensor is copied to the host first)."""
        return self.run({n: to_host(inputs[n]) for n in self.input_names})

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run on named float32 arrays [B, ...]; returns named float32 arrays."""
        feed = self._feed(inputs)
        if self.on_cuda:
            binding = self.session.io_binding()
            for name, array in feed.items():
                binding.bind_cpu_input(name, array)
            for name in self.output_names:
                binding.bind_output(name, "cuda")
            self.session.run_with_iobinding(binding)
            out = binding.copy_outputs_to_cpu()
        else:
            out = self.session.run(list(self.output_names), feed)
        return {n: np.asarray(o, dtype=np.float32) for n, o in zip(self.output_names, out, strict=True)}
