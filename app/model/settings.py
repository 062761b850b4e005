"""AppSettings: the user's preferences, saved as JSON in the user config folder."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from app.paths import config_dir
from engine.errors import ProjectError
from engine.net.nodes import DEFAULT_AE_TITLE, DEFAULT_PORT, Node, check_ae_title
from engine.project.atomic import write_atomic

SETTINGS_FILE = "settings.json"


@dataclass(frozen=True)
class AppSettings:
    """User preferences.

    Attributes:
        brush_radius: brush and eraser radius in pixels of the original frame.
        autosave_delay_ms: quiet time after an edit before the project is saved (at most 2000).
        playback_speed: default cine speed factor.
        playback_loop: restart the cine at its end.
        recent_files: most recent first.
        max_recent: how many recent files to keep.
        last_project: the project folder opened last ("" for the default project).
        dicom_nodes: the PACS and modalities the app talks to; their AE titles may send to the
            listener.
        listen_ae_title: our AE title, as the listener answers and queries call.
        listen_port: the listener's TCP port.
    """

    brush_radius: float = 8.0
    autosave_delay_ms: int = 1000
    playback_speed: float = 1.0
    playback_loop: bool = True
    recent_files: tuple[str, ...] = ()
    max_recent: int = 10
    last_project: str = ""
    dicom_nodes: tuple[Node, ...] = ()
    listen_ae_title: str = DEFAULT_AE_TITLE
    listen_port: int = DEFAULT_PORT

    def __post_init__(self) -> None:
        if not 0 < self.autosave_delay_ms <= 2000:
            raise ValueError("autosave_delay_ms must be in 1..2000")
        if self.brush_radius <= 0 or self.playback_speed <= 0:
            raise ValueError("brush radius and playback speed must be positive")
        check_ae_title(self.listen_ae_title, "listen_ae_title")
        if not 0 < self.listen_port < 65536:
            raise ValueError("listen_port must be in 1..65535")
        names = [n.name for n in self.dicom_nodes]
        if len(set(names)) != len(names):
            raise ValueError("two DICOM nodes share a name")

    def node_ae_titles(self) -> tuple[str, ...]:
        """The AE titles of the configured DIMSE nodes (those the listener accepts)."""
        return tuple(n.ae_title for n in self.dicom_nodes if not n.is_web)

    def with_recent(self, path: str) -> AppSettings:
        """A copy with ``path`` first in the recent files."""
        recent = (path, *(p for p in self.recent_files if p != path))
        return replace(self, recent_files=recent[: self.max_recent])


def settings_path() -> Path:
    return config_dir() / SETTINGS_FILE


def load_settings(path: Path | None = None) -> tuple[AppSettings, str]:
    """Read settings; a missing file gives the defaults.

    Returns:
        The settings and a one-line warning ("" when the file was fine) for the status bar.
    """
    path = path or settings_path()
    if not path.exists():
        return AppSettings(), ""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(AppSettings)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        if "recent_files" in raw:
            raw["recent_files"] = tuple(str(p) for p in raw["recent_files"])
        if "dicom_nodes" in raw:
            raw["dicom_nodes"] = tuple(Node.from_json(n) for n in raw["dicom_nodes"])
        return AppSettings(**raw), ""
    except (ValueError, TypeError) as err:
        return AppSettings(), f"{path}: settings ignored ({err})"


def save_settings(settings: AppSettings, path: Path | None = None) -> None:
    """Write settings atomically.

    Raises:
        ProjectError: the file cannot be written (a full disk, a folder without write access);
            the previous file is kept.
    """
    data = asdict(settings)
    data["recent_files"] = list(settings.recent_files)
    data["dicom_nodes"] = [n.to_json() for n in settings.dicom_nodes]
    target = path or settings_path()
    try:
        write_atomic(target, json.dumps(data, indent=2).encode("utf-8"))
    except OSError as err:
        raise ProjectError(target, f"cannot save the settings ({err.strerror or err})") from None
