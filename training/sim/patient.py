"""Synthetic patients: the identity burned into simulated images and written into DICOM headers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PatientInfo:
    """A made-up patient; every field is synthetic.

    Attributes:
        name: DICOM person name, e.g. ``"SIMULATED^CARDIAC"``.
        patient_id: the ID shown on screen and in the header.
        birth_date: ``YYYYMMDD``.
        sex: ``"F"``, ``"M"`` or ``"O"``.
        study_date: ``YYYYMMDD``.
        study_time: ``HHMMSS``.
        institution: a fictitious site name.
    """

    name: str = "SIMULATED^PATIENT"
    patient_id: str = "SIM-000000"
    birth_date: str = "19700101"
    sex: str = "O"
    study_date: str = "20260101"
    study_time: str = "090000"
    institution: str = "ECHOCARE SIM SITE"

    def screen_lines(self) -> tuple[str, ...]:
        """The lines an ultrasound system burns into the top-left corner."""
        name = self.name.replace("^", " ")
        date = f"{self.study_date[:4]}-{self.study_date[4:6]}-{self.study_date[6:]}"
        time = f"{self.study_time[:2]}:{self.study_time[2:4]}"
        return (name, f"ID {self.patient_id}", f"{date} {time}")


def synthetic_patient(tag: str, rng: np.random.Generator) -> PatientInfo:
    """A deterministic synthetic patient named after a scene, e.g. ``SIMULATED^CARDIAC``.

    Args:
        tag: the second name component (upper-cased).
        rng: the random source for ID and dates.
    """
    year = int(rng.integers(1950, 2001))
    month, day = int(rng.integers(1, 13)), int(rng.integers(1, 29))
    s_month, s_day = int(rng.integers(1, 13)), int(rng.integers(1, 29))
    hour, minute = int(rng.integers(8, 18)), int(rng.integers(0, 60))
    return PatientInfo(
        name=f"SIMULATED^{tag.upper()}",
        patient_id=f"SIM-{int(rng.integers(0, 1_000_000)):06d}",
        birth_date=f"{year:04d}{month:02d}{day:02d}",
        sex=("F", "M", "O")[int(rng.integers(0, 3))],
        study_date=f"2026{s_month:02d}{s_day:02d}",
        study_time=f"{hour:02d}{minute:02d}00",
    )
