"""The exam a DICOM file's header declares: the body regions its scanner preset or procedure names.

A scanner writes what it was set up for into the header: Image Type's third value (the
standard's anatomy terms, e.g. ``OBSTETRICAL``, ``SMALL PARTS``, or a vendor's
``CARDIOLOGY``), Body Part Examined (``HEART``, ``BREAST``), the vendor preset in Processing
Function (``CARD_ADULT_GEN_CV``, ``OB_GENERAL``) and free-text procedure, protocol, study and
series descriptions (``ECHOCARDIOGRAM``). :func:`declared_exam` reads them in that order and
returns the regions the first recognised one allows. Exam routing (``engine.exams``) keeps the
model's exam only when its region is one of them, so a parasternal echo that the model takes for
a breast scan gets no breast findings.

Region names are those of the exam tree's first level (``abdomen``, ``breast``, ``cardiac``,
``obstetric``, ``vascular``) plus regions no bundled model knows (``pelvis``, ``small parts``,
``head``, ``eye``, ``musculoskeletal``), so a header naming those rules out every model exam.
Words that name no region (``PEDIATRIC``, ``GENERAL``, ``RADIOLOGY``) leave the exam to the model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# region -> (whole words, word beginnings) that name it; matched on upper-case words
REGION_WORDS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "cardiac": (
        ("TEE", "TTE", "HEART", "CV", "LV"),
        ("CARD", "ECHOCARD", "EPICARD", "TRANSESOPH", "TRANSTHOR"),
    ),
    "obstetric": (("OB", "OBS", "FETUS", "UTERUS"), ("OBSTET", "FETAL", "FOETAL", "NUCHAL")),
    "breast": (("BREAST", "BREASTS"), ("MAMM",)),
    "abdomen": (("ABD", "LIVER", "RENAL", "KIDNEY", "SPLEEN", "PANCREAS"), ("ABDOM", "GALLBL", "RETROPERIT")),
    "vascular": (("CAROTID", "VEIN", "VEINS", "DVT"), ("VASC", "ARTER", "VENOUS")),
    "pelvis": (("PELVIS", "OVARY", "PROSTATE", "BLADDER"), ("PELVI", "GYN", "ENDOVAG", "TRANSVAG")),
    "small parts": (("THYROID", "NECK", "TESTIS", "TESTES", "SCROTUM"), ("SMALLPART", "SCROT", "LYMPH")),
    "head": (("BRAIN", "TCD"), ("TRANSCRAN", "NEONATAL", "NEONAT")),
    "eye": (("EYE", "ORBIT"), ("OPHTHALM", "OCUL")),
    "musculoskeletal": (("MSK", "TENDON", "SHOULDER", "KNEE"), ("MUSCUL",)),
}
# regions a header word also allows: a uterus holds a pregnancy, small parts presets image the
# breast and superficial vessels, a fetal heart is both obstetric and cardiac (FETAL + HEART)
ALSO: Mapping[str, tuple[str, ...]] = {
    "small parts": ("breast", "vascular"),
    "pelvis": ("obstetric",),
}
# header fields in the order they are trusted: the first that names a region decides
FIELDS = (
    "ImageType",
    "BodyPartExamined",
    "ProcessingFunction",
    "ProtocolName",
    "PerformedProcedureStepDescription",
    "ProcedureCodeSequence",
    "PerformedProtocolCodeSequence",
    "StudyDescription",
    "SeriesDescription",
)
NAMES = {
    "ImageType": "Image Type",
    "BodyPartExamined": "Body Part Examined",
    "ProcessingFunction": "Processing Function",
    "ProtocolName": "Protocol Name",
    "PerformedProcedureStepDescription": "Performed Procedure Step Description",
    "ProcedureCodeSequence": "Procedure Code",
    "PerformedProtocolCodeSequence": "Performed Protocol Code",
    "StudyDescription": "Study Description",
    "SeriesDescription": "Series Description",
}


@dataclass(frozen=True)
class DeclaredExam:
    """The regions a header allows and where it says so.

    Attributes:
        regions: region names (the exam tree's first level, and regions no model knows).
        field: the header field's name ("Image Type").
        text: what it holds ("CARDIOLOGY").
    """

    regions: frozenset[str]
    field: str
    text: str

    def allows(self, region: str) -> bool:
        return region in self.regions

    def describe(self) -> str:
        """``"the file's Image Type (CARDIOLOGY) says cardiac"``."""
        return f"the file's {self.field} ({self.text}) says {' or '.join(sorted(self.regions))}"

    def as_dict(self) -> dict[str, object]:
        return {"regions": sorted(self.regions), "field": self.field, "text": self.text}


def regions_named(text: str) -> frozenset[str]:
    """The regions ``text`` names (upper-cased, split into words at anything but letters;
    ``SMALL PARTS`` is one word)."""
    words = re.findall(r"[A-Z]+", re.sub(r"SMALL[\s_-]*PART", "SMALLPART", text.upper()))
    found: set[str] = set()
    for region, (whole, starts) in REGION_WORDS.items():
        if any(w in whole or w.startswith(starts) for w in words):
            found.add(region)
            found.update(ALSO.get(region, ()))
    return frozenset(found)


def _texts(ds: Any, keyword: str) -> Iterable[str]:
    value = ds.get(keyword)
    if value is None or value == "":
        return ()
    if keyword == "ImageType":  # values 1-2 are ORIGINAL/DERIVED, PRIMARY/SECONDARY
        return [str(v) for v in list(value)[2:] if str(v).strip()] if not isinstance(value, str) else ()
    if keyword.endswith("Sequence"):
        return [str(item.get("CodeMeaning", "") or "") for item in value if item.get("CodeMeaning")]
    return [str(value)]


def declared_exam(ds: Any) -> DeclaredExam | None:
    """The regions the header of ``ds`` (a pydicom Dataset) declares, or None where it names none."""
    for keyword in FIELDS:
        for text in _texts(ds, keyword):
            regions = regions_named(text)
            if regions:
                return DeclaredExam(regions, NAMES[keyword], text.strip())
    return None
