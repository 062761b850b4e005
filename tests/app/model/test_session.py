from __future__ import annotations

import pytest

from app.model import commands
from app.model.annotations import Annotation
from app.model.mask_ops import Stroke
from app.model.session import Session
from engine.errors import ReadError
from engine.project import ProjectStore


def test_edits_survive_save_and_reopen(tmp_path, sample_file, opener):
    session = Session(ProjectStore(tmp_path / "proj"), opener)
    doc = session.open_path(sample_file)
    stroke = Stroke(doc, 2, 1, 5)
    stroke.add(30, 30)
    stroke.finish()
    doc.apply(commands.add(Annotation("distance", 2, 0, ((10, 10), (20, 10)))))
    assert session.dirty and session.save() and not session.save()
    painted = doc.mask(2).copy()
    session.close()

    again = Session(ProjectStore(tmp_path / "proj"), opener)
    (study,) = again.store.studies()
    doc2 = again.open_study(study.id)
    assert (doc2.mask(2) == painted).all() and painted.any()
    assert [a.points for a in doc2.annotations.values()] == [((10.0, 10.0), (20.0, 10.0))]
    again.close()


def test_undo_after_save_is_saved_too(tmp_path, sample_file, opener):
    session = Session(ProjectStore(tmp_path / "proj"), opener)
    doc = session.open_path(sample_file)
    doc.apply(commands.add(Annotation("landmark", 0, 1, ((5, 5),))))
    session.save()
    doc.history.undo()
    session.save()
    assert session.store.annotations(doc.study_id) == []
    session.close()


def test_unreadable_file_changes_nothing(tmp_path, sample_file, opener):
    session = Session(ProjectStore(tmp_path / "proj"), opener)
    session.open_path(sample_file)
    bad = tmp_path / "broken.npy"
    bad.write_bytes(b"\x93NUMPY garbage")
    before = session.store.studies()
    with pytest.raises(ReadError, match=r"broken\.npy"):
        session.open_path(bad)
    assert session.store.studies() == before
    assert session.document is not None and session.document.cine.path.name == "sample.npy"
    session.close()
