"""Coded concepts for the label schema (SNOMED CT via pydicom's code dictionary)."""

from __future__ import annotations

from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

ALIASES = {
    "lv": "LeftVentricle",
    "rv": "RightVentricle",
    "la": "LeftAtrium",
    "ra": "RightAtrium",
    "myocardium": "LeftVentricleMyocardium",
    "lvmyocardium": "LeftVentricleMyocardium",
    "myo": "LeftVentricleMyocardium",
    "vessel": "BloodVessel",
    "fetalhead": "Head",
}
ABNORMAL = {"Lesion", "Mass", "Tumor", "Neoplasm", "Cyst", "Nodule", "Plaque", "PleuralEffusion"}


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", " ").replace("-", " ").split())


def label_codes(name: str) -> tuple[Code, Code]:
    """(segmented property category, segmented property type) for a label name.

    Known structures get their SNOMED CT code ("LV" -> Left ventricle, "lesion" -> Lesion);
    others are coded as Tissue, and their name stays in the segment label.
    """
    key = "".join(c for c in name.lower() if c.isalnum())
    keyword = ALIASES.get(key) or _camel(name)
    code = getattr(codes.SCT, keyword, None) if keyword else None
    if code is None:
        return codes.SCT.Tissue, codes.SCT.Tissue
    category = (
        codes.SCT.MorphologicallyAbnormalStructure if keyword in ABNORMAL else codes.SCT.AnatomicalStructure
    )
    return category, code
