"""The epoch loop every run shares: AMP, accumulation, eval, early stopping, checkpoints, resume.

The trained thing is one ``nn.Module`` whose ``forward(batch)`` returns a dict of scalar tensors
with at least ``"loss"``; pretraining and fine-tuning each build such a module, so DDP wraps a
single forward and this file knows nothing about tasks.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.progress import NEVER, CancelToken, Progress, ProgressFn, no_progress
from training.checkpointing import Checkpointer, load_weights, save_weights_atomic, weights_of
from training.config import OptimCfg, RunCfg
from training.distributed import DistInfo, barrier, broadcast, mean_across, unwrap
from training.seed import rng_state, set_rng_state

if TYPE_CHECKING:
    import torch
    from torch import nn
    from torch.utils.data import Dataset

Evaluate = Callable[["nn.Module"], dict[str, float]]
BEST = "best.safetensors"
LOG = "log.jsonl"


@dataclass
class LoopState:
    """Where a run is; saved in every checkpoint so ``--resume`` continues exactly."""

    epoch: int = 0
    batch_in_epoch: int = 0
    step: int = 0
    best: float | None = None
    bad_epochs: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    epoch_sums: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LoopResult:
    """How a run ended.

    Attributes:
        status: "finished", "early_stopped", "interrupted" (SIGTERM; resumable) or "cancelled".
        steps: optimiser steps done.
        best: best value of the monitored eval metric, if any.
        history: one record per finished epoch (train loss and eval metrics).
        run_dir: the run folder.
    """

    status: str
    steps: int
    best: float | None
    history: tuple[dict[str, float], ...]
    run_dir: Path


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor inside nested dicts, lists and tuples to ``device``."""
    import torch

    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


def amp_dtype(mode: str, device: str) -> torch.dtype | None:
    """The autocast dtype for ``optim.amp`` on ``device``; None means full precision (always on CPU)."""
    import torch

    if not device.startswith("cuda") or mode == "off":
        return None
    if mode == "fp16":
        return torch.float16
    if mode == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def lr_lambda(warmup: int, total: int) -> Callable[[int], float]:
    """Linear warm-up then cosine decay to 5 % of the peak."""

    def f(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, total - warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))

    return f


class _StopFlag:
    """Set by SIGTERM; the loop checkpoints at the next optimiser step and returns."""

    def __init__(self) -> None:
        self.raised = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[_StopFlag]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        old = signal.signal(signal.SIGTERM, lambda *_: setattr(self, "raised", True))
        try:
            yield self
        finally:
            signal.signal(signal.SIGTERM, old)


