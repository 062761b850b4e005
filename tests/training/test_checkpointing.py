"""Checkpoint folders: a step saved twice, and a kill in the middle of replacing it."""

from __future__ import annotations

import torch
from torch import nn

from training.checkpointing import LATEST, Checkpointer


def _module(value: float) -> nn.Linear:
    module = nn.Linear(4, 4)
    with torch.no_grad():
        module.weight.fill_(value)
    return module


def _weight(saver: Checkpointer) -> float:
    latest = saver.latest()
    assert latest is not None
    into = nn.Linear(4, 4)
    saver.load(latest, into)
    return float(into.weight.detach()[0, 0])


def test_saving_a_step_again_replaces_it_and_leaves_nothing_aside(tmp_path):
    saver = Checkpointer(tmp_path / "run")
    saver.save(3, _module(1.0), {"step": 3})
    saver.save(3, _module(2.0), {"step": 3, "again": True})
    assert _weight(saver) == 2.0
    assert saver.load(saver.latest(), nn.Linear(4, 4))["again"] is True
    assert sorted(p.name for p in saver.root.iterdir()) == [LATEST, "step_00000003"]


def test_a_kill_while_a_step_is_replaced_keeps_the_old_copy(tmp_path):
    saver = Checkpointer(tmp_path / "run")
    saver.save(2, _module(1.0), {"step": 2})
    saver.save(3, _module(3.0), {"step": 3})
    # the state a kill leaves between moving step 3 aside and renaming its replacement in
    (saver.root / "step_00000003").replace(saver.root / ".step_00000003.old")
    latest = saver.latest()
    assert latest is not None and latest.name == "step_00000003"
    assert _weight(saver) == 3.0
    assert not (saver.root / ".step_00000003.old").exists()


def test_without_the_latest_pointer_the_newest_complete_step_is_used(tmp_path):
    saver = Checkpointer(tmp_path / "run")
    saver.save(1, _module(1.0), {"step": 1})
    saver.save(2, _module(2.0), {"step": 2})
    (saver.root / LATEST).unlink()  # a kill after the folder's rename, before the pointer's
    (saver.root / "step_00000003").mkdir()  # an incomplete folder is never chosen
    assert saver.latest().name == "step_00000002"
    assert _weight(saver) == 2.0
