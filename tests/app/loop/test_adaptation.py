"""Qt-free adaptation: the data snapshot a run reads, its config, the versions list, the
segmentation through the engine's predictor, the queue and the propagation arithmetic."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from loop_project import SIZE, make_project, store_tiny_model

from app.model.adaptation import propagation, ranking, runs, segment, versions
from app.model.annotations import Annotation
from app.model.commands import add, mask_diff
from app.model.document import Document
from engine.config_files import from_dict
from engine.errors import TaskError
from engine.io.memory import ArrayCine
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
    assert runs.human_final_frames(store) == {first.id: 1, second.id: 1, third.id: 1, fourth.id: 0}

    chosen = (second.id, third.id, fourth.id)
    choice = runs.TrainChoice(model="echocare_test", study_ids=chosen, label_ids=(1,))
    snap = ProjectStore(runs.snapshot_data(store, choice))
    try:
        assert [s.rel_path for s in snap.studies()] == [f"../../{second.rel_path}", f"../../{third.rel_path}"]
        assert [lab.name for lab in snap.labels()] == ["lesion"]
        kept = snap.masks(snap.studies()[0].id)[0]
        assert kept.origin == Origin.HUMAN_FINAL and set(np.unique(kept.plane)) == {0, 1}
        assert snap.resolve(snap.studies()[0]) == store.resolve(second)
    finally:
        snap.close()
        store.close()
    cfg = from_dict(FinetuneCfg, runs.build_config(choice, tmp_path / "snap"))
    assert cfg.data.source == "project" and cfg.heads == ("segmentation",) and cfg.split.test == 0.3


def test_version_rows_list_the_stored_versions_with_their_lineage():
    base = store_tiny_model()
    rows = versions.version_rows()
    assert [(r.ref, r.active, r.heads, r.parent) for r in rows if not r.bundled] == [
        (base, True, ("segmentation",), "")
    ]
    assert rows[-1].primary == "-"
    assert versions.segmentation_refs() == [base] and versions.model_names() == ["loop-seg"]


def _clip(frames: int = 4) -> ArrayCine:
    rng = np.random.default_rng(0)
    return ArrayCine(rng.integers(0, 255, (frames, 40, 48), dtype=np.uint8), fps=10.0, path="clip.npy")


def test_segmentation_runs_through_the_engine_predictor_and_task():
    from engine.factory import load_model
    from engine.inference import Predictor
    from engine.tasks.runner import run_tasks

    ref = store_tiny_model()
    cine = _clip()
    seg = segment.segment(ref, cine, [1, 3])
    loaded = load_model(ref, device="cpu")
    predictor = Predictor(loaded, backend="torch", device="cpu")
    want = run_tasks(cine, predictor, loaded.cfg, loaded.ref, ["segmentation"], [1, 3])
    assert seg.frames == (1, 3) and seg.labels == ("lesion",)
    for got, expected in zip(seg.masks, want.tasks["segmentation"].frames, strict=True):
        assert got.shape == (40, 48)  # original frame pixels
        np.testing.assert_array_equal(got, expected.mask)
    assert [p.shape for p in seg.probs] == [(2, SIZE, SIZE)] * 2  # softmax at the model's input
    np.testing.assert_allclose(seg.probs[0].sum(0), 1.0, atol=1e-5)
    assert seg.features.shape[0] == 2 and seg.features.ndim == 2
    planes = replace(seg, masks=(np.ones((40, 48), np.uint8),) * 2).planes({"lesion": 7})
    assert sorted(planes) == [1, 3] and set(np.unique(planes[1])) == {7}


def test_segmentation_needs_a_segmentation_head():
    from engine.config import HeadCfg
    from engine.factory import create_model
    from engine.model_card import ModelCard
    from engine.model_store import save_version
    from engine.tasks.presets import all_heads_cfg

    head = HeadCfg("classification", "classification", ("a", "b"), {"num_classes": 2, "hidden": 8})
    cfg = replace(all_heads_cfg(name="cls-only", input_size=(SIZE, SIZE)), heads=(head,), measurements=())
    save_version(ModelCard(cfg), create_model(cfg).state_dict())
    with pytest.raises(TaskError):
        segment.segment("cls-only@1", _clip(), [0])


def test_rank_lists_the_budget_of_uncorrected_frames_once_each():
    ref = store_tiny_model()
    items = ranking.rank_frames(ref, _clip(8), budget=3, corrected=[0, 5])
    frames = [it.key for it in items]
    assert len(frames) == 3 == len(set(frames)) and not {0, 5} & set(frames)
    assert all(0 <= it.uncertainty <= 1 for it in items)


def _still_doc(n: int = 8) -> Document:
    frames = np.zeros((n, 24, 24), np.uint8)
    frames[:, 8:16, 6:14] = 200  # a bright square that never moves
    return Document(ArrayCine(frames, fps=10.0, path="still.npy"))


def _square() -> np.ndarray:
    plane = np.zeros((24, 24), np.uint8)
    plane[8:16, 6:14] = 1
    return plane


def test_the_plan_reads_the_span_between_the_neighbouring_keyframes():
    doc = _still_doc()
    assert propagation.plan_propagation(doc, 3) is None  # nothing corrected: nothing to carry
    for f in (1, 3, 6):
        doc.apply(mask_diff(f, np.zeros(doc.shape, np.uint8), _square(), None))
    plan = propagation.plan_propagation(doc, 3)
    assert (plan.first, plan.last, list(plan.frames)) == (1, 6, [1, 2, 3, 4, 5, 6])
    assert sorted(plan.masks) == [1, 3, 6] and not plan.tracks
    assert propagation.plan_propagation(doc, 2) is None  # frame 2 is no keyframe
    edge = propagation.plan_propagation(doc, 6)
    assert (edge.first, edge.last) == (3, 7)  # after the last keyframe: up to the cine's end


def test_propagated_masks_fill_the_span_as_one_undoable_draft_step():
    doc = _still_doc()
    for f in (1, 6):
        doc.apply(mask_diff(f, np.zeros(doc.shape, np.uint8), _square(), None))
    plan = propagation.plan_propagation(doc, 1)
    done = propagation.propagate(plan, [doc.frame_image(i) for i in plan.frames])
    assert sorted(done.masks) == [0, 2, 3, 4, 5]  # before frame 1 and up to the next keyframe
    step = propagation.propagation_step(doc, done)
    doc.apply(step)
    assert all(doc.mask_meta[f].origin == Origin.AI_DRAFT for f in (0, 2, 3, 4, 5))
    assert all(np.array_equal(doc.masks[f], _square()) for f in (0, 2, 5))
    assert doc.mask_meta[6].origin == Origin.HUMAN_FINAL and 7 not in doc.masks
    doc.history.undo()
    assert sorted(doc.masks) == [1, 6]
    assert propagation.propagation_step(doc, propagation.Propagated({}, {})) is None


def test_tracks_follow_human_keyframes_only():
    doc = Document(ArrayCine(np.zeros((6, 16, 16), np.uint8), fps=10.0, path="x.npy"))
    doc.apply(add(Annotation("landmark", 1, 1, ((3.0, 4.0),), name="apex")))
    doc.apply(add(Annotation("landmark", 4, 1, ((5.0, 4.0),), name="apex")))
    doc.apply(add(Annotation("landmark", 2, 1, ((9.0, 9.0),), name="other", origin=Origin.AI_DRAFT)))
    tracks = propagation.track_keyframes(doc, 4)
    assert list(tracks) == [("landmark", 1, "apex")] and sorted(tracks[("landmark", 1, "apex")]) == [1, 4]
    assert propagation.track_span(tracks[("landmark", 1, "apex")], 4, 6) == (1, 5)
    plan = propagation.plan_propagation(doc, 4)
    assert (plan.first, plan.last, plan.masks) == (1, 5, {})
    moved = propagation.propagate(plan, [doc.frame_image(i) for i in plan.frames]).tracks
    assert sorted(moved[("landmark", 1, "apex")]) == [2, 3, 5]  # still frames: points stay between keys
    np.testing.assert_allclose(moved[("landmark", 1, "apex")][5][0], (5.0, 4.0), atol=0.5)
