"""De-identified export of the real ultrasound files in the pydicom and pydicom-data wheels."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import UID_dictionary

from engine.deid import ACTIONS, Deidentifier
from engine.interop import export_project
from engine.io import open_cine
from engine.project import LabelRecord, ProjectStore

NAMES = [
    "examples_ybr_color.dcm", "examples_palette.dcm", "examples_rgb_color.dcm", "examples_jpeg2k.dcm",
    "ExplVR_BigEnd.dcm", "US1_UNCI.dcm", "US1_UNCR.dcm", "US1_J2KI.dcm", "US1_J2KR.dcm",
    "gdcm-US-ALOKA-16.dcm", "gdcm-US-ALOKA-16_big.dcm",
]  # fmt: skip
# identifying attributes checked independently of the profile table
ALWAYS = {"PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "ReferringPhysicianName",
          "AccessionNumber", "StudyID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
          "StationName", "OperatorsName", "DeviceSerialNumber", "StudyDescription"}  # fmt: skip
KEEP_UIDS = {"SOPClassUID", "ReferencedSOPClassUID", "TransferSyntaxUID", "MediaStorageSOPClassUID"}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _walk(ds, out):
    """(keyword or tag, VR, value) of every element, sequences included."""
    for elem in ds:
        if elem.VR == "SQ":
            for item in elem.value:
                _walk(item, out)
        elif elem.tag != 0x7FE00010:
            out.append((elem.keyword or str(elem.tag), elem.VR, elem.value, elem.tag.is_private))
    return out


def _identifying(ds):
    """Original values that must not survive: the profile's attributes, UIDs and dates."""
    found = []
    for kw, vr, value, private in _walk(ds, []) + _walk(getattr(ds, "file_meta", []), []):
        text = str(value).strip()
        if not text or kw in KEEP_UIDS:
            continue
        if (ACTIONS.get(kw) in ("X", "Z", "D", "U") or kw in ALWAYS or private or vr in ("DA", "DT")) or (
            vr == "UI" and text not in UID_dictionary
        ):
            found.append((kw, text))
    return found


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("deid")
    paths = {n: Path(get_testdata_file(n, download=False)) for n in NAMES}
    before = {n: _sha(p) for n, p in paths.items()}
    store = ProjectStore(tmp / "proj")
    store.set_labels([LabelRecord(1, "lesion", (240, 200, 40))])
    ids = {n: store.add_study(p).id for n, p in paths.items()}
    store.close()
    export_project(tmp / "proj", "dicom", tmp / "out", deidentify=True)
    after = {n: _sha(p) for n, p in paths.items()}
    return tmp, paths, ids, before, after


def test_originals_are_unchanged(exported):
    _, _, _, before, after = exported
    assert before == after


@pytest.mark.parametrize("name", NAMES)
def test_no_identifying_value_survives(exported, name):
    tmp, paths, ids, _, _ = exported
    original = pydicom.dcmread(paths[name])
    out = pydicom.dcmread(tmp / "out" / "dicom" / f"study_{ids[name]:04d}.dcm")
    secrets = _identifying(original)
    assert secrets, "the original holds identifying values"
    left = {(kw, str(v).strip()) for kw, _, v, _ in _walk(out, []) + _walk(out.file_meta, [])}
    survived = [(kw, v) for kw, v in secrets if (kw, v) in left]
    assert survived == []
    assert not any(private for *_, private in _walk(out, []))
    assert out.PatientIdentityRemoved == "YES" and out.BurnedInAnnotation == "NO"
    codes = [c.CodeValue for c in out.DeidentificationMethodCodeSequence]
    assert codes[:2] == ["113100", "113107"] and "113101" in codes
    assert out.SOPClassUID == original.SOPClassUID


@pytest.mark.parametrize("name", NAMES)
def test_pixels_outside_the_fan_are_zero_and_inside_kept(exported, name):
    tmp, paths, ids, _, _ = exported
    out = pydicom.dcmread(tmp / "out" / "dicom" / f"study_{ids[name]:04d}.dcm")
    pixels = out.pixel_array
    with open_cine(paths[name]) as cine:
        fan = Deidentifier(tmp / "proj").fan_of(cine).mask
        frames = np.stack([cine.frame(i) for i in range(cine.n_frames)])
    pixels = pixels.reshape(frames.shape)
    assert fan.sum() > 0 and (pixels[:, ~fan] == 0).all()
    np.testing.assert_array_equal(pixels[:, fan], frames[:, fan])


def test_uids_and_dates_are_consistent_across_files(exported):
    tmp, paths, ids, _, _ = exported
    pairs = [("US1_UNCI.dcm", "US1_UNCR.dcm"), ("gdcm-US-ALOKA-16.dcm", "gdcm-US-ALOKA-16_big.dcm")]
    for a, b in pairs:
        oa, ob = (pydicom.dcmread(paths[n], stop_before_pixels=True) for n in (a, b))
        da, db = (pydicom.dcmread(tmp / "out" / "dicom" / f"study_{ids[n]:04d}.dcm") for n in (a, b))
        assert (oa.StudyInstanceUID == ob.StudyInstanceUID) == (da.StudyInstanceUID == db.StudyInstanceUID)
        assert oa.PatientID == ob.PatientID and da.PatientID == db.PatientID
        assert da.StudyDate == db.StudyDate and da.StudyDate != oa.StudyDate


def test_audit_lists_changes_without_original_values(exported):
    tmp, paths, ids, _, _ = exported
    audit = json.loads((tmp / "out" / "deidentification_audit.json").read_text())["changes"]
    text = (tmp / "out" / "deidentification_audit.csv").read_text()
    for name in NAMES:
        entries = [e for e in audit if e["file"] == f"dicom/study_{ids[name]:04d}.dcm"]
        actions = {e["attribute"]: e["action"] for e in entries}
        assert actions["PatientName"] == "replaced" and "blanked" in actions["PixelData"]
        patient = str(pydicom.dcmread(paths[name], stop_before_pixels=True).PatientName)
        assert patient not in json.dumps(audit) and patient not in text
