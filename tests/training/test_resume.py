"""SIGKILL mid-epoch, then --resume: the run finishes with the metrics of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import yaml

from training.api import finetune
from training.checkpointing import Checkpointer
from training.config import load_finetune_cfg


def _config(tmp_path, name: str) -> tuple[str, dict]:
    out = tmp_path / name
    data = {
        "model": "echocare_test",
        "name": "resume-check",
        "heads": ["segmentation"],
        "mode": "full",
        "input_size": [64, 64],
        "data": {"source": "sim", "scene": "lesion", "count": 32},
        "head_params": {"segmentation": {"width": 8}},
        "optim": {"lr": 0.002, "batch_size": 4, "weight_decay": 0.0},
        "run": {"out_dir": str(out), "epochs": 2, "device": "cpu", "checkpoint_every": 2, "seed": 3},
        "activate": "never",
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path), data


def _cmd(config: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "training", "finetune", "--config", config, "--quiet", *extra]


KILL_AFTER_STEP = 4

# The training entry point, with the process SIGKILLing itself as soon as the checkpoint of
# step KILL_AFTER_STEP is complete on disk: a real kill at a known point of the run.
KILLED_RUN = """
import os
import signal
import sys

from training.checkpointing import Checkpointer
from training.runner import main

kill_after = int(sys.argv[1])
save = Checkpointer.save


def save_then_die(self, step, module, state):
    path = save(self, step, module, state)
    if step >= kill_after:
        os.kill(os.getpid(), signal.SIGKILL)
    return path


Checkpointer.save = save_then_die
sys.exit(main(sys.argv[2:]))
"""


def _killed_cmd(config: str) -> list[str]:
    args = ["finetune", "--config", config, "--quiet"]
    return [sys.executable, "-c", KILLED_RUN, str(KILL_AFTER_STEP), *args]


@pytest.mark.slow
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path, monkeypatch):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "ECHOCARE_HOME": str(tmp_path / "home")}
    monkeypatch.setenv("ECHOCARE_HOME", str(tmp_path / "home"))
    ref_cfg, _ = _config(tmp_path, "uninterrupted")
    expected = finetune(load_finetune_cfg(ref_cfg)).summary()  # the same run, never interrupted

    cfg, data = _config(tmp_path, "killed")
    ckpt = Checkpointer(data["run"]["out_dir"])
    killed = subprocess.run(_killed_cmd(cfg), env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    killed_at = ckpt.latest().name
    assert killed_at == f"step_{KILL_AFTER_STEP:08d}"
    killed_step, steps_per_epoch = int(killed_at[5:]), expected["steps"] // 2
    assert killed_step < expected["steps"] and killed_step % steps_per_epoch != 0  # mid-epoch

    resumed = subprocess.run(_cmd(cfg, "--resume"), env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    got = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert got["status"] == "finished" and got["steps"] == expected["steps"]
    for key, value in expected["test"].items():
        assert got["test"][key] == pytest.approx(value, abs=0.02), key
