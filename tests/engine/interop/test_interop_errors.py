"""Bad input ends in one line naming the file and the reason, and leaves nothing partial."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from interop_project import CARDIAC, make_project

from engine.errors import ConfigError, EchoCareError, ProjectError, ReadError
from engine.interop import export_project, import_coco, list_formats, rle
from engine.interop.registry import EXPORTERS
from engine.project import AnnotationRecord, ProjectStore


def _one_line(err: EchoCareError, path: object) -> str:
    line = err.one_line()
    assert "\n" not in line and str(path) in line
    return line


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if ".partial" in p.name]


def test_project_without_labels(tmp_path):
    store = ProjectStore(tmp_path / "proj")
    store.add_study(CARDIAC)
    store.close()
    with pytest.raises(ProjectError) as err:
        export_project(tmp_path / "proj", "coco", tmp_path / "out")
    assert "no labels" in _one_line(err.value, tmp_path / "proj")
    assert not (tmp_path / "out").exists() and not _leftovers(tmp_path)


def test_unknown_format(project, tmp_path):
    with pytest.raises(ConfigError) as err:
        export_project(project.folder, "dicom-rt", tmp_path / "out")
    line = _one_line(err.value, tmp_path / "out")
    assert "unknown export format 'dicom-rt'" in line and "dicom-seg" in line
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder(project, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(ProjectError) as err:
        export_project(project.folder, "csv", blocker / "out")
    assert "cannot write" in _one_line(err.value, blocker / "out")


def test_non_empty_output_folder_is_refused(project, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(ProjectError):
        export_project(project.folder, "csv", tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]


def test_failure_half_way_leaves_nothing(project, tmp_path, monkeypatch):
    def broken(data, ctx):
        (ctx.staging / "half.json").write_text("{")
        raise ReadError(data.studies[0].path, "cannot decode frame 3")

    monkeypatch.setitem(EXPORTERS, "coco", broken)
    with pytest.raises(ReadError):
        export_project(project.folder, "coco", tmp_path / "out")
    assert not (tmp_path / "out").exists() and not _leftovers(tmp_path)
    assert EXPORTERS["coco"] is broken


def test_a_full_disk_half_way_is_one_line_and_leaves_nothing(project, tmp_path, monkeypatch):
    import errno
    import os

    from engine.interop.files import write_bytes

    def fills_the_disk(data, ctx):
        write_bytes(ctx.staging / "annotations.json", b"{}")
        target = ctx.staging / "masks" / "0001.png"
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

    monkeypatch.setitem(EXPORTERS, "coco", fills_the_disk)
    with pytest.raises(ProjectError) as err:
        export_project(project.folder, "coco", tmp_path / "out")
    assert "cannot write the export (No space left on device)" in _one_line(err.value, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not _leftovers(tmp_path)


def test_not_a_project(tmp_path):
    with pytest.raises(ProjectError) as err:
        export_project(tmp_path / "nothing", "csv", tmp_path / "out")
    assert "not an EchoCare project" in _one_line(err.value, tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()


def test_a_stored_annotation_that_breaks_the_schema_is_one_line(tmp_path):
    make_project(tmp_path / "proj")
    store = ProjectStore(tmp_path / "proj")
    (study,) = store.studies()
    broken = AnnotationRecord("b1", "box", 0, 1, {"points": [[1.0, 2.0]]})
    store.save_study(study.id, [*store.annotations(study.id), broken])
    store.close()
    with pytest.raises(ProjectError) as err:
        export_project(tmp_path / "proj", "csv", tmp_path / "out")
    line = _one_line(err.value, tmp_path / "proj")
    assert "annotation b1 breaks the annotation schema: a box takes 2..2 points, got 1" in line
    assert not (tmp_path / "out").exists() and not _leftovers(tmp_path)


def test_bad_coco_file_changes_nothing(tmp_path):
    make_project(tmp_path / "proj")
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [{"id": 1, "file_name": "x.png"}], "annotations": [{"image_id": 9}]}')
    before = ProjectStore(tmp_path / "proj")
    counts = (len(before.studies()), len(before.labels()))
    before.close()
    with pytest.raises(ReadError) as err:
        import_coco(tmp_path / "proj", bad)
    assert "bad COCO annotation" in _one_line(err.value, bad)
    after = ProjectStore(tmp_path / "proj")
    assert (len(after.studies()), len(after.labels())) == counts
    after.close()


def test_every_format_is_registered():
    assert list_formats() == ["coco", "csv", "dicom", "dicom-seg", "dicom-sr", "nifti", "png", "report"]


@settings(max_examples=60, deadline=None)
@given(arrays(np.bool_, st.tuples(st.integers(1, 12), st.integers(1, 12))))
def test_rle_round_trip(mask):
    encoded = rle.encode(mask)
    assert sum(encoded["counts"]) == mask.size
    np.testing.assert_array_equal(rle.decode(encoded), mask)
