"""What a study query asks (``StudyQuery``) and what a PACS answers (``StudyRow``, ``SeriesRow``).

One query reads as a DIMSE C-FIND identifier (``identifier``) and as QIDO-RS search filters
(``qido_filters``); an answer, from a C-FIND response or a QIDO-RS JSON object, is read into the
same rows (``study_row``, ``series_row``), so both protocols print the same table.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from engine.errors import ConfigError

_DATE = re.compile(r"^\d{8}$")


@dataclass(frozen=True)
class StudyQuery:
    """Study-level filters; empty fields match anything.

    Attributes:
        patient_id: exact, or with the wildcards ``*`` and ``?``.
        patient_name: DICOM PN, wildcards allowed (``DOE^*``).
        date_from, date_to: the study date range, YYYYMMDD, either end open.
        accession: the accession number.
        modality: a modality in the study (``US``).
        study_uid: one study.
    """

    patient_id: str = ""
    patient_name: str = ""
    date_from: str = ""
    date_to: str = ""
    accession: str = ""
    modality: str = ""
    study_uid: str = ""

    def __post_init__(self) -> None:
        for name in ("date_from", "date_to"):
            value = getattr(self, name)
            if value and not _DATE.match(value):
                raise ConfigError(None, f"{name.replace('_', ' ')} {value!r} is not a date YYYYMMDD")

    def date_range(self) -> str:
        """The DICOM date range (``A-B``, ``A-``, ``-B``, or "")."""
        if not self.date_from and not self.date_to:
            return ""
        if self.date_from == self.date_to:
            return self.date_from
        return f"{self.date_from}-{self.date_to}"

    def identifier(self) -> Any:
        """The C-FIND identifier at study level: the filters, and the keys the table shows."""
        from pydicom.dataset import Dataset

        ds = Dataset()
        ds.QueryRetrieveLevel = "STUDY"
        ds.PatientID = self.patient_id
        ds.PatientName = self.patient_name
        ds.StudyDate = self.date_range()
        ds.AccessionNumber = self.accession
        ds.ModalitiesInStudy = self.modality
        ds.StudyInstanceUID = self.study_uid
        for keyword in ("StudyTime", "StudyDescription", "NumberOfStudyRelatedSeries"):
            setattr(ds, keyword, "")
        ds.NumberOfStudyRelatedInstances = ""
        return ds

    def qido_filters(self) -> dict[str, str]:
        """The same filters as QIDO-RS query parameters."""
        filters = {
            "PatientID": self.patient_id,
            "PatientName": self.patient_name,
            "StudyDate": self.date_range(),
            "AccessionNumber": self.accession,
            "ModalitiesInStudy": self.modality,
            "StudyInstanceUID": self.study_uid,
        }
        return {k: v for k, v in filters.items() if v}


@dataclass(frozen=True)
class StudyRow:
    """One study a PACS holds."""

    study_uid: str
    patient_id: str = ""
    patient_name: str = ""
    date: str = ""
    accession: str = ""
    modalities: str = ""
    description: str = ""
    series: int | None = None
    instances: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SeriesRow:
    """One series of a study."""

    series_uid: str
    modality: str = ""
    number: str = ""
    description: str = ""
    instances: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _text(ds: Any, keyword: str) -> str:
    value = ds.get(keyword, "")
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def _count(ds: Any, keyword: str) -> int | None:
    text = _text(ds, keyword).strip()
    return int(text) if text.isdigit() else None


def as_dataset(answer: Any) -> Any:
    """A pydicom Dataset from a C-FIND identifier (already one) or a QIDO-RS JSON object."""
    if isinstance(answer, dict):
        from pydicom.dataset import Dataset

        return Dataset.from_json(answer)
    return answer


def study_row(answer: Any) -> StudyRow:
    ds = as_dataset(answer)
    return StudyRow(
        study_uid=_text(ds, "StudyInstanceUID"),
        patient_id=_text(ds, "PatientID"),
        patient_name=_text(ds, "PatientName"),
        date=_text(ds, "StudyDate"),
        accession=_text(ds, "AccessionNumber"),
        modalities=_text(ds, "ModalitiesInStudy"),
        description=_text(ds, "StudyDescription"),
        series=_count(ds, "NumberOfStudyRelatedSeries"),
        instances=_count(ds, "NumberOfStudyRelatedInstances"),
    )


def series_row(answer: Any) -> SeriesRow:
    ds = as_dataset(answer)
    return SeriesRow(
        series_uid=_text(ds, "SeriesInstanceUID"),
        modality=_text(ds, "Modality"),
        number=_text(ds, "SeriesNumber"),
        description=_text(ds, "SeriesDescription"),
        instances=_count(ds, "NumberOfSeriesRelatedInstances"),
    )


def series_identifier(study_uid: str) -> Any:
    """The C-FIND identifier at series level for one study."""
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.QueryRetrieveLevel = "SERIES"
    ds.StudyInstanceUID = study_uid
    for keyword in ("SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription"):
        setattr(ds, keyword, "")
    ds.NumberOfSeriesRelatedInstances = ""
    return ds


def table(rows: list[StudyRow]) -> list[str]:
    """The rows as an aligned text table (header first)."""
    header = (
        "Date",
        "Patient ID",
        "Patient name",
        "Accession",
        "Mod",
        "Ser",
        "Inst",
        "Description",
        "Study UID",
    )
    cells = [header] + [
        (
            r.date, r.patient_id, r.patient_name, r.accession, r.modalities,
            "" if r.series is None else str(r.series), "" if r.instances is None else str(r.instances),
            r.description, r.study_uid,
        )
        for r in rows
    ]  # fmt: skip
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    return ["  ".join(c[i].ljust(widths[i]) for i in range(len(header))).rstrip() for c in cells]