class _Skip:
    """A sampler over a fixed index list (an epoch's shard, minus what was already consumed)."""

    def __init__(self, indices: Sequence[int]) -> None:
        self.indices = list(indices)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class TrainLoop:
    """Runs epochs of ``module(batch) -> {"loss", ...}`` over ``dataset``.

    Args:
        module: the trained module (already on the device, possibly DDP-wrapped).
        dataset: map-style dataset of samples; ``set_epoch(epoch)`` is called when it exists.
        optim: optimiser settings; only parameters with ``requires_grad`` are optimised.
        run: run settings (epochs, checkpoints, patience, seed, out_dir).
        dist: this process in the job.
        collate: the DataLoader's collate function.
        evaluate: metrics of the unwrapped module on the validation split, run by rank 0.
        monitor: the eval metric that decides the best epoch and early stopping.
        higher_is_better: direction of ``monitor``.
        order: optional global sample order of an epoch (class balancing); defaults to a
            seeded DistributedSampler.
        progress: receives one Progress per optimiser step.
        cancel: checked after every optimiser step.
    """

    def __init__(
        self,
        module: nn.Module,
        dataset: Dataset,
        *,
        optim: OptimCfg,
        run: RunCfg,
        dist: DistInfo,
        collate: Callable[[list[Any]], Any] | None = None,
        evaluate: Evaluate | None = None,
        monitor: str = "loss",
        higher_is_better: bool = False,
        order: Callable[[int], Sequence[int]] | None = None,
        progress: ProgressFn = no_progress,
        cancel: CancelToken = NEVER,
    ) -> None:
        import torch

        self.module, self.dataset, self.optim_cfg, self.run_cfg, self.dist = module, dataset, optim, run, dist
        self.collate, self.evaluate, self.monitor, self.higher = collate, evaluate, monitor, higher_is_better
        self.order, self.progress, self.cancel = order, progress, cancel
        self.run_dir = Path(run.out_dir)
        self.ckpt = Checkpointer(self.run_dir, run.keep_checkpoints)
        params = [p for p in module.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=optim.lr, weight_decay=optim.weight_decay)
        self.dtype = amp_dtype(optim.amp, dist.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.dtype == torch.float16)
        self.steps_per_epoch = max(1, len(self._shard(0)) // (optim.batch_size * optim.grad_accum))
        total = run.epochs * self.steps_per_epoch
        self.total_steps = min(total, run.max_steps) if run.max_steps else total
        self.epochs = math.ceil(self.total_steps / self.steps_per_epoch)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lr_lambda(optim.warmup_steps, self.total_steps)
        )
        self.state = LoopState()

    # -- data order ------------------------------------------------------------------------
    def _shard(self, epoch: int) -> list[int]:
        """This rank's indices of one epoch, equal length on every rank."""
        if self.order is not None:
            order = list(self.order(epoch))
            n = len(order) // self.dist.world
            return order[self.dist.rank :: self.dist.world][:n]
        from torch.utils.data import DistributedSampler

        sampler = DistributedSampler(
            self.dataset,  # type: ignore[arg-type]
            num_replicas=self.dist.world,
            rank=self.dist.rank,
            shuffle=True,
            seed=self.run_cfg.seed,
            drop_last=True,
        )
        sampler.set_epoch(epoch)
        return list(sampler)

    def _loader(self, epoch: int, skip: int) -> Iterator[Any]:
        import torch
        from torch.utils.data import DataLoader

        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        bs = self.optim_cfg.batch_size
        n_batches = self.steps_per_epoch * self.optim_cfg.grad_accum
        indices = self._shard(epoch)[skip * bs : n_batches * bs]
        loader = DataLoader(
            self.dataset,  # type: ignore[arg-type]
            batch_size=bs,
            sampler=_Skip(indices),
            collate_fn=self.collate,
            num_workers=self.run_cfg.num_workers,
            drop_last=True,
            generator=torch.Generator().manual_seed(self.run_cfg.seed + epoch),
        )
        return iter(loader)

    # -- checkpoints -----------------------------------------------------------------------
    def _save(self) -> None:
        if self.dist.is_main:
            state = {
                "loop": asdict(self.state),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
                "rng": rng_state(),
            }
            self.ckpt.save(self.state.step, unwrap(self.module), state)
        barrier(self.dist)

    def _restore(self) -> bool:
        path = self.ckpt.latest()
        if path is None:
            return False
        saved = self.ckpt.load(path, unwrap(self.module))
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        self.scaler.load_state_dict(saved["scaler"])
        self.state = LoopState(**saved["loop"])
        set_rng_state(saved["rng"])
        if self.dist.is_main:
            self._truncate_log(self.state.step)
        return True

    def _reset(self) -> None:
        if self.dist.is_main:
            shutil.rmtree(self.ckpt.root, ignore_errors=True)
            for name in (BEST, LOG):
                (self.run_dir / name).unlink(missing_ok=True)
        barrier(self.dist)

    def _truncate_log(self, step: int) -> None:
        log = self.run_dir / LOG
        if log.is_file():
            keep = [ln for ln in log.read_text().splitlines() if ln and json.loads(ln).get("step", 0) <= step]
            log.write_text("".join(k + "\n" for k in keep))

    def _log(self, record: dict[str, Any]) -> None:
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            with (self.run_dir / LOG).open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    # -- the loop --------------------------------------------------------------------------
    def fit(self, resume: bool = False) -> LoopResult:
        """Train until the step budget, early stopping, SIGTERM or cancel; see LoopResult.

        Args:
            resume: continue from the run folder's newest checkpoint. Without it the run starts
                over: checkpoints, best weights and log left in the folder by an earlier run
                are removed first, so they can never be mistaken for this run's.
        """
        if resume:
            self._restore()
        else:
            self._reset()
        st = self.state
        with _StopFlag().installed() as stop:
            while st.epoch < self.epochs and st.step < self.total_steps:
                status = self._epoch(stop)
                if status:
                    self._save()
                    return self._result(status)
                if self._end_epoch():
                    self._save()
                    return self._finish("early_stopped")
                self._save()
        return self._finish("finished")

    def _epoch(self, stop: _StopFlag) -> str:
        """One (possibly resumed) epoch; returns a status when the run must stop now."""
        import torch

        st, accum, device = self.state, self.optim_cfg.grad_accum, torch.device(self.dist.device)
        self.module.train()
        self.optimizer.zero_grad(set_to_none=True)
        if st.batch_in_epoch == 0:
            st.epoch_sums = {}
        sums = st.epoch_sums
        for batch in self._loader(st.epoch, st.batch_in_epoch):
            sync = (st.batch_in_epoch + 1) % accum == 0
            no_sync = getattr(self.module, "no_sync", None)
            ctx = no_sync() if (no_sync and not sync) else contextlib.nullcontext()
            with (
                ctx,
                torch.autocast(
                    device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None
                ),
            ):
                out = self.module(to_device(batch, device))
            self.scaler.scale(out["loss"] / accum).backward()
            st.batch_in_epoch += 1
            for k, v in out.items():
                if v.ndim == 0:
                    sums[f"_sum_{k}"] = sums.get(f"_sum_{k}", 0.0) + float(v.detach())
            sums["_sum_n"] = sums.get("_sum_n", 0.0) + 1
            if not sync:
                continue
            self._optimizer_step()
            st.step += 1
            scalars = {k: float(v.detach()) for k, v in out.items() if v.ndim == 0}
            self._log({"step": st.step, "epoch": st.epoch, **scalars})
            msg = f"epoch {st.epoch + 1}/{self.epochs} loss {scalars['loss']:.4f}"
            self.progress(Progress(st.step, self.total_steps, msg))
            if self.run_cfg.checkpoint_every and st.step % self.run_cfg.checkpoint_every == 0:
                self._save()
            if stop.raised or self.cancel.cancelled:
                return "interrupted" if stop.raised else "cancelled"
            if st.step >= self.total_steps:
                break
        n = max(1.0, sums.get("_sum_n", 1.0))
        self._epoch_train = {k[5:]: mean_across(v / n, self.dist) for k, v in sums.items() if k != "_sum_n"}
        return ""

    def _optimizer_step(self) -> None:
        import torch

        if self.optim_cfg.clip_grad > 0:
            self.scaler.unscale_(self.optimizer)
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.optim_cfg.clip_grad)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()

    def _end_epoch(self) -> bool:
        """Eval, best weights and early stopping at an epoch's end; True means stop."""
        st = self.state
        record: dict[str, float] = {"epoch": float(st.epoch + 1), "step": float(st.step)}
        record.update({f"train_{k}": v for k, v in self._epoch_train.items()})
        metrics: dict[str, float] = {}
        if self.evaluate is not None:
            if self.dist.is_main:
                import torch

                inner = unwrap(self.module)
                inner.eval()
                with torch.no_grad():
                    metrics = self.evaluate(inner)
                inner.train()
            metrics = broadcast(metrics, self.dist)
        record.update({f"val_{k}": v for k, v in metrics.items()})
        st.history.append(record)
        self._log({"step": st.step, "epoch_end": st.epoch + 1, **record})
        st.epoch += 1
        st.batch_in_epoch = 0
        if self.monitor not in metrics:
            return False
        value = metrics[self.monitor]
        better = st.best is None or (value > st.best if self.higher else value < st.best)
        if better:
            st.best, st.bad_epochs = value, 0
            if self.dist.is_main:
                save_weights_atomic(weights_of(unwrap(self.module)), self.run_dir / BEST)
        else:
            st.bad_epochs += 1
        return bool(self.run_cfg.patience) and st.bad_epochs >= self.run_cfg.patience

    def _finish(self, status: str) -> LoopResult:
        barrier(self.dist)
        if (self.run_dir / BEST).is_file():
            load_weights(self.run_dir / BEST, self.module)
        return self._result(status)

    def _result(self, status: str) -> LoopResult:
        hist = tuple(self.state.history)
        return LoopResult(status, self.state.step, self.state.best, hist, self.run_dir)
