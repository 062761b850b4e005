"""The shared epoch loop on a toy regression: loss falls, checkpoints resume exactly, early stop."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from engine.progress import CancelToken
from training.checkpointing import Checkpointer
from training.config import OptimCfg, RunCfg
from training.distributed import DistInfo
from training.loop import TrainLoop
from training.seed import set_determinism


class Toy(torch.utils.data.Dataset):
    def __init__(self, n: int = 64) -> None:
        g = torch.Generator().manual_seed(1)
        self.x = torch.randn(n, 4, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return {"x": self.x[i], "y": self.y[i]}


class ToyModule(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 1)
        self.drop = nn.Dropout(0.1)

    def forward(self, batch):
        pred = self.lin(self.drop(batch["x"])).squeeze(1)
        return {"loss": ((pred - batch["y"]) ** 2).mean()}


def _evaluate(ds):
    def f(m):
        pred = m.lin(ds.x).squeeze(1)
        return {"loss": float(((pred - ds.y) ** 2).mean())}

    return f


def _loop(tmp_path, epochs=6, **run):
    set_determinism(0)
    ds = Toy()
    module = ToyModule()
    return TrainLoop(
        module,
        ds,
        optim=OptimCfg(lr=0.3, batch_size=8, grad_accum=2, weight_decay=0.0, clip_grad=0.0),
        run=RunCfg(out_dir=str(tmp_path), epochs=epochs, **run),
        dist=DistInfo(),
        evaluate=_evaluate(ds),
    )


def test_loss_falls_and_history_is_logged(tmp_path):
    result = _loop(tmp_path).fit()
    assert result.status == "finished"
    assert result.steps == 6 * 4
    losses = [h["val_loss"] for h in result.history]
    assert losses[-1] < 0.5 * losses[0]
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert sum("epoch_end" in json.loads(ln) for ln in lines) == 6
    assert (tmp_path / "best.safetensors").is_file()


def test_resume_from_mid_epoch_checkpoint_is_exact(tmp_path):
    full = _loop(tmp_path / "full", checkpoint_every=3).fit()
    # a run cancelled after step 9 (mid-epoch 3), then resumed from its checkpoint
    part = _loop(tmp_path / "part", checkpoint_every=3)
    token = CancelToken()
    part.progress = lambda p: token.cancel() if p.done == 9 else None
    part.cancel = token
    assert part.fit().status == "cancelled"
    assert Checkpointer(tmp_path / "part").latest().name == "step_00000009"
    resumed = _loop(tmp_path / "part", checkpoint_every=3)
    result = resumed.fit(resume=True)
    assert result.steps == full.steps
    a = [h["val_loss"] for h in full.history]
    b = [h["val_loss"] for h in result.history]
    assert b == pytest.approx(a, rel=1e-5, abs=1e-7)


def test_early_stopping_stops_when_the_metric_stalls(tmp_path):
    loop = _loop(tmp_path, epochs=50, patience=1)
    loop.optim_cfg = OptimCfg(lr=1e-9)
    for g in loop.optimizer.param_groups:
        g["lr"] = 0.0
    loop.scheduler.base_lrs = [0.0]
    result = loop.fit()
    assert result.status == "early_stopped"
    assert len(result.history) == 2


def test_sigterm_checkpoints_and_stops(tmp_path):
    import signal

    loop = _loop(tmp_path)
    loop.progress = lambda p: signal.raise_signal(signal.SIGTERM) if p.done == 5 else None
    result = loop.fit()
    assert result.status == "interrupted" and result.steps == 5
    assert Checkpointer(tmp_path).latest().name == "step_00000005"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is removed afterwards
    resumed = _loop(tmp_path).fit(resume=True)
    assert resumed.status == "finished" and resumed.steps == 24


def test_a_fresh_run_clears_an_earlier_runs_state(tmp_path):
    _loop(tmp_path, checkpoint_every=3).fit()
    assert (tmp_path / "checkpoints" / "step_00000024").is_dir()
    result = _loop(tmp_path, epochs=1).fit()
    assert result.steps == 4
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step_*")) == ["step_00000004"]
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert max(json.loads(ln)["step"] for ln in lines) == 4
