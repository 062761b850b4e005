from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from engine.errors import ProjectError
from engine.project import AnnotationRecord, LabelRecord, MaskRecord, ProjectStore
from engine.project.store import LOCK_NAME
from engine.provenance import ModelRef, Origin


@pytest.fixture
def store(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a.dcm").write_bytes(b"x")
    s = ProjectStore(tmp_path / "proj")
    yield s
    s.close()


def test_database_uses_wal_and_relative_study_paths(store, tmp_path):
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    study = store.add_study(tmp_path / "clips" / "a.dcm", frames=3, rows=4, columns=5)
    assert study.rel_path == "../clips/a.dcm"
    assert store.add_study(tmp_path / "clips" / "a.dcm").id == study.id
    assert store.resolve(study) == (tmp_path / "clips" / "a.dcm").resolve()


def test_annotations_round_trip_with_provenance_and_history(store, tmp_path):
    study = store.add_study(tmp_path / "clips" / "a.dcm")
    model = ModelRef("demo", "2", "ff")
    rec = AnnotationRecord("a1", "box", 1, 2, {"points": [[1, 2], [3, 4]]}, Origin.AI_DRAFT, model, "pending")
    store.save_study(study.id, [rec])
    assert store.annotations(study.id) == [rec]
    accepted = AnnotationRecord("a1", "box", 1, 2, rec.data, Origin.AI_DRAFT, model, "accepted")
    assert store.save_study(study.id, [accepted]) == 1
    assert store.save_study(study.id, [accepted]) == 0  # unchanged rows are not rewritten
    store.save_study(study.id, [])
    assert store.annotations(study.id) == []
    actions = [(a, r.review) for a, r in store.history("a1")]
    assert actions == [("insert", "pending"), ("update", "accepted"), ("delete", "accepted")]
    assert store.models() == [model]


def test_masks_are_lossless_and_removable(store, tmp_path):
    study = store.add_study(tmp_path / "clips" / "a.dcm")
    plane = np.random.default_rng(1).integers(0, 5, size=(33, 47)).astype(np.uint8)
    store.save_study(study.id, [], {4: MaskRecord(4, plane)})
    got = store.masks(study.id)[4]
    np.testing.assert_array_equal(got.plane, plane)
    assert got.plane.flags.writeable and got.origin is Origin.HUMAN_FINAL
    store.save_study(study.id, [], {4: None})
    assert store.masks(study.id) == {}


def test_failed_transaction_changes_nothing(store, tmp_path):
    study = store.add_study(tmp_path / "clips" / "a.dcm")
    good = AnnotationRecord("g", "landmark", 0, 1, {"points": [[1, 1]]})
    store.save_study(study.id, [good])
    bad = AnnotationRecord("b", "landmark", 0, 1, {"points": [[1, 1]], "value": object()})
    with pytest.raises(TypeError):
        store.save_study(study.id, [good, bad])
    assert store.annotations(study.id) == [good]


def test_label_schema_is_versioned(store):
    store.set_labels([LabelRecord(1, "LV", (1, 2, 3))])
    store.set_labels([LabelRecord(1, "LV", (1, 2, 3))])
    assert store.label_schema_version() == 1
    store.set_labels([LabelRecord(1, "LV", (1, 2, 3)), LabelRecord(2, "LA", (4, 5, 6), 0.3)])
    assert store.label_schema_version() == 2
    assert store.labels()[1] == LabelRecord(2, "LA", (4, 5, 6), 0.3)


def test_lock_file_tells_an_unclean_exit(tmp_path):
    s = ProjectStore(tmp_path / "p")
    s.mark_open()
    assert (tmp_path / "p" / LOCK_NAME).exists()
    again = ProjectStore(tmp_path / "p")  # as after a crash: the lock is still there
    assert again.recovered
    again.close()
    s._db.close()
    assert not ProjectStore(tmp_path / "p").recovered


def test_corrupt_database_is_a_one_line_project_error(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "project.sqlite").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ProjectError) as err:
        ProjectStore(folder)
    assert "project.sqlite" in err.value.one_line() and "\n" not in err.value.one_line()


def test_store_is_plain_sqlite_readable_by_training(store, tmp_path):
    study = store.add_study(tmp_path / "clips" / "a.dcm")
    store.save_study(study.id, [AnnotationRecord("x", "landmark", 0, 1, {"points": [[1, 1]]})])
    db = sqlite3.connect(store.db_path)
    assert db.execute("SELECT origin, review FROM annotations").fetchall() == [("human_final", "accepted")]
    db.close()
