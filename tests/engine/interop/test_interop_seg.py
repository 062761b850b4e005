"""DICOM SEG of a multi-frame US cine without a Frame of Reference, read back two ways."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from engine.errors import ReadError
from engine.interop import export_project
from engine.project import LabelRecord, MaskRecord, ProjectStore


def test_multiframe_seg_reads_back_equal_to_the_project_masks(project, tmp_path):
    result = export_project(project.folder, "dicom-seg", tmp_path / "out")
    (seg_file,) = [f for f in result.files if f.startswith("seg/")]
    path = tmp_path / "out" / seg_file
    source = pydicom.dcmread(project.source, stop_before_pixels=True)
    assert "FrameOfReferenceUID" not in source and int(source.NumberOfFrames) > 1

    seg = hd.seg.segread(path)
    labels = [seg.get_segment_description(i).segment_label for i in seg.segment_numbers]
    assert labels == ["LV", "myocardium"]
    for frame, plane in project.masks.items():
        got = seg.get_pixels_by_source_frame(
            source_sop_instance_uid=source.SOPInstanceUID,
            source_frame_numbers=[frame + 1],
            combine_segments=True,
        )
        np.testing.assert_array_equal(got[0], plane)

    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array
    assert int(ds.NumberOfFrames) == len(project.masks) * 2 == pixels.shape[0]
    for k, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
        ref = item.DerivationImageSequence[0].SourceImageSequence[0]
        assert ref.ReferencedSOPInstanceUID == source.SOPInstanceUID
        assert ref.ReferencedSOPClassUID == source.SOPClassUID
        segment = item.SegmentIdentificationSequence[0].ReferencedSegmentNumber
        frame = int(ref.ReferencedFrameNumber) - 1
        np.testing.assert_array_equal(pixels[k].astype(bool), project.masks[frame] == segment)
    lv = ds.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0]
    assert (lv.CodeValue, lv.CodingSchemeDesignator) == ("87878005", "SCT")  # Left ventricle


def test_single_frame_source_seg_reads_back(tmp_path):
    source = get_testdata_file("US1_UNCR.dcm", download=False)
    ds = pydicom.dcmread(source, stop_before_pixels=True)
    plane = _one_mask_project(tmp_path, source, ds)
    result = export_project(tmp_path / "proj", "dicom-seg", tmp_path / "out")
    seg = hd.seg.segread(tmp_path / "out" / result.files[0])
    got = seg.get_pixels_by_source_instance(source_sop_instance_uids=[ds.SOPInstanceUID])
    np.testing.assert_array_equal(got[0, ..., 0], plane == 4)
    assert seg.get_segment_description(1).segment_label == "lesion"


def test_deidentified_seg_references_the_deidentified_copy(project, tmp_path):
    result = export_project(project.folder, "dicom-seg", tmp_path / "out", deidentify=True)
    copy = pydicom.dcmread(tmp_path / "out" / "dicom" / "study_0001.dcm")
    seg = pydicom.dcmread(tmp_path / "out" / "seg" / "study_0001_seg.dcm")
    original = pydicom.dcmread(project.source, stop_before_pixels=True)
    ref = seg.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0]
    assert ref.ReferencedSOPInstanceUID == copy.SOPInstanceUID != original.SOPInstanceUID
    assert seg.StudyInstanceUID == copy.StudyInstanceUID != original.StudyInstanceUID
    assert str(seg.PatientName) == str(copy.PatientName) != str(original.PatientName)
    assert "deidentification_audit.json" in result.files


def _stripped_source(tmp_path, drop):
    """US1_UNCR.dcm without ``drop`` (as anonymised and secondary-capture files often are)."""
    ds = pydicom.dcmread(get_testdata_file("US1_UNCR.dcm", download=False))
    for keyword in drop:
        if keyword in ds:
            delattr(ds, keyword)
    path = tmp_path / "stripped.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path, ds


def _one_mask_project(tmp_path, source, ds):
    store = ProjectStore(tmp_path / "proj")
    store.set_labels([LabelRecord(4, "lesion", (240, 200, 40))])
    study = store.add_study(source, 1, ds.Rows, ds.Columns)
    plane = np.zeros((ds.Rows, ds.Columns), np.uint8)
    plane[100:180, 200:330] = 4
    store.save_study(study.id, [], {0: MaskRecord(0, plane)})
    store.close()
    return plane


TYPE2 = ("PatientBirthDate", "PatientSex", "AccessionNumber", "StudyID", "StudyDate", "StudyTime")


def test_a_source_without_type2_patient_and_study_fields_still_exports(tmp_path):
    source, ds = _stripped_source(tmp_path, TYPE2)
    before = source.read_bytes()
    plane = _one_mask_project(tmp_path, source, ds)
    result = export_project(tmp_path / "proj", "dicom-seg", tmp_path / "out")
    seg = hd.seg.segread(tmp_path / "out" / result.files[0])
    assert seg.StudyInstanceUID == ds.StudyInstanceUID and seg.AccessionNumber == ""
    got = seg.get_pixels_by_source_instance(source_sop_instance_uids=[ds.SOPInstanceUID])
    np.testing.assert_array_equal(got[0, ..., 0], plane == 4)
    assert source.read_bytes() == before  # the user's file is only read


def test_a_source_without_its_study_uid_is_one_line_naming_it(tmp_path):
    source, ds = _stripped_source(tmp_path, ("StudyInstanceUID",))
    _one_mask_project(tmp_path, source, ds)
    with pytest.raises(ReadError, match="missing StudyInstanceUID") as raised:
        export_project(tmp_path / "proj", "dicom-seg", tmp_path / "out")
    assert str(raised.value).startswith(str(source)) and "\n" not in str(raised.value)
    assert not (tmp_path / "out").exists()
