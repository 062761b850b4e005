"""Local model versions: bundled read-only models plus a per-user store.

Layout::

    resources/models/<name>/{card.json, model.safetensors}          bundled, read-only
    <user root>/<name>/<version>/{card.json, model.safetensors}     one immutable folder per version
    <user root>/<name>/active                                        the active version (text)

The user root is ``$ECHOCARE_HOME/models`` when ``ECHOCARE_HOME`` is set, else the platform's
per-user data folder (``$XDG_DATA_HOME/echocare-studio/models`` on Linux). Versions are written
to a temporary folder, fsynced and renamed into place, so a crash never leaves half a version,
and an existing version is never overwritten. The weights' sha256 is checked on every load.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from engine.errors import ModelError
from engine.model_card import CARD_FILE, WEIGHTS_FILE, ModelCard, read_card

ACTIVE_FILE = "active"
BUNDLED_ROOT = Path(__file__).resolve().parents[1] / "resources" / "models"


def _linux_data() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def _mac_data() -> Path:
    return Path.home() / "Library" / "Application Support"


def _windows_data() -> Path:
    return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")


_DATA_DIRS: dict[str, Callable[[], Path]] = {"darwin": _mac_data, "win32": _windows_data}


def user_root() -> Path:
    """The per-user model store folder (not created)."""
    home = os.environ.get("ECHOCARE_HOME")
    if home:
        return Path(home) / "models"
    return _DATA_DIRS.get(sys.platform, _linux_data)() / "echocare-studio" / "models"


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (sys.maxsize, version)


def _versions(name: str) -> list[str]:
    folder = user_root() / name
    if not folder.is_dir():
        return []
    found = [p.name for p in folder.iterdir() if (p / CARD_FILE).is_file() and not p.name.startswith(".")]
    return sorted(found, key=_version_key)


def list_cards() -> list[ModelCard]:
    """Cards of every bundled model and every user version, bundled first."""
    cards = [read_card(p.parent) for p in sorted(BUNDLED_ROOT.glob(f"*/{CARD_FILE}"))]
    root = user_root()
    if root.is_dir():
        for name in sorted(p.name for p in root.iterdir() if p.is_dir()):
            cards.extend(read_card(root / name / v) for v in _versions(name))
    return cards


def active_version(name: str) -> str | None:
    """The active user version of ``name``: the pointer if set, else the newest; None if none."""
    pointer = user_root() / name / ACTIVE_FILE
    if pointer.is_file():
        version = pointer.read_text(encoding="utf-8").strip()
        if version in _versions(name):
            return version
    versions = _versions(name)
    return versions[-1] if versions else None


def locate(name_or_dir: str | Path) -> tuple[Path, ModelCard]:
    """Find a model version folder and read its card.

    Args:
        name_or_dir: a version folder, ``name@version``, or a name (its active user version,
            else the bundled model of that name).

    Raises:
        ModelError: nothing by that name or in that folder.
    """
    path = Path(name_or_dir)
    if (path / CARD_FILE).is_file():
        return path, read_card(path)
    name, _, asked = str(name_or_dir).partition("@")
    version = asked or active_version(name)
    if version and (user_root() / name / version / CARD_FILE).is_file():
        folder = user_root() / name / version
        return folder, read_card(folder)
    bundled = BUNDLED_ROOT / name
    if (bundled / CARD_FILE).is_file():
        card = read_card(bundled)
        if not asked or card.version == asked:
            return bundled, card
    raise ModelError(name_or_dir, "no such model in the store (see `echocare models list`)")


def read_weights(folder: Path, card: ModelCard) -> dict:
    """Read a version's weights after checking their sha256 against the card.

    Returns:
        ``{key: torch.Tensor}`` on the CPU.

    Raises:
        ModelError: the file is missing, or its sha256 differs from the card's (tampered).
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = folder / WEIGHTS_FILE
    if not path.is_file():
        raise ModelError(path, "weights file is missing")
    if card.weights_sha256 and sha256_file(path) != card.weights_sha256:
        raise ModelError(path, "sha256 differs from the model card; the file was changed, refusing to load")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise ModelError(path, f"cannot read weights ({err})") from None


