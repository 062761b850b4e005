from __future__ import annotations

import numpy as np

from app.model import commands
from app.model.annotations import Annotation, Review
from app.model.document import Document
from app.model.mask_ops import Stroke, fill_polygon, flood_fill, whole_plane_edit
from engine.provenance import ModelRef, Origin

MODEL = ModelRef("echocare-demo", "1", "abc")


def test_one_brush_stroke_is_one_undo_step(cine):
    doc = Document(cine)
    stroke = Stroke(doc, frame=3, value=2, radius=4)
    for x in range(20, 60, 3):
        stroke.add(x, 50)
    painted = doc.mask(3).copy()
    assert stroke.finish() is not None
    assert (painted == 2).sum() > 40 * 6
    assert doc.history.can_undo and doc.history.undo_text == "brush stroke"
    doc.history.undo()
    assert not doc.mask(3).any()
    assert not doc.history.can_undo
    doc.history.redo()
    np.testing.assert_array_equal(doc.mask(3), painted)


def test_eraser_restores_background_and_undo_brings_paint_back(cine):
    doc = Document(cine)
    s = Stroke(doc, 0, 1, 6)
    s.add(50, 50)
    s.finish()
    e = Stroke(doc, 0, 0, 3)
    e.add(50, 50)
    e.finish()
    assert doc.mask(0)[50, 50] == 0 and doc.mask(0)[50, 55] == 1
    doc.history.undo()
    assert doc.mask(0)[50, 50] == 1


def test_lasso_and_flood_fill_are_undoable(cine):
    doc = Document(cine)
    whole_plane_edit(doc, 1, "lasso", lambda p: fill_polygon(p, [(10, 10), (40, 10), (40, 40), (10, 40)], 3))
    assert doc.mask(1)[25, 25] == 3 and doc.mask(1)[5, 5] == 0
    whole_plane_edit(doc, 1, "fill", lambda p: flood_fill(p, 25, 25, 4))
    assert (doc.mask(1) == 4).sum() == (doc.mask(1) != 0).sum() == 31 * 31
    doc.history.undo()
    assert doc.mask(1)[25, 25] == 3


def test_editing_an_ai_draft_makes_it_a_human_correction(cine):
    doc = Document(cine)
    box = Annotation("box", 2, 1, ((10, 10), (30, 30)))
    doc.apply(commands.apply_prediction(doc, MODEL, [box], {2: np.ones(doc.shape, np.uint8)}))
    (stored,) = doc.annotations.values()
    assert stored.origin is Origin.AI_DRAFT and stored.model == MODEL and stored.review is Review.PENDING
    assert doc.mask_meta[2].origin is Origin.AI_DRAFT
    doc.apply(commands.update(stored, stored.moved_to(((12, 12), (32, 30)))))
    moved = doc.annotations[stored.id]
    assert moved.origin is Origin.HUMAN_FINAL and moved.model == MODEL and moved.points[0] == (12.0, 12.0)
    doc.history.undo()
    doc.history.undo()  # the whole prediction is one step
    assert not doc.annotations and not doc.mask(2).any()


def test_accept_and_reject_are_undoable(cine):
    doc = Document(cine)
    doc.apply(commands.apply_prediction(doc, MODEL, [Annotation("landmark", 0, 1, ((5, 5),))]))
    (ann_id,) = doc.annotations
    doc.apply(commands.review(doc, [ann_id], Review.REJECTED))
    assert doc.annotations[ann_id].review is Review.REJECTED
    doc.history.undo()
    assert doc.annotations[ann_id].review is Review.PENDING


def test_group_collects_pushes_into_one_step(cine):
    doc = Document(cine)
    with doc.history.group("two marks"):
        doc.apply(commands.add(Annotation("frame_mark", 1, value="ED")))
        doc.apply(commands.add(Annotation("frame_mark", 6, value="ES")))
    assert doc.frame_marks() == {"ED": [1], "ES": [6]}
    doc.history.undo()
    assert doc.frame_marks() == {"ED": [], "ES": []}


def test_view_state_announces_changes_and_clamps_frames(cine):
    doc = Document(cine)
    seen = []
    doc.view.changed.connect(lambda name, value: seen.append((name, value)))
    doc.set_frame(99)
    doc.view.window = (10.0, 100.0)
    doc.view.window = (10.0, 100.0)
    assert seen == [("frame_index", cine.n_frames - 1), ("window", (10.0, 100.0))]


def test_new_edit_clears_redo(cine):
    doc = Document(cine)
    doc.apply(commands.add(Annotation("landmark", 0, 1, ((1, 1),))))
    doc.history.undo()
    assert doc.history.can_redo
    doc.apply(commands.add(Annotation("landmark", 0, 1, ((2, 2),))))
    assert not doc.history.can_redo


def test_every_view_state_field_announces_its_change(cine):
    from dataclasses import fields

    doc = Document(cine)
    new_values = {
        "frame_index": 5,
        "window": (1.0, 2.0),
        "active_label": 3,
        "tool": "brush",
        "selected": "abc",
        "speed": 2.0,
        "loop": False,
        "playing": True,
        "enhancement": "side",
        "min_score": 0.5,
    }
    seen = []
    doc.view.changed.connect(lambda name, value: seen.append(name))
    public = [f.name for f in fields(doc.view) if f.name != "changed"]
    assert sorted(public) == sorted(new_values)
    for name in public:
        setattr(doc.view, name, new_values[name])
    assert seen == public


def test_painting_over_an_ai_mask_keeps_the_drafting_model(cine):
    doc = Document(cine)
    doc.apply(commands.apply_prediction(doc, MODEL, masks={4: np.ones(doc.shape, np.uint8)}))
    stroke = Stroke(doc, 4, 0, 3)
    stroke.add(20, 20)
    stroke.finish()
    meta = doc.mask_meta[4]
    assert meta.origin is Origin.HUMAN_FINAL and meta.model == MODEL and meta.review is Review.ACCEPTED
    doc.history.undo()
    assert doc.mask_meta[4].origin is Origin.AI_DRAFT
