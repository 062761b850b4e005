"""Qt-free loop state: the data snapshot a run reads, its config, and the versions list."""

from __future__ import annotations

import numpy as np
from loop_project import SIZE, make_project, store_tiny_model

from app.model import loop
from engine.config_files import from_dict
from engine.project.records import LabelRecord, MaskRecord
from engine.project.store import ProjectStore
from engine.provenance import ModelRef, Origin
from training.config import FinetuneCfg


def test_snapshot_keeps_the_chosen_studies_labels_and_human_final_masks_only(tmp_path):
    folder = make_project(tmp_path / "proj", studies=4, labelled=3)
    store = ProjectStore(folder)
    store.set_labels([*store.labels(), LabelRecord(2, "cyst", (0, 255, 0))])
    first, second, third, fourth = store.studies()
    plane = np.zeros((SIZE, SIZE), np.uint8)
    plane[:8], plane[-8:] = 1, 2  # a lesion band and a cyst band
    store.save_study(second.id, [], {0: MaskRecord(0, plane, Origin.HUMAN_FINAL)})
    store.save_study(fourth.id, [], {0: MaskRecord(0, plane, Origin.AI_DRAFT, ModelRef("m", "1"), "pending")})
    assert loop.human_final_frames(store) == {first.id: 1, second.id: 1, third.id: 1, fourth.id: 0}

    choice = loop.TrainChoice(
        model="echocare_test", study_ids=(second.id, third.id, fourth.id), label_ids=(1,)
    )
    snap = ProjectStore(loop.snapshot_data(store, choice))
    try:
        assert [s.rel_path for s in snap.studies()] == [f"../../{second.rel_path}", f"../../{third.rel_path}"]
        assert [lab.name for lab in snap.labels()] == ["lesion"]
        kept = snap.masks(snap.studies()[0].id)[0]
        assert kept.origin == Origin.HUMAN_FINAL and set(np.unique(kept.plane)) == {0, 1}
        assert snap.resolve(snap.studies()[0]) == store.resolve(second)
    finally:
        snap.close()
        store.close()
    cfg = from_dict(FinetuneCfg, loop.build_config(choice, tmp_path / "snap"))
    assert cfg.data.source == "project" and cfg.heads == ("segmentation",) and cfg.split.test == 0.3


def test_version_rows_activate_and_roll_back(tmp_path):
    base = store_tiny_model()
    rows = loop.version_rows()
    assert [(r.ref, r.active, r.heads) for r in rows if not r.bundled] == [(base, True, ("segmentation",))]
    assert rows[-1].primary == "-"


def test_tracks_follow_human_keyframes_only():
    from app.model.annotations import Annotation
    from app.model.commands import add
    from app.model.document import Document
    from engine.io.memory import ArrayCine

    doc = Document(ArrayCine(np.zeros((6, 16, 16), np.uint8), fps=10.0, path="x.npy"))
    doc.apply(add(Annotation("landmark", 1, 1, ((3.0, 4.0),), name="apex")))
    doc.apply(add(Annotation("landmark", 4, 1, ((5.0, 4.0),), name="apex")))
    doc.apply(add(Annotation("landmark", 2, 1, ((9.0, 9.0),), name="other", origin=Origin.AI_DRAFT)))
    tracks = loop.track_keyframes(doc, 4)
    assert list(tracks) == [("landmark", 1, "apex")] and sorted(tracks[("landmark", 1, "apex")]) == [1, 4]
    assert loop.track_span(tracks[("landmark", 1, "apex")], 4, 6) == (1, 5)
    moved = loop.propagate_tracks([doc.frame_image(i) for i in range(6)], 0, tracks, 4)
    assert sorted(moved[("landmark", 1, "apex")]) == [2, 3, 5]  # still frames: points stay between keys
    np.testing.assert_allclose(moved[("landmark", 1, "apex")][5][0], (5.0, 4.0), atol=0.5)
