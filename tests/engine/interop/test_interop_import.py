"""Import of foreign COCO files (polygons, compressed RLE, boxes, keypoints) and PNG mask pairs."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from engine.errors import ReadError
from engine.interop import import_coco, import_png_masks
from engine.interop.importers import rle_from_string
from engine.project import ProjectStore


def test_compressed_rle_strings_decode_like_pycocotools():
    assert rle_from_string("325", [2, 5])["counts"] == [3, 2, 5]
    assert rle_from_string("T3", [10, 10])["counts"] == [100]


def _image(path, h=40, w=60):
    cv2.imwrite(str(path), np.full((h, w), 90, np.uint8))
    return path


def test_foreign_coco_becomes_human_final_labels(tmp_path):
    (tmp_path / "imgs").mkdir()
    _image(tmp_path / "imgs" / "a.png")
    doc = {
        "images": [{"id": 5, "file_name": "a.png", "height": 40, "width": 60}],
        "categories": [{"id": 3, "name": "nodule"}, {"id": 9, "name": "probe tip"}],
        "annotations": [
            {"id": 1, "image_id": 5, "category_id": 3, "segmentation": [[10, 10, 30, 10, 30, 20, 10, 20]]},
            {"id": 2, "image_id": 5, "category_id": 9, "bbox": [1, 2, 3, 4]},
            {"id": 3, "image_id": 5, "category_id": 9, "keypoints": [7, 8, 2, 0, 0, 0], "num_keypoints": 1},
        ],
    }
    (tmp_path / "c.json").write_text(json.dumps(doc))
    ProjectStore(tmp_path / "p").close()
    result = import_coco(tmp_path / "p", tmp_path / "c.json", tmp_path / "imgs")
    assert result.labels_added == ("nodule", "probe tip") and result.masks == 1
    store = ProjectStore(tmp_path / "p")
    labels = {lab.name: lab.id for lab in store.labels()}
    (study,) = store.studies()
    plane = store.masks(study.id)[0].plane
    expected = np.zeros((40, 60), np.uint8)
    cv2.fillPoly(expected, [np.array([[10, 10], [30, 10], [30, 20], [10, 20]], np.int32)], labels["nodule"])
    np.testing.assert_array_equal(plane, expected)
    kinds = sorted((a.kind, a.data["points"][0][0]) for a in store.annotations(study.id))
    assert kinds == [("box", 1.0), ("landmark", 7.0)]
    assert all(a.origin.value == "human_final" for a in store.annotations(study.id))
    store.close()


def test_png_mask_without_its_image_is_refused(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "i").mkdir()
    cv2.imwrite(str(tmp_path / "m" / "x.png"), np.zeros((4, 4), np.uint8))
    ProjectStore(tmp_path / "p").close()
    with pytest.raises(ReadError) as err:
        import_png_masks(tmp_path / "p", tmp_path / "m", tmp_path / "i")
    assert "x.png" in err.value.one_line() and "no image" in err.value.one_line()
    store = ProjectStore(tmp_path / "p")
    assert store.studies() == [] and store.labels() == []
    store.close()


@pytest.mark.parametrize(
    ("image", "annotation", "message"),
    [
        ({"height": 80, "width": 60}, {"segmentation": [[1, 1, 9, 1, 9, 9]]}, "is 60x80 in the COCO file"),
        ({}, {"segmentation": {"size": [20, 30], "counts": [5, 10, 585]}}, "mask is 30x20"),
        ({}, {"echocare": {"kind": "landmark", "frame": 4, "points": [[3, 3]]}}, "frame 4 outside"),
        ({}, {"echocare": {"kind": "landmark", "frame": -2, "points": [[3, 3]]}}, "frame -2 outside"),
        ({}, {"echocare": {"kind": "box", "frame": 0, "points": [[3, 3]]}}, "a box takes 2..2 points, got 1"),
        ({}, {"echocare": {"kind": "scribble", "frame": 0, "points": []}}, "unknown annotation kind"),
    ],
)
def test_coco_geometry_that_does_not_match_the_study_is_refused(tmp_path, image, annotation, message):
    (tmp_path / "imgs").mkdir()
    _image(tmp_path / "imgs" / "a.png")
    doc = {
        "images": [{"id": 5, "file_name": "a.png", "height": 40, "width": 60} | image],
        "categories": [{"id": 3, "name": "nodule"}],
        "annotations": [{"id": 1, "image_id": 5, "category_id": 3} | annotation],
    }
    (tmp_path / "c.json").write_text(json.dumps(doc))
    ProjectStore(tmp_path / "p").close()
    with pytest.raises(ReadError, match=message) as raised:
        import_coco(tmp_path / "p", tmp_path / "c.json", tmp_path / "imgs")
    assert str(raised.value).startswith(str(tmp_path / "c.json")) and "\n" not in str(raised.value)
    store = ProjectStore(tmp_path / "p")
    assert store.studies() == [] and store.labels() == []
    store.close()
