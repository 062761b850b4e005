"""A full disk gives a clear error and leaves what was saved before intact.

The disk is a real, tiny tmpfs mounted for the test (so SQLite, safetensors and torch all meet a
genuine ENOSPC); a filler file takes the remaining space just before the failing write.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import uuid

import numpy as np
import pytest

from engine.errors import ModelError


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs; the test fails (not skips) where it cannot be mounted, so CI must run as root."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk):
    """Take every free byte of ``disk`` (delete its ``filler-*`` files to free the space)."""
    for block in (65536, 1):
        fd = os.open(disk / f"filler-{uuid.uuid4().hex}", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\xff" * block)
        except OSError as err:
            assert err.errno == errno.ENOSPC
        finally:
            os.close(fd)


def _records(n):
    from engine.project.records import AnnotationRecord

    return [AnnotationRecord(f"a{i}", "landmark", 0, 0, {"points": [[i, i]]}) for i in range(n)]


def _full_project(disk):
    """A project with three saved annotations, on a disk that is now full."""
    from engine.project import ProjectStore

    store = ProjectStore(disk / "proj")
    study = store.add_study(disk / "clip.npy", 4, 256, 256)
    store.save_study(study.id, _records(3))
    fill(disk)
    return store, study


def _save_big(store, study):
    from engine.project.records import MaskRecord

    noise = np.random.default_rng(0).integers(0, 255, (1024, 1024), dtype=np.uint8)
    store.save_study(study.id, _records(50), {0: MaskRecord(0, noise)})


def test_project_save_on_a_full_disk_leaves_the_project_intact(small_disk):
    from engine.project import ProjectStore

    store, study = _full_project(small_disk)
    with pytest.raises(Exception, match="full"):
        _save_big(store, study)
    for path in small_disk.glob("filler-*"):
        path.unlink()
    store.close()
    with sqlite3.connect(small_disk / "proj" / "project.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again = ProjectStore(small_disk / "proj")
    assert [a.id for a in again.annotations(study.id)] == ["a0", "a1", "a2"]
    assert again.masks(study.id) == {}
    again.close()


def test_project_save_on_a_full_disk_is_a_one_line_project_error(small_disk):
    from engine.errors import ProjectError

    store, study = _full_project(small_disk)
    with pytest.raises(ProjectError) as raised:
        _save_big(store, study)
    assert "\n" not in str(raised.value) and "full" in str(raised.value)


def test_atomic_write_on_a_full_disk_keeps_the_old_file(small_disk):
    from engine.project.atomic import write_atomic

    target = small_disk / "settings.json"
    write_atomic(target, b'{"old": true}')
    fill(small_disk)
    with pytest.raises(OSError) as raised:
        write_atomic(target, b"x" * 1_000_000)
    assert raised.value.errno == errno.ENOSPC
    assert target.read_bytes() == b'{"old": true}'
    assert not list(small_disk.glob(".settings.json.*"))  # no temporary file left behind


def _full_store(disk, monkeypatch):
    import torch

    from engine import model_store
    from engine.config import ModelCfg
    from engine.model_card import ModelCard

    monkeypatch.setenv("ECHOCARE_HOME", str(disk / "home"))
    card = ModelCard(ModelCfg(name="m", arch="echocare_test", version="", input_size=(64, 64), in_chans=1))
    first = model_store.save_version(card, {"w": torch.ones(16, 16)})
    fill(disk)
    return card, first


def test_model_store_on_a_full_disk_keeps_earlier_versions(small_disk, monkeypatch):
    import torch

    from engine import model_store
    from engine.model_card import read_card

    card, first = _full_store(small_disk, monkeypatch)
    with pytest.raises(Exception, match="No space left on device"):
        model_store.save_version(card, {"w": torch.zeros(512, 512)})
    assert model_store._versions("m") == [first.version]
    assert not [p for p in (model_store.user_root() / "m").iterdir() if p.name.startswith(".tmp")]
    folder = model_store.user_root() / "m" / first.version
    torch.testing.assert_close(model_store.read_weights(folder, read_card(folder))["w"], torch.ones(16, 16))
    assert model_store.active_version("m") == first.version


def test_model_store_on_a_full_disk_is_a_one_line_model_error(small_disk, monkeypatch):
    import torch

    from engine import model_store

    card, _ = _full_store(small_disk, monkeypatch)
    with pytest.raises(ModelError, match="cannot write the model version"):
        model_store.save_version(card, {"w": torch.zeros(512, 512)})


def test_training_checkpoint_on_a_full_disk_keeps_the_last_checkpoint(small_disk):
    import torch
    from torch import nn

    from training.checkpointing import Checkpointer

    saver = Checkpointer(small_disk / "run", keep=5)
    module = nn.Linear(8, 8)
    with torch.no_grad():
        module.weight.fill_(1.0)
    saver.save(1, module, {"step": 1})
    fill(small_disk)
    big = nn.Linear(1024, 1024)
    with pytest.raises(ModelError, match=r"cannot write the checkpoint .*No space left on device") as raised:
        saver.save(2, big, {"step": 2})
    assert "step_00000002" in str(raised.value) and "\n" not in str(raised.value)
    latest = saver.latest()
    assert latest is not None and latest.name == "step_00000001"
    loaded = nn.Linear(8, 8)
    assert saver.load(latest, loaded)["step"] == 1
    assert torch.all(loaded.weight == 1.0)
    assert not (small_disk / "run" / "checkpoints" / "step_00000002").exists()


def test_training_checkpoint_on_a_full_disk_leaves_no_temporary_folder(small_disk):
    from torch import nn

    from training.checkpointing import Checkpointer

    saver = Checkpointer(small_disk / "run", keep=5)
    saver.save(1, nn.Linear(8, 8), {"step": 1})
    fill(small_disk)
    with pytest.raises(ModelError, match="No space left on device"):
        saver.save(2, nn.Linear(1024, 1024), {"step": 2})
    assert sorted(p.name for p in (small_disk / "run" / "checkpoints").iterdir()) == [
        "latest",
        "step_00000001",
    ]
