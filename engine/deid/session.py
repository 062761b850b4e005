"""Deidentifier: de-identifies DICOM files and frames for one export, and records an audit.

Pseudonyms, date offsets and new UIDs derive from a random secret kept in the project folder
(``deid_secret``), so the same patient gets the same pseudonym and date shift, and the same
UID the same replacement, in every export of the project, while nobody without the secret
can map them back. Originals are only read, never written.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from engine.deid import fan as fanlib
from engine.deid.profile import Policy, add_method_code, deidentify_dataset
from engine.deid.scanner_masks import USER, ScannerKey, ScannerMasks, scanner_key
from engine.errors import ProjectError, ReadError
from engine.interop.files import write_json, write_text
from engine.io.cine import Cine
from engine.project.atomic import write_atomic

SECRET_FILE = "deid_secret"
AUDIT_JSON = "deidentification_audit.json"
AUDIT_CSV = "deidentification_audit.csv"
MAX_FAN_FRAMES = 64
# pixel-module attributes rewritten when the frames are stored decoded and blanked
_PIXEL_DROP = (
    "RedPaletteColorLookupTableDescriptor",
    "GreenPaletteColorLookupTableDescriptor",
    "BluePaletteColorLookupTableDescriptor",
    "RedPaletteColorLookupTableData",
    "GreenPaletteColorLookupTableData",
    "BluePaletteColorLookupTableData",
    "SegmentedRedPaletteColorLookupTableData",
    "SegmentedGreenPaletteColorLookupTableData",
    "SegmentedBluePaletteColorLookupTableData",
    "PaletteColorLookupTableUID",
    "SmallestImagePixelValue",
    "LargestImagePixelValue",
    "PixelPaddingValue",
    "ExtendedOffsetTable",
    "ExtendedOffsetTableLengths",
)


class Deidentifier:
    """De-identification for the exports of the project in ``folder``.

    Args:
        folder: the project folder (holds the secret and the scanner mask store).
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.masks = ScannerMasks(self.folder)
        self._secret = self._load_secret()
        self.audit: list[dict[str, object]] = []
        self._fans: dict[str, fanlib.Fan] = {}

    # -- keys ----------------------------------------------------------------------------
    def _load_secret(self) -> bytes:
        path = self.folder / SECRET_FILE
        try:
            if not path.exists():
                write_atomic(path, secrets.token_hex(32).encode())
            return path.read_bytes().strip()
        except OSError as err:
            raise ProjectError(
                path, f"cannot keep the de-identification key ({err.strerror or err})"
            ) from None

    def _hash(self, *parts: str) -> str:
        return hashlib.sha256(b"\0".join([self._secret, *(p.encode() for p in parts)])).hexdigest()

    def remap_uid(self, uid: str) -> str:
        """The replacement of ``uid``: the same in every file and export of this project."""
        return "2.25." + str(int(self._hash("uid", uid)[:32], 16))

    def policy(self, ds: Dataset) -> Policy:
        """Pseudonym, date offset and UID map for the patient of ``ds``."""
        patient = str(ds.get("PatientID", "") or ds.get("PatientName", "") or "unknown")
        digest = self._hash("patient", patient)
        days = -(30 + int(digest[:8], 16) % 3650)
        return Policy(f"ECS-{digest[8:18].upper()}", days, self.remap_uid)

    # -- fans ----------------------------------------------------------------------------
    def fan_for(self, key: ScannerKey, frames: list[np.ndarray], cine: Cine) -> fanlib.Fan:
        """The fan of a clip: a user mask for its scanner, else its regions, else a remembered
        detection, else a new detection from its frames (then remembered)."""
        stored = self.masks.get(key)
        if stored is not None and stored.source == USER:
            return fanlib.Fan(stored.mask, USER)
        by_regions = fanlib.from_regions(cine.calibration.regions, (key.rows, key.columns))
        if by_regions is not None:
            return fanlib.Fan(fanlib.refine_with_motion(by_regions, frames), "regions")
        if stored is not None:
            return fanlib.Fan(stored.mask, stored.source)
        found = fanlib.from_frames(frames)
        self.masks.set(key, found.mask, found.source)
        return found

    def _sample(self, cine: Cine) -> list[np.ndarray]:
        step = max(1, cine.n_frames // MAX_FAN_FRAMES)
        return [cine.frame(i) for i in range(0, cine.n_frames, step)]

    def _key(self, cine: Cine, ds: Dataset | None) -> ScannerKey:
        if ds is None and cine.info.kind == "dicom":
            return scanner_key(cine.path)
        maker = str(ds.get("Manufacturer", "")) if ds is not None else ""
        model = str(ds.get("ManufacturerModelName", "")) if ds is not None else ""
        return ScannerKey(maker or "unknown", model or "unknown", cine.info.rows, cine.info.columns)

    def fan_of(self, cine: Cine, ds: Dataset | None = None) -> fanlib.Fan:
        """The fan of an open clip (cached per file for this export)."""
        name = str(cine.path)
        if name not in self._fans:
            self._fans[name] = self.fan_for(self._key(cine, ds), self._sample(cine), cine)
        return self._fans[name]

    def blank_frame(self, cine: Cine, frame: np.ndarray) -> np.ndarray:
        """``frame`` of ``cine`` with everything outside the fan set to 0."""
        return fanlib.blank_outside(frame, self.fan_of(cine).mask)

    # -- files ---------------------------------------------------------------------------
    def dataset(self, path: str | Path, name: str) -> Dataset:
        """A de-identified copy of the DICOM file ``path``: attributes per the profile, frames
        decoded, blanked outside the fan and stored uncompressed (Explicit VR Little Endian).

        Args:
            path: the original file (only read).
            name: the output's name in the audit.

        Raises:
            ReadError: the file cannot be read as DICOM.
        """
        from engine.io.open import open_cine

        try:
            ds = pydicom.dcmread(path)
        except Exception as err:
            raise ReadError(path, f"not a readable DICOM file ({err})") from None
        with open_cine(Path(path)) as cine:
            fan = self.fan_of(cine, ds)
            frames = np.stack([fanlib.blank_outside(cine.frame(i), fan.mask) for i in range(cine.n_frames)])
        _store_pixels(ds, frames)
        changes = deidentify_dataset(ds, self.policy(ds))
        add_method_code(ds, "113101", "Clean Pixel Data Option")
        ds.BurnedInAnnotation = "NO"
        entries = [{"file": name, "tag": c.tag, "attribute": c.keyword, "action": c.action} for c in changes]
        entries.append({"file": name, "tag": "(7FE0,0010)", "attribute": "PixelData",
                        "action": f"blanked {int((~fan.mask).sum())} pixels per frame outside the fan "
                                  f"(fan from {fan.source})"})  # fmt: skip
        entries.append(
            {"file": name, "tag": "(0028,0301)", "attribute": "BurnedInAnnotation", "action": "set NO"}
        )
        self.audit += entries
        return ds

    def write_audit(self, folder: Path) -> list[str]:
        """Write the audit (JSON and CSV) into ``folder``; returns the file names."""
        write_json(folder / AUDIT_JSON, {"changes": self.audit})
        buf = io.StringIO()
        writer = csv.DictWriter(buf, ["file", "tag", "attribute", "action"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.audit)
        write_text(folder / AUDIT_CSV, buf.getvalue())
        return [AUDIT_JSON, AUDIT_CSV]

    def save(self) -> None:
        """Remember newly detected scanner masks in the project."""
        self.masks.save()


def _store_pixels(ds: Dataset, frames: np.ndarray) -> None:
    """Replace the pixel data by ``frames`` ``[N, H, W(, 3)]`` as displayed, uncompressed."""
    for kw in _PIXEL_DROP:
        if kw in ds:
            delattr(ds, kw)
    color = frames.ndim == 4
    bits = 16 if frames.dtype == np.uint16 else 8
    ds.SamplesPerPixel = 3 if color else 1
    ds.PhotometricInterpretation = "RGB" if color else "MONOCHROME2"
    if color:
        ds.PlanarConfiguration = 0
    elif "PlanarConfiguration" in ds:
        del ds.PlanarConfiguration
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits, bits, bits - 1, 0
    ds.Rows, ds.Columns = frames.shape[1], frames.shape[2]
    if "NumberOfFrames" in ds or frames.shape[0] > 1:
        ds.NumberOfFrames = frames.shape[0]
    data = frames.astype(np.dtype(frames.dtype).newbyteorder("<")).tobytes()
    ds.PixelData = data + (b"\0" if len(data) % 2 else b"")
    ds["PixelData"].VR = "OW" if bits == 16 else "OB"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.set_original_encoding(False, True)  # written little-endian explicit from now on
