"""Atomic, resumable checkpoints: safetensors weights plus a ``weights_only``-safe training state.

Layout under ``RUN/checkpoints/``::

    step_00000120/model.safetensors   every tensor of the trained module's state_dict
    step_00000120/state.pt            optimiser, scheduler, AMP scaler, loop position, RNG states
    latest                            the name of the newest complete checkpoint folder

A checkpoint is written into a temporary folder, every file is fsynced, and the folder is
renamed into place before ``latest`` is replaced, so a crash at any moment leaves either the
old or the new checkpoint, never a torn one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import ConfigError, ModelError
from training.distributed import unwrap

if TYPE_CHECKING:
    import torch
    from torch import nn

WEIGHTS = "model.safetensors"
STATE = "state.pt"
LATEST = "latest"


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _complete(folder: Path) -> bool:
    return (folder / WEIGHTS).is_file() and (folder / STATE).is_file()


def weights_of(module: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of a module's state_dict with no shared storage (safetensors refuses sharing)."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in module.state_dict().items()}


def save_weights_atomic(
    tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None
) -> None:
    """Write a safetensors file through a temporary name, fsync and rename.

    Raises:
        ModelError: the file cannot be written (e.g. a full disk); an older ``path`` is kept
            and the temporary file removed.
    """
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(tmp), metadata=metadata)
        _fsync_path(tmp)
        tmp.replace(path)
        _fsync_path(path.parent)
    except (OSError, SafetensorError) as err:
        tmp.unlink(missing_ok=True)
        reason = getattr(err, "strerror", None) or str(err)
        raise ModelError(path, f"cannot write the weights ({reason})") from None


def write_text_atomic(path: Path, text: str) -> None:
    """Replace a small text file atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    _fsync_path(path.parent)


class Checkpointer:
    """Saves and finds the checkpoints of one run.

    Args:
        run_dir: the run folder; checkpoints go to ``run_dir/checkpoints``.
        keep: how many of the newest checkpoints to keep.
    """

    def __init__(self, run_dir: str | Path, keep: int = 2) -> None:
        self.root = Path(run_dir) / "checkpoints"
        self.keep = max(1, keep)

    def save(self, step: int, module: nn.Module, state: dict[str, Any]) -> Path:
        """Write one checkpoint atomically and prune old ones; returns its folder.

        A checkpoint of a step already saved (e.g. at an epoch end that is also a checkpoint
        step, then on cancel) replaces the old one only once it is complete: the old folder is
        moved aside first, so a kill at any moment leaves one of the two under ``latest``.

        Raises:
            ModelError: the checkpoint cannot be written (e.g. a full disk); the previous
                checkpoints are kept and nothing half-written is left.
        """
        import torch
        from safetensors import SafetensorError
        from safetensors.torch import save_file

        self.root.mkdir(parents=True, exist_ok=True)
        name = f"step_{step:08d}"
        final = self.root / name
        tmp = self.root / f".{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tmp.mkdir()
            save_file(weights_of(module), str(tmp / WEIGHTS))
            torch.save(state, tmp / STATE)
            for f in (tmp / WEIGHTS, tmp / STATE):
                _fsync_path(f)
            _fsync_path(tmp)
        except BaseException as err:
            # a half-written checkpoint (full disk, interrupt) must not keep its space
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(err, OSError | SafetensorError):
                reason = getattr(err, "strerror", None) or str(err)
                raise ModelError(final, f"cannot write the checkpoint ({reason})") from None
            raise
        old = self.root / f".{name}.old"
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            final.replace(old)
        tmp.replace(final)
        _fsync_path(self.root)
        write_text_atomic(self.root / LATEST, name + "\n")
        shutil.rmtree(old, ignore_errors=True)
        self._prune(keep=name)
        return final

    def _prune(self, keep: str) -> None:
        done = sorted(p for p in self.root.glob("step_*") if p.is_dir())
        for old in done[: -self.keep]:
            if old.name != keep:
                shutil.rmtree(old, ignore_errors=True)

    def latest(self) -> Path | None:
        """The checkpoint ``latest`` names, else the newest complete one, else None.

        ``latest`` is written only after its folder is in place, so it can name a missing
        folder only after a kill between moving a same-step checkpoint aside and renaming its
        replacement in; the moved-aside copy is then the newest complete checkpoint.
        """
        pointer = self.root / LATEST
        if pointer.is_file():
            path = self.root / pointer.read_text(encoding="utf-8").strip()
            if _complete(path):
                return path
        for old in self.root.glob(".step_*.old"):
            target = self.root / old.name.removeprefix(".").removesuffix(".old")
            if _complete(old) and not target.exists():
                old.replace(target)
        done = sorted((p for p in self.root.glob("step_*") if _complete(p)), reverse=True)
        return done[0] if done else None

    def load(self, path: Path, module: nn.Module) -> dict[str, Any]:
        """Load weights into ``module`` (strict) and return the training state.

        Raises:
            ModelError: a truncated or corrupt file, or a state file that would run code
                (refused; nothing in it runs).
            ConfigError: the checkpoint does not match the module built from the config.
        """
        from engine.checkpoint import read_state_dict

        tensors = read_state_dict(path / WEIGHTS)
        try:
            module.load_state_dict(tensors, strict=True)
        except RuntimeError as err:
            first = str(err).splitlines()[0]
            raise ConfigError(path, f"checkpoint does not match this config ({first})") from None
        return dict(read_state_dict(path / STATE, mmap=False))


def load_weights(path: str | Path, module: nn.Module, strict: bool = True) -> None:
    """Load a safetensors file (a checkpoint folder or a ``.safetensors`` file) into ``module``."""
    from safetensors.torch import load_file

    p = Path(path)
    if p.is_dir():
        p = p / WEIGHTS
    tensors = load_file(str(p))
    unwrap(module).load_state_dict(tensors, strict=strict)
