"""Fan detection, the per-scanner mask store, and the attribute profile on a built dataset."""

from __future__ import annotations

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from engine.deid import Deidentifier, ScannerKey, ScannerMasks, deidentify_dataset, detect_fan
from engine.deid.profile import Policy, shift_date
from engine.errors import ProjectError
from engine.io import open_cine
from training.sim.dicom import write_us_cine

H, W = 120, 160


def _sector() -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    cv2.fillConvexPoly(mask, np.array([[70, 15], [90, 15], [150, 105], [10, 105]], np.int32), 1)
    return mask.astype(bool)


def _clip(n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    fan = _sector()
    frames = np.zeros((n, H, W), np.uint8)
    for i in range(n):
        frames[i][fan] = rng.integers(30, 220, fan.sum())
        cv2.putText(frames[i], "DOE^JANE", (2, 10), cv2.FONT_HERSHEY_PLAIN, 0.7, 255, 1)  # static text
        cv2.putText(frames[i], "12:04", (120, 116), cv2.FONT_HERSHEY_PLAIN, 0.7, 255, 1)
    return frames, fan


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_fan_from_motion_excludes_static_text():
    frames, fan = _clip()
    found = detect_fan(list(frames))
    assert found.source == "motion" and _iou(found.mask, fan) > 0.95
    text = (frames[0] == 255) & ~fan
    assert text.any() and not (found.mask & text).any()


def test_fan_of_a_still_image_from_signal():
    frames, fan = _clip(1)
    found = detect_fan([frames[0]])
    assert found.source == "signal" and _iou(found.mask, fan) > 0.9
    assert not (found.mask & (frames[0] == 255) & ~fan).any()


def test_scanner_masks_persist_and_can_be_replaced(tmp_path):
    key = ScannerKey("ACME", "Sono 1", H, W)
    store = ScannerMasks(tmp_path)
    assert store.get(key) is None
    store.set(key, _sector(), "motion")
    store.save()
    again = ScannerMasks(tmp_path)
    np.testing.assert_array_equal(again.get(key).mask, _sector())
    user = np.zeros((H, W), bool)
    user[20:100, 20:140] = True
    again.set(key, user)
    again.save()
    stored = ScannerMasks(tmp_path).get(key)
    assert stored.source == "user" and np.array_equal(stored.mask, user)
    with pytest.raises(ValueError):
        again.set(key, np.ones((5, 5), bool))
    assert again.remove(key) and again.keys() == []


def test_mask_store_and_key_that_cannot_be_written_are_one_line_errors(tmp_path):
    store = ScannerMasks(tmp_path)
    store.set(ScannerKey("ACME", "Sono 1", H, W), _sector(), "motion")
    store.path.mkdir()  # a folder where the store's file goes: the write fails
    with pytest.raises(ProjectError, match="cannot save the scanner masks") as raised:
        store.save()
    assert str(raised.value).startswith(str(store.path)) and "\n" not in str(raised.value)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where a project folder should be")
    with pytest.raises(ProjectError, match="cannot keep the de-identification key"):
        Deidentifier(blocked)


def test_damaged_mask_store_is_a_one_line_error(tmp_path):
    (tmp_path / "scanner_masks.json").write_text("{nope")
    with pytest.raises(ProjectError) as err:
        ScannerMasks(tmp_path)
    assert "scanner_masks.json" in err.value.one_line() and "\n" not in err.value.one_line()


def test_user_mask_for_the_scanner_wins_and_is_applied(tmp_path):
    frames, _ = _clip()
    path = write_us_cine(tmp_path / "c.dcm", frames, 0.3, 20.0, regions=[], uid_seed="x")
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    user = np.zeros((H, W), bool)
    user[30:90, 40:120] = True
    store = ScannerMasks(tmp_path / "proj")
    store.set(ScannerKey(str(ds.Manufacturer), str(ds.ManufacturerModelName), H, W), user)
    store.save()
    out = Deidentifier(tmp_path / "proj").dataset(path, "c.dcm")
    pixels = out.pixel_array
    assert (pixels[:, ~user] == 0).all()
    with open_cine(path) as cine:
        np.testing.assert_array_equal(pixels[3][user], cine.frame(3)[user])


def test_profile_walks_sequences_and_shifts_dates():
    ds = Dataset()
    ds.PatientName, ds.PatientID, ds.StudyDate = "Doe^Jane", "123", "20240229"
    ds.AcquisitionDateTime = "20240301101010.5"
    item = Dataset()
    item.ReferencedSOPInstanceUID = "1.2.3.4"
    item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    item.InstitutionName = "Hospital"
    ds.ReferencedImageSequence = [item]
    ds.add_new(0x00091001, "LO", "private")
    changes = deidentify_dataset(ds, Policy("ECS-1", -10, lambda uid: "2.25.7"))
    assert str(ds.PatientName) == "ECS-1^" and ds.PatientID == "ECS-1"
    assert ds.StudyDate == "20240219" and ds.AcquisitionDateTime == "20240220101010.5"
    ref = ds.ReferencedImageSequence[0]
    assert ref.ReferencedSOPInstanceUID == "2.25.7" and ref.ReferencedSOPClassUID.endswith("6.1")
    assert "InstitutionName" not in ref and 0x00091001 not in ds
    assert {c.action for c in changes} == {"replaced", "date_shifted", "uid_remapped", "removed"}
    assert shift_date("garbage", 3) == ""


def test_pseudonyms_uids_and_masks_are_remembered_between_exports(tmp_path):
    frames, fan = _clip()
    path = write_us_cine(tmp_path / "c.dcm", frames, 0.3, 20.0, regions=[], uid_seed="y")
    first = Deidentifier(tmp_path / "proj")
    a = first.dataset(path, "a.dcm")
    first.save()
    stored = ScannerMasks(tmp_path / "proj").keys()
    assert len(stored) == 1 and stored[0].endswith(f"|{H}x{W}")
    b = Deidentifier(tmp_path / "proj").dataset(path, "b.dcm")
    assert (a.PatientID, a.StudyInstanceUID, a.SOPInstanceUID, a.StudyDate) == (
        b.PatientID, b.StudyInstanceUID, b.SOPInstanceUID, b.StudyDate,
    )  # fmt: skip
    other = Deidentifier(tmp_path / "other").dataset(path, "c.dcm")
    assert other.PatientID != a.PatientID and other.SOPInstanceUID != a.SOPInstanceUID
    assert _iou(a.pixel_array[0] > 0, fan) > 0.9
