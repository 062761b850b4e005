"""Fine-tuning in a separate process, watched through JSON-lines files (no Qt, no torch here).

The app starts a run with :func:`start_run`; the child runs ``python -m training.run_process``,
which calls :func:`training.api.finetune` and appends one JSON object per line to
``RUN/events.jsonl``:

* ``{"event": "started", "pid": ..., "resume": ...}``
* ``{"event": "progress", "done": 3, "total": 20, "message": "...", "loss": 0.41, "t": ...}``
* ``{"event": "finished", "status": "finished", "summary": {...}}`` (``summary`` is
  ``FinetuneResult.summary()``: version, test metrics, gate), or ``{"event": "error", ...}``.

Per-epoch validation figures come from the loop's own ``RUN/log.jsonl`` (records with
``epoch_end``). :class:`TrainingRun` reads both files incrementally, so a GUI polls it from a
timer without blocking. Cancel writes ``RUN/cancel``; the child sees it between optimiser
steps, checkpoints and ends with status ``cancelled`` without storing a version (a version is
only stored, atomically, after a finished run). If the child is killed, nothing is
registered either; :meth:`TrainingRun.resume` continues from its newest checkpoint.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVENTS = "events.jsonl"
CANCEL = "cancel"
CONFIG = "run_config.json"
LOOP_LOG = "log.jsonl"
ROOT = Path(__file__).resolve().parents[1]
_LOSS = re.compile(r"loss ([0-9.eE+-]+)")


class _Tail:
    """New complete lines of a growing text file, from where the last read stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = ""

    def read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        with self.path.open("r", encoding="utf-8") as fh:
            fh.seek(self._offset)
            chunk = fh.read()
            self._offset = fh.tell()
        lines = (self._partial + chunk).split("\n")
        self._partial = lines.pop()
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


@dataclass
class TrainingRun:
    """One fine-tuning run in its own process, seen from the app.

    Attributes:
        run_dir: the run folder (``cfg.run.out_dir``): events, loop log, checkpoints.
        config: the run config as a plain mapping (``engine.config_files.to_dict``).
        process: the child process.
        losses: ``(step, loss)`` per optimiser step seen so far.
        epochs: the loop's per-epoch records (``train_loss``, ``val_<head>.<metric>``, ...).
        summary: the finished run's summary (version, test metrics, gate), else None.
        status: "running", then the run's status ("finished", "cancelled", ...), "failed"
            (an error ended it) or "killed" (it ended without a word).
        error: the one-line error of a failed run.
    """

    run_dir: Path
    config: Mapping[str, Any]
    process: subprocess.Popen
    losses: list[tuple[int, float]] = field(default_factory=list)
    epochs: list[dict[str, float]] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    status: str = "running"
    error: str = ""
    done: int = 0
    total: int = 0
    events_offset: int = 0
    _ending: str | None = None
    _first: tuple[float, int] | None = None
    _rate_point: tuple[float, int] | None = None

    def __post_init__(self) -> None:
        self._events = _Tail(self.run_dir / EVENTS)
        self._events._offset = self.events_offset  # a resumed run's earlier ends are not its own
        self._log = _Tail(self.run_dir / LOOP_LOG)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def poll(self) -> list[dict[str, Any]]:
        """Read what the child wrote since the last call; update the run's fields.

        The status leaves "running" only once the child has exited, so a run that says
        "cancelled" can be resumed at once.

        Returns:
            the new events, plus ``{"event": "epoch", ...}`` for each new epoch record and
            ``{"event": "killed", ...}`` when the child died without a last word.
        """
        exited = not self.alive  # checked before reading, so the last words are read below
        new = self._events.read()
        for ev in new:
            self._apply(ev)
        for rec in self._log.read():
            if "epoch_end" in rec:
                self.epochs.append({k: float(v) for k, v in rec.items() if isinstance(v, (int, float))})
                new.append({"event": "epoch", **rec})
        if self.status == "running" and exited:
            if self._ending is not None:
                self.status = self._ending
            else:
                self.status = "killed"
                self.error = f"the training process ended unexpectedly (exit code {self.process.returncode})"
                new.append({"event": "killed", "returncode": self.process.returncode})
        return new

    def _apply(self, ev: Mapping[str, Any]) -> None:
        kind = ev.get("event")
        if kind == "progress":
            self.done, self.total = int(ev["done"]), int(ev["total"])
            if ev.get("loss") is not None:
                self.losses.append((self.done, float(ev["loss"])))
            now = time.monotonic()
            self._first = self._first or (now, self.done)
            self._rate_point = (now, self.done)
        elif kind == "finished":
            self._ending = str(ev.get("status", "finished"))
            self.summary = ev.get("summary")
        elif kind == "error":
            self._ending, self.error = "failed", str(ev.get("message", "error"))

    def eta_seconds(self) -> float | None:
        """Seconds left at the rate seen so far; None before two progress reports."""
        if not self._first or not self._rate_point or self.total <= 0:
            return None
        (t0, d0), (t1, d1) = self._first, self._rate_point
        if d1 <= d0 or t1 <= t0:
            return None
        return max(0.0, (self.total - d1) * (t1 - t0) / (d1 - d0))

    def cancel(self) -> None:
        """Ask the child to stop at the next step (it checkpoints and stores no version)."""
        (self.run_dir / CANCEL).write_text("cancel\n", encoding="utf-8")

    def kill(self) -> None:
        """End the child at once (SIGKILL); the newest checkpoint stays for a resume."""
        if self.alive:
            self.process.kill()

    def wait(self, timeout: float | None = None) -> str:
        """Wait for the child to exit, then read its last events; returns the status."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)
        self.poll()
        return self.status

    def resume(self) -> TrainingRun:
        """Start a new child that continues this run from its newest checkpoint."""
        if self.alive:
            raise RuntimeError("the run is still going; cancel it before resuming")
        return start_run(self.config, self.run_dir, resume=True)


def start_run(
    config: Mapping[str, Any], run_dir: str | Path, *, resume: bool = False, threads: int = 1
) -> TrainingRun:
    """Start fine-tuning ``config`` in a new process writing to ``run_dir``.

    Args:
        config: a fine-tuning config mapping (``engine.config_files.to_dict(FinetuneCfg)`` or the
            same keys as a config file); ``run.out_dir`` is set to ``run_dir``.
        run_dir: the run folder.
        resume: continue from the newest checkpoint in ``run_dir``.
        threads: intra-op CPU threads of the child.

    Returns:
        the run; poll it for progress.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = json.loads(json.dumps(dict(config), default=list))
    cfg["run"] = {**cfg.get("run", {}), "out_dir": str(run_dir)}
    (run_dir / CONFIG).write_text(json.dumps(cfg, indent=1), encoding="utf-8")
    (run_dir / CANCEL).unlink(missing_ok=True)
    if not resume:  # a fresh run starts over in a used folder (the loop clears it too)
        for stale in (EVENTS, LOOP_LOG):
            (run_dir / stale).unlink(missing_ok=True)
    earlier = (run_dir / EVENTS).stat().st_size if (run_dir / EVENTS).is_file() else 0
    cmd = [sys.executable, "-m", "training.run_process", "--run-dir", str(run_dir), "--threads", str(threads)]
    if resume:
        cmd.append("--resume")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with (run_dir / "stderr.txt").open("ab") as err:
        proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL, stderr=err)
    return TrainingRun(run_dir, cfg, proc, events_offset=earlier)


