"""Child processes that write one kind of file over and over, for the SIGKILL tests.

Usage: python safety_writers.py KIND FOLDER

After each completed save the writer prints ``saved N`` (flushed), so the parent knows which
saves it may expect to find intact after it kills the process at a random moment. Kinds:

* ``project``: ``ProjectStore.save_study`` with N+1 annotations and a mask plane per save.
* ``autosave``: edits a document and saves it through the app's ``AutosaveController``.
* ``model``: ``import_checkpoint`` of a tiny encoder into the user model store.
* ``checkpoint``: ``training.checkpointing.Checkpointer.save`` of a small module at step N.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

ROWS, COLUMNS = 48, 64


def plane(n: int) -> np.ndarray:
    """The mask plane written by save ``n`` (distinct per save)."""
    out = np.zeros((ROWS, COLUMNS), dtype=np.uint8)
    out[: (n % ROWS) + 1, : (n % COLUMNS) + 1] = 1 + n % 7
    return out


def _ack(n: int) -> None:
    sys.stdout.write(f"saved {n}\n")
    sys.stdout.flush()


def project(folder: Path) -> None:
    from engine.project import ProjectStore
    from engine.project.records import AnnotationRecord, MaskRecord

    store = ProjectStore(folder / "proj")
    study = store.add_study(folder / "clip.npy", 10, ROWS, COLUMNS)
    n = len(store.annotations(study.id))  # resume after the last completed save
    while True:
        records = [
            AnnotationRecord(f"a{i}", "landmark", i % 10, 0, {"points": [[i, i]]}) for i in range(n + 1)
        ]
        store.save_study(study.id, records, {n: MaskRecord(n, plane(n))})
        _ack(n)
        n += 1


def autosave(folder: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication

    from app.model import commands
    from app.model.annotations import Annotation
    from app.model.session import Session
    from app.qt.autosave import AutosaveController
    from engine.io.memory import ArrayCine
    from engine.project import ProjectStore

    app = QCoreApplication([])  # noqa: F841 - the controller's timers need an application
    frames = np.zeros((10, ROWS, COLUMNS), dtype=np.uint8)
    session = Session(ProjectStore(folder / "proj"), lambda path: ArrayCine(frames, path=str(path)))
    doc = session.open_path(folder / "clip.npy")
    controller = AutosaveController(session, delay_ms=10_000)
    controller.bind(doc)
    n = len(doc.annotations)  # resume after the last completed save
    while True:
        doc.apply(commands.add(Annotation("landmark", n % 10, 0, ((n, n),), id=f"a{n}")))
        controller.save_now()
        _ack(n)
        n += 1


def model(folder: Path) -> None:
    import torch

    from engine.factory import create_encoder
    from engine.model_import import import_checkpoint

    torch.manual_seed(0)
    source = folder / "tiny_encoder.pth"
    torch.save(create_encoder("echocare_test").state_dict(), source)
    while True:
        stored = import_checkpoint(source, name="tiny", arch="echocare_test")
        _ack(int(stored.card.version))


def checkpoint(folder: Path) -> None:
    import torch
    from torch import nn

    from training.checkpointing import Checkpointer

    module = nn.Linear(64, 64)
    saver = Checkpointer(folder / "run", keep=100_000)
    latest = saver.latest()
    n = int(latest.name.split("_")[1]) + 1 if latest else 0
    while True:
        with torch.no_grad():
            module.weight.fill_(float(n))
        saver.save(n, module, {"step": n, "loss": [float(n)] * 100})
        _ack(n)
        n += 1


KINDS = {"project": project, "autosave": autosave, "model": model, "checkpoint": checkpoint}

if __name__ == "__main__":
    KINDS[sys.argv[1]](Path(sys.argv[2]))
