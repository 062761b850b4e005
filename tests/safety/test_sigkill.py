"""SIGKILL during each of the four writes loses no completed save and leaves no corrupt file.

Each test kills a writer process at random moments several times (it resumes after each kill),
then checks that every save it acknowledged opens intact and that nothing half-written is visible.
"""

from __future__ import annotations

import itertools
import random
import sqlite3

import numpy as np
import pytest
from kill_harness import kill_during_writes
from safety_writers import plane

ROUNDS = 4
TORCH_ROUNDS = 3  # the torch writers take seconds to start


@pytest.fixture
def rng(request):
    return random.Random(request.node.name)


def _resumed(acked):
    """Each round went on after the last completed save (one unacknowledged save may sit between)."""
    steps = [b - a for a, b in itertools.pairwise(acked)]
    assert acked[0] == 0 and all(0 < step <= 2 for step in steps), f"acknowledged saves out of order: {acked}"
    return True


def _assert_database_intact(path):
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_sigkill_during_project_save(tmp_path, rng):
    from engine.project import ProjectStore

    acked = kill_during_writes("project", tmp_path, ROUNDS, rng)
    assert len(acked) >= ROUNDS and _resumed(acked)
    _assert_database_intact(tmp_path / "proj" / "project.sqlite")
    store = ProjectStore(tmp_path / "proj")
    (study,) = store.studies()
    ids = [a.id for a in store.annotations(study.id)]
    last = len(ids) - 1
    assert last in (acked[-1], acked[-1] + 1)  # the kill may land after a commit, before its ack
    assert ids == [f"a{i}" for i in range(last + 1)]
    masks = store.masks(study.id)
    for n in range(last + 1):
        np.testing.assert_array_equal(masks[n].plane, plane(n))
    store.close()


def test_sigkill_during_autosave(tmp_path, rng):
    from engine.project import ProjectStore

    acked = kill_during_writes("autosave", tmp_path, ROUNDS, rng)
    assert len(acked) >= ROUNDS and _resumed(acked)
    _assert_database_intact(tmp_path / "proj" / "project.sqlite")
    store = ProjectStore(tmp_path / "proj")
    (study,) = store.studies()
    points = {a.id: a.data["points"] for a in store.annotations(study.id)}
    last = len(points) - 1
    assert last in (acked[-1], acked[-1] + 1)
    assert points == {f"a{n}": [[float(n), float(n)]] for n in range(last + 1)}
    store.close()


def test_sigkill_during_model_import(tmp_path, rng, monkeypatch):
    monkeypatch.setenv("ECHOCARE_HOME", str(tmp_path / "home"))
    from safetensors.torch import load_file

    from engine import model_store
    from engine.model_card import read_card

    acked = kill_during_writes("model", tmp_path, TORCH_ROUNDS, rng)
    assert len(acked) >= TORCH_ROUNDS and len(set(acked)) == len(acked)
    versions = model_store._versions("tiny")
    assert set(map(str, acked)) <= set(versions)
    import torch

    source = {
        f"encoder.{k}": v for k, v in torch.load(tmp_path / "tiny_encoder.pth", weights_only=True).items()
    }
    for version in versions:  # every visible version is complete: card, weights, matching sha256
        folder = model_store.user_root() / "tiny" / version
        weights = model_store.read_weights(folder, read_card(folder))
        assert weights.keys() == source.keys()
        for key, tensor in source.items():
            torch.testing.assert_close(weights[key], tensor)
    assert model_store.active_version("tiny") in versions
    folder, card = model_store.locate("tiny")
    assert load_file(str(folder / "model.safetensors")).keys() == source.keys() and card.name == "tiny"


def test_sigkill_during_training_checkpoint(tmp_path, rng):
    import torch
    from torch import nn

    from training.checkpointing import Checkpointer

    acked = kill_during_writes("checkpoint", tmp_path, TORCH_ROUNDS, rng)
    assert len(acked) >= TORCH_ROUNDS and _resumed(acked)
    saver = Checkpointer(tmp_path / "run", keep=100_000)
    latest = saver.latest()
    assert latest is not None and int(latest.name.split("_")[1]) >= acked[-1]
    steps = sorted(p for p in (tmp_path / "run" / "checkpoints").glob("step_*"))
    assert {f"step_{n:08d}" for n in acked} <= {p.name for p in steps}
    for folder in steps:  # every complete-named checkpoint loads, with the weights of its step
        n = int(folder.name.split("_")[1])
        module = nn.Linear(64, 64)
        state = saver.load(folder, module)
        assert state["step"] == n
        assert torch.all(module.weight == float(n))