def _fsync_write(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    if hasattr(os, "O_DIRECTORY"):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def next_version(name: str) -> str:
    """The version number a new version of ``name`` gets."""
    numbers = [int(v) for v in _versions(name) if v.isdigit()]
    return str(max(numbers, default=0) + 1)


def save_version(card: ModelCard, state: Mapping[str, object], *, activate: bool = True) -> ModelCard:
    """Write a new immutable version atomically.

    Args:
        card: the card to store; ``version`` empty means "next free number". ``weights_sha256``
            is filled in here.
        state: ``{key: torch.Tensor}`` to store as safetensors.
        activate: make the new version the active one.

    Returns:
        the stored card.

    Raises:
        ModelError: that version already exists or the store cannot be written.
    """
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    name_dir = user_root() / card.name
    version = card.version or next_version(card.name)
    final = name_dir / version
    if final.exists():
        raise ModelError(final, "this model version already exists; versions are immutable")
    name_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=name_dir))
    try:
        weights = tmp / WEIGHTS_FILE
        save_file({k: _own(v) for k, v in state.items()}, str(weights), metadata={"format": "pt"})
        with weights.open("rb+") as fh:
            os.fsync(fh.fileno())
        card = replace(card, model=replace(card.model, version=version), weights_sha256=sha256_file(weights))
        _fsync_write(tmp / CARD_FILE, card.to_json().encode("utf-8"))
        _fsync_dir(tmp)
        tmp.rename(final)
        _fsync_dir(name_dir)
    except (OSError, SafetensorError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise ModelError(final, f"cannot write the model version ({reason})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if activate:
        activate_version(card.name, version)
    return card


def _own(tensor: object) -> object:
    """A contiguous tensor with its own storage (safetensors refuses shared or strided ones)."""
    t = tensor.detach().contiguous()  # type: ignore[attr-defined]
    return t.clone() if t.untyped_storage().nbytes() != t.numel() * t.element_size() else t


def activate_version(name: str, version: str) -> None:
    """Make ``version`` the active version of ``name`` (atomic pointer update)."""
    if version not in _versions(name):
        raise ModelError(user_root() / name / version, "no such model version")
    pointer = user_root() / name / ACTIVE_FILE
    tmp = pointer.with_name(f".{ACTIVE_FILE}.tmp")
    _fsync_write(tmp, f"{version}\n".encode())
    tmp.replace(pointer)


def rollback(name: str) -> str:
    """Activate the parent of the active version (else the previous version); returns it.

    Raises:
        ModelError: there is nothing to roll back to.
    """
    current = active_version(name)
    versions = _versions(name)
    if current is None:
        raise ModelError(user_root() / name, "no versions to roll back")
    parent = read_card(user_root() / name / current).lineage.parent
    older = [v for v in versions if _version_key(v) < _version_key(current)]
    target = parent if parent in versions else (older[-1] if older else None)
    if target is None:
        raise ModelError(user_root() / name / current, "no earlier version to roll back to")
    activate_version(name, target)
    return target


def remove_version(name: str, version: str | None = None) -> list[str]:
    """Delete one user version (or every version of ``name``); returns what was removed.

    Raises:
        ModelError: the model is bundled (read-only) or the version does not exist.
    """
    versions = _versions(name)
    if not versions:
        reason = "bundled models are read-only" if (BUNDLED_ROOT / name).is_dir() else "no such model"
        raise ModelError(name, reason)
    targets = versions if version is None else [version]
    if version is not None and version not in versions:
        raise ModelError(f"{name}@{version}", "no such model version")
    for v in targets:
        shutil.rmtree(user_root() / name / v)
    pointer = user_root() / name / ACTIVE_FILE
    if pointer.is_file() and pointer.read_text(encoding="utf-8").strip() in targets:
        pointer.unlink()
    if not _versions(name):
        shutil.rmtree(user_root() / name, ignore_errors=True)
    return targets
