"""De-identification: PS3.15 basic profile for DICOM attributes and fan masking of burned-in text."""

from engine.deid.fan import Fan, blank_outside, detect_fan
from engine.deid.profile import ACTIONS, Change, Policy, deidentify_dataset
from engine.deid.scanner_masks import ScannerKey, ScannerMasks, scanner_key
from engine.deid.session import Deidentifier

__all__ = [
    "ACTIONS",
    "Change",
    "Deidentifier",
    "Fan",
    "Policy",
    "ScannerKey",
    "ScannerMasks",
    "blank_outside",
    "deidentify_dataset",
    "detect_fan",
    "scanner_key",
]
