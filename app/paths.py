"""Where the app keeps its files: the user config and data folders (overridable for tests)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_DIR_NAME = "echocare-studio"


def _base(env_override: str, xdg: str, fallback: str, windows_env: str) -> Path:
    if os.environ.get(env_override):
        return Path(os.environ[env_override])
    if sys.platform == "win32" and os.environ.get(windows_env):
        return Path(os.environ[windows_env]) / APP_DIR_NAME
    return Path(os.environ.get(xdg) or Path.home() / fallback) / APP_DIR_NAME


def config_dir() -> Path:
    """The user config folder (``ECHOCARE_CONFIG_DIR`` overrides it)."""
    return _base("ECHOCARE_CONFIG_DIR", "XDG_CONFIG_HOME", ".config", "APPDATA")


def data_dir() -> Path:
    """The user data folder (``ECHOCARE_DATA_DIR`` overrides it)."""
    return _base("ECHOCARE_DATA_DIR", "XDG_DATA_HOME", ".local/share", "LOCALAPPDATA")


def default_project_dir() -> Path:
    """The project used when the user has not chosen one."""
    return data_dir() / "default-project"
