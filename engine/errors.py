"""Errors the engine raises for bad input, each rendered as one line ``PATH: reason``."""

from __future__ import annotations

from pathlib import Path


class EchoCareError(Exception):
    """Base class of the errors a user can act on (bad file, bad model, bad config).

    Args:
        path: the file or folder the error is about, if any.
        reason: a short, human sentence without a trailing period.
    """

    def __init__(self, path: str | Path | None, reason: str) -> None:
        self.path = None if path is None else str(path)
        self.reason = reason
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message as the CLI and the app show it: ``PATH: reason``."""
        reason = " ".join(self.reason.split())
        return f"{self.path}: {reason}" if self.path else reason


class ReadError(EchoCareError):
    """A file or folder could not be read as ultrasound data."""


class UnsupportedError(ReadError):
    """The file is valid but uses something this reader cannot decode."""


class ModelError(EchoCareError):
    """A model or checkpoint is missing, mismatched, tampered with or unsafe."""


class ConfigError(EchoCareError):
    """A configuration file or argument is invalid."""


class TaskError(EchoCareError):
    """A task was asked for that the model or the input cannot serve."""


class ProjectError(EchoCareError):
    """A project folder or its database cannot be opened or written."""


class NetworkError(EchoCareError):
    """A DICOM node could not be reached, refused a request or answered with a failure."""