# -- the child --------------------------------------------------------------------------------


class _Writer:
    def __init__(self, path: Path) -> None:
        self._fh = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()

    def __call__(self, **event: Any) -> None:
        with self._lock:
            self._fh.write(json.dumps(event) + "\n")
            self._fh.flush()


def _watch_cancel(flag: Path, token: Any, stop: threading.Event) -> None:
    while not stop.wait(0.2):
        if flag.exists():
            token.cancel()
            return


def child_main(argv: Sequence[str] | None = None) -> int:
    """The child: run ``finetune`` on ``RUN/run_config.json`` and report to ``RUN/events.jsonl``."""
    parser = argparse.ArgumentParser(prog="python -m training.run_process")
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    run_dir = Path(args.run_dir)
    emit = _Writer(run_dir / EVENTS)
    emit(event="started", pid=os.getpid(), resume=args.resume, t=time.time())
    stop = threading.Event()
    try:
        import torch

        from engine.errors import EchoCareError
        from engine.progress import CancelToken, Progress
        from training.api import finetune
        from training.config import load_finetune_cfg

        torch.set_num_threads(max(1, args.threads))
        token = CancelToken()
        threading.Thread(target=_watch_cancel, args=(run_dir / CANCEL, token, stop), daemon=True).start()

        def progress(p: Progress) -> None:
            m = _LOSS.search(p.message)
            emit(event="progress", done=p.done, total=p.total, message=p.message,
                 loss=float(m.group(1)) if m else None, t=time.time())  # fmt: skip

        try:
            cfg = load_finetune_cfg(run_dir / CONFIG)
            result = finetune(cfg, resume=args.resume, progress=progress, cancel=token)
        except EchoCareError as err:
            emit(event="error", message=err.one_line())
            return 2
        emit(event="finished", status=result.status, summary=result.summary())
        return 0 if result.status in ("finished", "early_stopped") else 3
    except Exception as err:  # the app shows it; the traceback is in stderr.txt
        emit(event="error", message=f"{type(err).__name__}: {err}")
        raise
    finally:
        stop.set()


if __name__ == "__main__":
    sys.exit(child_main())
