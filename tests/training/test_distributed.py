"""Two processes under torchrun (gloo on CPU): the loss falls and rank 0's checkpoint loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from training.checkpointing import Checkpointer
from training.config import load_pretrain_cfg
from training.data.frames import FRAME_SOURCES
from training.data.splits import split_items
from training.data.tree import LabelTree
from training.ssl.pretrain import VAL_SPLIT, build_pretrainer


def test_torchrun_two_processes_on_cpu(image_tree, tmp_path):
    out = tmp_path / "run"
    config = tmp_path / "pretrain.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "arch": "echocare_test",
                "input_size": [64, 64],
                "data": {"source": "folders", "paths": [str(image_tree)], "frames_per_cine": 1},
                "tree": {"source": "folders", "levels": ["region", "organ", "probe"]},
                "mim": {"mask_unit": 16},
                "optim": {"lr": 0.002, "batch_size": 4, "weight_decay": 0.0},
                "run": {"out_dir": str(out), "epochs": 4, "device": "cpu", "checkpoint_every": 5},
            }
        )
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    cmd += ["-m", "training", "pretrain", "--config", str(config), "--quiet"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])  # printed by rank 0 only
    assert summary["status"] == "finished"

    # each rank sees its own half of the training split per epoch
    cfg = load_pretrain_cfg(config)
    refs, _ = FRAME_SOURCES.get("folders")(cfg)
    n_train = len(split_items(refs, lambda r: r.patient, VAL_SPLIT)["train"])
    steps = 4 * (n_train // 2 // 4)
    assert summary["steps"] == steps
    epochs = [json.loads(ln) for ln in (out / "log.jsonl").read_text().splitlines() if "epoch_end" in ln]
    assert len(epochs) == 4
    assert epochs[-1]["train_recon"] < 0.8 * epochs[0]["train_recon"]
    assert epochs[-1]["val_loss"] < epochs[0]["val_loss"]

    # rank 0 wrote the checkpoint; it loads into a module built from the same config
    tree = LabelTree.from_paths(cfg.tree.levels, [r.labels for r in refs])
    ckpt = Checkpointer(out)
    latest = ckpt.latest()
    assert latest is not None and latest.name == f"step_{steps:08d}"
    state = ckpt.load(latest, build_pretrainer(cfg, tree, total_steps=1))
    assert state["loop"]["step"] == steps
