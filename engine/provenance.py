"""Provenance shared by the app, the project store and training: who made an annotation."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Origin(StrEnum):
    """Where an annotation came from: a model's draft or a person's final word."""

    AI_DRAFT = "ai_draft"
    HUMAN_FINAL = "human_final"


@dataclass(frozen=True)
class ModelRef:
    """The exact model version that produced a result."""

    name: str
    version: str
    sha256: str = ""

    def label(self) -> str:
        return f"{self.name} v{self.version}"
