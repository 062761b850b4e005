"""Correct-next queue and propagation from the panel, on a simulated beating ventricle."""

from __future__ import annotations

import numpy as np
from loop_project import SIZE, store_tiny_model
from PySide6.QtCore import Qt

from app.model.commands import mask_diff
from engine.provenance import Origin
from engine.tasks.propagate import dice
from training.sim import SimConfig, simulate

N = 20


def open_ventricle(window, tmp_path):
    sim = simulate("cardiac", seed=0, cfg=SimConfig(height=SIZE, width=SIZE))
    path = tmp_path / "clips" / "lv.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, sim.frames[:N])
    assert window.open_path(path)
    return sim.truth.masks[:N]


def correct(doc, frame: int, plane: np.ndarray) -> None:
    doc.apply(mask_diff(frame, doc.mask_plane(frame).copy(), plane, doc.mask_meta.get(frame)))


def test_propagate_fills_only_the_affected_span_as_drafts(make_window, qtbot, tmp_path):
    window = make_window(studies=1)
    truth = open_ventricle(window, tmp_path)
    doc, queue = window.doc, window.loop_panels.queue
    correct(doc, 0, truth[0])
    correct(doc, 15, truth[15])
    doc.set_frame(0)
    qtbot.mouseClick(queue.propagate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not queue.busy(), timeout=30_000)
    assert sorted(doc.masks) == list(range(16))  # frames after the keyframe at 15 are not touched
    assert all(doc.mask_meta[f].origin == Origin.AI_DRAFT for f in range(1, 15))
    scores = [dice(doc.masks[f] == v, truth[f] == v) for f in range(1, 15) for v in (1, 2)]
    assert np.mean(scores) > 0.8

    correct(doc, 8, truth[8])  # a correction in the middle re-propagates its span only
    before = {f: doc.masks[f].copy() for f in range(1, 15)}
    doc.set_frame(8)
    window.actions["loop.propagate"].trigger()  # Loop > Propagate (Ctrl+Shift+P)
    qtbot.waitUntil(lambda: not queue.busy(), timeout=30_000)
    assert doc.mask_meta[8].origin == Origin.HUMAN_FINAL and doc.mask_meta[15].origin == Origin.HUMAN_FINAL
    assert any(not np.array_equal(before[f], doc.masks[f]) for f in (6, 7, 9, 10))
    assert 16 not in doc.masks
    doc.history.undo()  # the whole propagation is one step
    assert all(np.array_equal(before[f], doc.masks[f]) for f in before if f != 8)


def test_rank_lists_uncorrected_frames_and_jumps_to_them(make_window, qtbot, tmp_path):
    ref = store_tiny_model()
    window = make_window(studies=1)
    truth = open_ventricle(window, tmp_path)
    doc, queue = window.doc, window.loop_panels.queue
    correct(doc, 3, truth[3])
    queue.refresh_models()
    assert queue.model.currentText() == ref
    queue.budget.setValue(5)
    qtbot.mouseClick(queue.rank_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not queue.busy(), timeout=60_000)
    frames = [it.key for it in queue.items]
    assert len(frames) == 5 and 3 not in frames and len(set(frames)) == 5
    assert queue.list.count() == 5
    item = queue.list.item(2)
    queue.list.itemDoubleClicked.emit(item)
    assert doc.view.frame_index == frames[2]


def test_propagate_needs_a_corrected_frame(make_window, qtbot, tmp_path):
    window = make_window(studies=1)
    open_ventricle(window, tmp_path)
    queue = window.loop_panels.queue
    queue.propagate()
    assert "correct" in queue.status.text() and not window.doc.masks


def test_landmarks_and_boxes_are_carried_as_drafts(make_window, qtbot, tmp_path):
    from app.model.annotations import Annotation
    from app.model.commands import add

    window = make_window(studies=1)
    truth = open_ventricle(window, tmp_path)
    doc, queue = window.doc, window.loop_panels.queue

    def centre(f: int) -> np.ndarray:
        ys, xs = np.nonzero(truth[f] == 1)
        return np.array([xs.mean(), ys.mean()])

    def box(f: int) -> tuple:
        ys, xs = np.nonzero(truth[f] > 0)
        return ((xs.min(), ys.min()), (xs.max(), ys.max()))

    for f in (0, 12):
        doc.apply(add(Annotation("landmark", f, 1, (tuple(centre(f)),), name="lv centre")))
        doc.apply(add(Annotation("box", f, 1, box(f), name="lv")))
    doc.set_frame(12)
    qtbot.mouseClick(queue.propagate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not queue.busy(), timeout=30_000)
    drafts = [a for a in doc.annotations.values() if a.origin == Origin.AI_DRAFT]
    marks = {a.frame: a for a in drafts if a.kind == "landmark"}
    boxes = {a.frame: a for a in drafts if a.kind == "box"}
    assert sorted(marks) == sorted(boxes) == [*range(1, 12), *range(13, N)]
    for f, a in marks.items():
        assert np.hypot(*(np.array(a.points[0]) - centre(f))) < 4.0
    for f, a in boxes.items():
        (x0, y0), (x1, y1) = a.points
        (tx0, ty0), (tx1, ty1) = box(f)
        assert max(abs(x0 - tx0), abs(y0 - ty0), abs(x1 - tx1), abs(y1 - ty1)) < 5.0
    assert not doc.masks  # no mask was corrected, so none is propagated
