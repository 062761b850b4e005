"""The body regions a DICOM header declares (Image Type, Body Part Examined, presets, descriptions)."""

import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from engine.io import open_cine
from engine.io.declared import declared_exam, regions_named


@pytest.mark.parametrize(
    ("name", "field", "text", "regions"),
    [
        ("JPGLosslessP14SV1_1s_1f_8b.dcm", "Image Type", "CARDIOLOGY", {"cardiac"}),
        ("US1_UNCR.dcm", "Image Type", "SMALL PARTS", {"small parts", "breast", "vascular"}),
        ("OBXXXX1A.dcm", "Image Type", "OBSTETRICAL", {"obstetric"}),
        ("gdcm-US-ALOKA-16.dcm", "Image Type", "ABDOM/RAD", {"abdomen"}),
        ("color-pl.dcm", "Image Type", "TEE", {"cardiac"}),
    ],
)
def test_scanner_files_declare_the_region_of_their_preset(name, field, text, regions):
    with open_cine(get_testdata_file(name)) as cine:
        declared = cine.info.declared_exam
    assert (declared.field, declared.text, set(declared.regions)) == (field, text, regions)
    assert cine.info.as_dict()["declared_exam"]["regions"] == sorted(regions)


def _ds(**attrs):
    ds = Dataset()
    for keyword, value in attrs.items():
        setattr(ds, keyword, value)
    return ds


def test_the_first_field_that_names_a_region_decides():
    ds = _ds(
        ImageType=["ORIGINAL", "PRIMARY", "0001"],  # no words: passed over
        BodyPartExamined="HEART",
        StudyDescription="Breast screening",
    )
    assert declared_exam(ds).describe() == "the file's Body Part Examined (HEART) says cardiac"
    ds.BodyPartExamined = ""
    assert declared_exam(ds).describe() == "the file's Study Description (Breast screening) says breast"
    ds.ProcessingFunction = "OB_GENERAL"
    assert declared_exam(ds).regions == {"obstetric"}
    item = Dataset()
    item.CodeMeaning = "ECHOCARDIOGRAM"
    assert declared_exam(_ds(ProcedureCodeSequence=[item])).field == "Procedure Code"


def test_words_that_name_no_region_leave_the_exam_to_the_model():
    assert declared_exam(_ds(ImageType=["ORIGINAL", "PRIMARY"], StudyDescription="PEDIATRIC GENERAL")) is None
    assert declared_exam(Dataset()) is None
    assert regions_named("Oblique view of a small lesion") == frozenset()  # not OB, not small parts
    assert regions_named("FETAL HEART") == {"obstetric", "cardiac"}
    assert regions_named("CARD_ADULT_GEN_CV") == {"cardiac"}
    assert regions_named("Knee") == {"musculoskeletal"}  # a region no bundled model knows


def test_images_videos_and_memory_cines_declare_nothing(tmp_path):
    import cv2
    import numpy as np

    path = tmp_path / "still.png"
    cv2.imwrite(str(path), np.zeros((32, 32), np.uint8))
    with open_cine(path) as cine:
        assert cine.info.declared_exam is None and cine.info.as_dict()["declared_exam"] is None


def test_a_folder_of_dicom_files_declares_what_its_first_instance_does(tmp_path):
    from tests.engine.io.dicom_factory import dataset, grey_frames, save

    folder = tmp_path / "series"
    folder.mkdir()
    for i in (1, 2):
        ds = dataset(grey_frames(1), InstanceNumber=i, BodyPartExamined="HEART")
        save(ds, folder / f"im{i}.dcm")
    with open_cine(folder) as cine:
        assert cine.info.kind == "folder" and cine.info.declared_exam.regions == {"cardiac"}
