"""``auto`` by measurement: time each candidate path once per machine and model, keep the fastest
whose task results agree with the fp32 reference, and remember the choice on disk.

The candidates (``candidate_choices``), reference first:

* the CPU: torch fp32, ONNX Runtime fp32 (when installed), and torch bf16 autocast only when
  the CPU has AMX (elsewhere bf16 is emulated and slower: 43.7 s against 2 s per full-size
  frame on an AVX-512 Xeon without it, docs/BENCHMARKS.md);
* CUDA: torch fp32, bf16 autocast (where supported), fp16 autocast, and ONNX Runtime fp32
  when onnxruntime-gpu provides CUDA;
* Apple MPS: torch fp32 alone.

A fixed ``--backend`` keeps only its own candidates; a fixed precision measures nothing. The
predictor runs the candidates on the first frames of a run (``Predictor.measure_choice``), in
turn for ``ROUNDS`` rounds so that a busy moment of a shared machine slows all of them alike,
and takes each one's median; the agreement check is ``engine.agreement``. The result is kept
in ``<user cache>/backend-choice.json`` keyed by the machine (CPU, cores, GPU, torch and
onnxruntime versions), the device, the backend asked for and the model's sha256 and version,
so it is measured once. Where nothing can be measured yet, ``engine.backends.base.choose_backend``
decides by rule.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from engine.backends.base import BackendChoice, onnxruntime_cuda, onnxruntime_installed
from engine.errors import EchoCareError

T = TypeVar("T")

CHOICE_FILE = "backend-choice.json"
FORMAT = 1
ROUNDS = 3  # timed runs of each candidate, in turn


@dataclass(frozen=True)
class Trial:
    """One candidate's measurement.

    Attributes:
        choice: the candidate path.
        ms_per_frame: wall time of the encoder and the heads per frame, after a warm-up frame.
        agrees: its task results agree with the reference's (the reference always does).
        note: why it disagrees or failed, else empty.
    """

    choice: BackendChoice
    ms_per_frame: float
    agrees: bool
    note: str = ""


@dataclass(frozen=True)
class Measurement:
    """The choice ``auto`` made and the trials it was made from."""

    chosen: BackendChoice
    trials: tuple[Trial, ...]
    measured_at: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Measurement:
        trials = tuple(
            Trial(BackendChoice(**t["choice"]), **{k: v for k, v in t.items() if k != "choice"})
            for t in data["trials"]
        )
        return cls(BackendChoice(**data["chosen"]), trials, data.get("measured_at", ""))


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return set()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.partition(":")[2].split())


def cpu_has_amx() -> bool:
    """Whether the CPU has AMX, the tile unit that makes bf16 matrix products fast."""
    import torch

    if "AMX" in torch.backends.cpu.get_cpu_capability().upper() or "amx_bf16" in _cpu_flags():
        return True
    check = getattr(torch.cpu, "_is_amx_tile_supported", None)  # torch's own CPUID probe
    return bool(check and check())


def candidate_choices(
    backend: str = "auto", device: str = "auto", precision: str = "auto", amx: bool | None = None
) -> tuple[BackendChoice, ...]:
    """The paths ``auto`` measures here, the fp32 reference first; empty for a fixed precision.

    Args:
        backend: ``auto``, or ``torch``/``onnx`` to measure that runtime's precisions only.
        device: ``auto|cpu|cuda|mps``.
        amx: whether the CPU has AMX; probed when None.
    """
    from engine.backends.device import resolve_device

    if precision != "auto" or backend not in ("auto", "torch", "onnx"):
        return ()
    dev = resolve_device(device)
    where = str(dev)
    if dev.type == "cpu":
        torch_paths = ["fp32", "bf16"] if (cpu_has_amx() if amx is None else amx) else ["fp32"]
        onnx = onnxruntime_installed()
    elif dev.type == "cuda":
        import torch

        torch_paths = ["fp32", "bf16", "fp16"] if torch.cuda.is_bf16_supported() else ["fp32", "fp16"]
        onnx = onnxruntime_cuda()
    else:
        torch_paths, onnx = ["fp32"], False
    found = [BackendChoice("torch", where, p) for p in torch_paths] if backend != "onnx" else []
    if onnx and backend != "torch":
        found.insert(1 if found else 0, BackendChoice("onnx", where, "fp32"))
    return tuple(found)


def time_candidate(choice: BackendChoice, run: Callable[[], T], frames: int) -> tuple[T, float]:
    """Run ``choice``'s prepared ``run`` once; its result and the milliseconds per frame.

    ``choice`` only names what ``run`` is bound to: a stand-in clock (a test's) times by it.
    """
    del choice
    start = time.perf_counter()
    out = run()
    return out, (time.perf_counter() - start) * 1000 / max(1, frames)


def fastest_agreeing(trials: Sequence[Trial]) -> BackendChoice:
    """The fastest trial that agrees with the reference (the first trial, which always does)."""
    agreeing = [t for t in trials if t.agrees] or list(trials[:1])
    return min(agreeing, key=lambda t: t.ms_per_frame).choice


def measure(
    candidates: Sequence[BackendChoice],
    prepare: Callable[[BackendChoice], Callable[[], T]],
    frames: int,
    differs: Callable[[T, T], str | None],
    rounds: int = ROUNDS,
) -> Measurement:
    """Time every candidate and choose.

    The candidates run in turn, ``rounds`` times, so each round's runs see the same load of a
    shared machine; a candidate's time is its median. Its first run's results are compared.

    Args:
        candidates: reference first (``candidate_choices``).
        prepare: builds a candidate's path (untimed, warm-up included) and returns its timed run.
        frames: frames one run processes.
        differs: None when a candidate's results agree with the reference's, else why not.

    Raises:
        RuntimeError, EchoCareError: the reference failed (a later candidate's failure only
            rules it out).
    """
    runs: dict[BackendChoice, Callable[[], T]] = {}
    failed: dict[BackendChoice, str] = {}
    outputs: dict[BackendChoice, T] = {}
    times: dict[BackendChoice, list[float]] = {c: [] for c in candidates}
    for _ in range(max(1, rounds)):
        for choice in candidates:
            if choice in failed:
                continue
            try:
                if choice not in runs:
                    runs[choice] = prepare(choice)
                out, ms = time_candidate(choice, runs[choice], frames)
            except (RuntimeError, EchoCareError) as err:
                if choice == candidates[0]:
                    raise
                failed[choice] = f"failed: {err}".splitlines()[0]
                continue
            outputs.setdefault(choice, out)
            times[choice].append(ms)
    ref = outputs[candidates[0]]
    trials = []
    for choice in candidates:
        if choice in failed:
            trials.append(Trial(choice, math.inf, False, failed[choice]))
            continue
        note = "" if choice == candidates[0] else differs(ref, outputs[choice]) or ""
        trials.append(Trial(choice, round(statistics.median(times[choice]), 1), not note, note))
    stamp = datetime.now(UTC).replace(microsecond=0).isoformat()
    return Measurement(fastest_agreeing(trials), tuple(trials), stamp)


def _ort_version() -> str:
    if not onnxruntime_installed():
        return "none"
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("onnxruntime", "onnxruntime-gpu"):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return "unknown"


def _cpu_name() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return platform.processor() or platform.machine()
    line = next((ln for ln in text.splitlines() if ln.startswith("model name")), "")
    return line.partition(":")[2].strip() or platform.processor() or platform.machine()


def machine_key(device: str) -> str:
    """What makes timings of this machine differ from another's: CPU, cores, GPU, library versions."""
    import torch

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    gpu = torch.cuda.get_device_name(device) if device.startswith("cuda") else ""
    parts = (
        _cpu_name(), torch.backends.cpu.get_cpu_capability(), f"{cores} cores", gpu,
        f"torch {torch.__version__}", f"onnxruntime {_ort_version()}",
    )  # fmt: skip
    return " | ".join(p for p in parts if p)


def choice_key(device: str, backend: str, sha256: str, version: str) -> str:
    """The cache key of one measurement: machine, device, backend asked for, model."""
    return f"{machine_key(device)} | {device} | backend {backend} | model {sha256 or '-'}@{version}"


def _cache_root() -> Path:
    from engine.model_store import user_root

    return user_root().parent / "cache"


class ChoiceCache:
    """Measured choices on disk, one JSON file of ``{key: Measurement}``.

    Args:
        path: the file; ``<user cache>/backend-choice.json`` by default (beside the ONNX exports).
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else _cache_root() / CHOICE_FILE

    def _read(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # none yet, or unreadable: measure again
        ok = isinstance(data, dict) and data.get("format") == FORMAT and isinstance(data.get("choices"), dict)
        return data["choices"] if ok else {}

    def get(self, key: str) -> Measurement | None:
        """The measurement stored under ``key``, or None."""
        entry = self._read().get(key)
        try:
            return Measurement.from_dict(entry) if entry else None
        except (KeyError, TypeError):
            return None

    def put(self, key: str, measurement: Measurement) -> None:
        """Store ``measurement`` under ``key`` (atomically; an unwritable cache is not an error)."""
        from engine.project.atomic import write_atomic

        choices = self._read()
        choices[key] = measurement.as_dict()
        text = json.dumps({"format": FORMAT, "choices": choices}, indent=1)
        with contextlib.suppress(OSError):  # unwritable: measured again next time
            write_atomic(self.path, text.encode("utf-8"))
