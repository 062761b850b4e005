"""The Smart tool through the window: clicks and a box give a preview that is not in the document,
Enter keeps it as one undoable AI-assisted edit that is saved and reopened, Esc drops it; a frame
not encoded yet answers under a busy cursor; the embedding cache warms outward from the shown
frame and follows it; a model without a prompt head says so and changes nothing; clicks on the
enhanced view are frame pixels too."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from app.model.commands import PutEnhanced
from app.model.smart import SmartModel, outward
from engine.provenance import Origin

WARM_TIMEOUT_MS = 120_000


@pytest.fixture(scope="session")
def prompt_state():
    """Random weights of the tiny all-heads model with a prompt head (built once)."""
    import torch

    from engine.config import HeadCfg
    from engine.factory import create_model
    from engine.tasks.presets import all_heads_cfg

    base = all_heads_cfg(name="echocare-prompt", input_size=(64, 64), width=4)
    cfg = replace(base, heads=(*base.heads, HeadCfg("prompt", "prompt", (), {"width": 8})))
    torch.manual_seed(0)
    return cfg, create_model(cfg).state_dict()


@pytest.fixture
def prompt_model(prompt_state):
    """The tiny prompt model saved as version 1 in this test's user model store."""
    from engine.model_card import ModelCard
    from engine.model_store import save_version

    cfg, state = prompt_state
    return save_version(ModelCard.from_cfg(cfg), state)


@pytest.fixture
def smart(make_window, sample_file, prompt_model):
    """A window on the 12-frame sample with the prompt model chosen; warming is off unless a
    test turns it on (so a test decides which frames are encoded)."""
    window = make_window()
    window.refresh_models()
    assert window.open_path(sample_file)
    window.inference.select_model(f"{prompt_model.name}@{prompt_model.version}")
    return window


@pytest.fixture
def no_warming(monkeypatch):
    from app.qt.smart_controller import SmartController

    monkeypatch.setattr(SmartController, "_warm", lambda self: None)


def click(window, x, y, button=Qt.MouseButton.LeftButton, box=None):
    """A real click at frame pixel (x, y) on the main view (or ``box``, e.g. the side view)."""
    box = box or window.view.box
    pos = window.view.mapFromScene(box.mapViewToScene(QPointF(x, y)))
    viewport = window.view.viewport()
    for kind, buttons in ((QEvent.Type.MouseButtonPress, button), (QEvent.Type.MouseButtonRelease, None)):
        event = QMouseEvent(
            kind, QPointF(pos), QPointF(viewport.mapToGlobal(pos)), button,
            buttons or Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
        )  # fmt: skip
        QApplication.sendEvent(viewport, event)
    QApplication.processEvents()


def test_outward_order():
    assert list(outward(3, 7)) == [3, 4, 2, 5, 1, 6, 0]
    assert list(outward(0, 4)) == [0, 1, 2, 3]
    assert list(outward(5, 6)) == [5, 4, 3, 2, 1, 0]
    assert list(outward(6, 6)) == []


def test_click_preview_keep_undo_redo_save_reopen(
    smart, no_warming, make_window, tmp_path, mouse, prompt_model
):
    window, doc = smart, smart.doc
    window.actions["tool.smart"].trigger()
    assert doc.view.tool == "smart" and window.actions["tool.smart"].shortcut().toString() == "M"
    assert not window.actions["tool.keep"].isEnabled(), "Enter is the viewer's only while a mask is proposed"
    doc.set_frame(2)
    mouse.drag(window, [(40, 60)])  # a click: a positive point
    tool = window.tool
    assert tool.preview_marks == [pytest.approx((40, 60, True), abs=0.5)]
    preview = tool.preview_mask.copy()
    assert preview.shape == doc.shape and 0 < preview.sum() < preview.size
    assert window.view.preview.shown, "the proposal is drawn over the frame"
    shown = window.view.preview.mask.image
    assert shown.shape == (*doc.shape, 4) and (shown[..., 3] > 0).sum() == preview.sum()
    assert not doc.masks and not doc.history.can_undo, "the preview is not in the document"
    assert "quality 0." in window.last_message and "echocare-prompt v1" in window.last_message

    click(window, 100, 20, Qt.MouseButton.RightButton)  # a negative point refines it
    assert [m[2] for m in tool.preview_marks] == [True, False]
    preview = tool.preview_mask.copy()
    assert window.actions["tool.keep"].isEnabled()
    window.actions["tool.keep"].trigger()  # Enter
    assert not window.view.preview.shown and tool.preview_marks == []
    kept = doc.mask(2).copy()
    np.testing.assert_array_equal(kept == 1, preview)
    meta = doc.mask_meta[2]
    assert meta.origin is Origin.HUMAN_FINAL and meta.model.label() == "echocare-prompt v1"
    assert doc.history.undo_text == "smart mask (echocare-prompt v1)"

    window.undo()
    assert not doc.mask(2).any() and 2 not in doc.mask_meta
    window.redo()
    np.testing.assert_array_equal(doc.mask(2), kept)
    window.actions["file.save"].trigger()
    assert not window.session.dirty
    window.close()

    again = make_window(project=tmp_path / "proj")
    (study,) = again.session.store.studies()
    assert again.open_study(study.id)
    np.testing.assert_array_equal(again.doc.mask(2), kept)
    meta = again.doc.mask_meta[2]
    assert meta.origin is Origin.HUMAN_FINAL and (meta.model.name, meta.model.version) == (
        prompt_model.name,
        "1",
    ), "the AI-assisted mask keeps the model version that drew it"


def test_esc_drops_the_proposal_and_leaves_the_document_unchanged(smart, no_warming, mouse):
    window, doc = smart, smart.doc
    window.set_tool("smart")
    mouse.drag(window, [(40, 60)])
    mouse.drag(window, [(20, 40), (50, 70), (70, 90)])  # a drag: the box
    tool = window.tool
    assert tool.box is not None, window.last_message
    assert tool.box == pytest.approx((20, 40, 70, 90), abs=0.5) and tool.preview_mask is not None
    assert len(tool.preview) == 4, "the box is drawn"
    window.actions["tool.drop"].trigger()  # Esc
    assert tool.preview_mask is None and tool.box is None and tool.preview == []
    assert not window.view.preview.shown
    assert not doc.masks and not doc.mask_meta and not doc.history.can_undo and not window.session.dirty
    assert not window.actions["tool.keep"].isEnabled() and not window.actions["tool.drop"].isEnabled()
    window.actions["tool.keep"].trigger()  # Enter with nothing proposed changes nothing
    assert not doc.masks


def test_moving_to_another_frame_drops_the_proposal(smart, no_warming, mouse):
    window, doc = smart, smart.doc
    window.set_tool("smart")
    mouse.drag(window, [(40, 60)])
    assert window.tool.pending
    doc.set_frame(4)
    assert not window.tool.pending and not window.view.preview.shown and not doc.masks


def test_a_click_on_a_frame_not_encoded_shows_a_busy_cursor_and_still_answers(
    smart, no_warming, mouse, monkeypatch
):
    window, doc = smart, smart.doc
    seen = []
    segment = SmartModel.segment

    def spy(self, frame, *args):
        cursor = QApplication.overrideCursor()
        seen.append((frame, self.is_ready(frame), cursor.shape() if cursor is not None else None))
        return segment(self, frame, *args)

    monkeypatch.setattr(SmartModel, "segment", spy)
    window.set_tool("smart")
    doc.set_frame(7)
    mouse.drag(window, [(40, 60)])
    assert seen == [(7, False, Qt.CursorShape.WaitCursor)]
    assert QApplication.overrideCursor() is None, "the busy cursor is gone after the answer"
    assert window.tool.preview_mask is not None and "with the image encoder" in window.last_message
    window.drop_proposal()
    mouse.drag(window, [(60, 60)])  # a first click again: the frame's features are cached now
    assert seen[1] == (7, True, None)
    assert window.tool.preview_mask is not None and "with the image encoder" not in window.last_message


def test_the_cache_warms_outward_from_the_shown_frame_and_follows_it(smart, qtbot):
    window, doc = smart, smart.doc
    doc.set_frame(6)
    order, gate = [], threading.Event()
    warm_one = SmartModel.warm_one

    def spy(self, centre):
        found = warm_one(self, centre)
        if found is not None:
            order.append(found)
        if len(order) == 3:
            gate.wait(30)  # hold the pass while the user moves to another frame
        return found

    qtbot_patch = pytest.MonkeyPatch()
    qtbot_patch.setattr(SmartModel, "warm_one", spy)
    try:
        with qtbot.waitSignal(window.smart.warmed, timeout=WARM_TIMEOUT_MS):
            window.set_tool("smart")
            qtbot.waitUntil(lambda: len(order) == 3, timeout=WARM_TIMEOUT_MS)
            doc.set_frame(1)
            gate.set()
    finally:
        qtbot_patch.undo()
    assert order[:3] == [6, 7, 5], "outward from the shown frame"
    assert order[3:6] == [1, 2, 0], "then outward from the frame scrubbed to"
    assert sorted(order) == list(range(12)) and len(order) == 12, "each frame encoded once"
    model = window.smart.model
    assert all(model.is_ready(i) for i in range(12))
    window.set_tool("brush")
    assert not window.smart.warming


def test_a_model_without_a_prompt_head_says_so_and_changes_nothing(
    make_window, sample_file, stored_model, mouse
):
    window = make_window()
    window.refresh_models()
    assert window.open_path(sample_file)
    window.actions["tool.smart"].trigger()
    line = window.last_message
    assert "has no prompt head" in line and stored_model.name in line and "\n" not in line
    mouse.drag(window, [(40, 60)])
    assert window.tool.preview_mask is None and not window.tool.pending
    assert not window.doc.masks and not window.doc.history.can_undo
    assert "has no prompt head" in window.last_message
    assert not window.smart.warming


def test_a_build_without_torch_says_the_smart_tool_needs_the_full_build(prompt_state, monkeypatch):
    import importlib.util

    from app.model.smart import no_prompt_head
    from engine.model_card import ModelCard

    card = ModelCard.from_cfg(prompt_state[0])
    assert no_prompt_head(card) is None
    find = importlib.util.find_spec
    no_torch = lambda name, *a: None if name == "torch" else find(name, *a)  # noqa: E731
    monkeypatch.setattr(importlib.util, "find_spec", no_torch)
    line = no_prompt_head(card)
    assert line is not None and "torch" in line and "full build" in line and "\n" not in line


def test_clicks_on_the_enhanced_view_are_frame_pixels(smart, no_warming):
    window, doc = smart, smart.doc
    doc.apply(PutEnhanced({0: np.full(doc.shape, 120, np.uint8)}, {0: None}))
    window.set_tool("smart")
    window.toggle_enhancement("on")
    assert window.view.showing_enhanced == "on"
    click(window, 40, 60)
    assert window.tool.preview_marks == [pytest.approx((40, 60, True), abs=0.5)]
    window.toggle_enhancement("side")
    assert window.view.showing_enhanced == "side"
    click(window, 100, 30, Qt.MouseButton.RightButton, box=window.view.side_box)
    assert window.tool.preview_marks[1] == pytest.approx((100, 30, False), abs=0.5)
    assert window.view.side_preview.shown and window.view.preview.shown
    window.keep_proposal()
    assert doc.mask(0).any()


def _answer(frame, quality):
    from app.model.smart import Answer
    from engine.provenance import ModelRef

    return Answer(frame, np.zeros((4, 4), bool), quality, "0 px²", ModelRef("m", "1"), 1.0, False)


def test_frames_whose_predicted_quality_dropped_go_to_review():
    from app.model.smart import Propagation, low_quality
    from engine.provenance import ModelRef

    qualities = {4: 0.93, 6: 0.85, 7: 0.79, 3: 0.9}
    done = Propagation(5, 0.96, {f: _answer(f, q) for f, q in qualities.items()}, ModelRef("m", "1"))
    assert [f for f, _ in low_quality(done)] == [6, 7], (
        "0.85 is 0.11 under the prompted frame, 0.79 below 0.8"
    )
    assert low_quality(done)[1][1] == "prompt quality 0.79 (+0.17 below frame 6)"


def test_propagate_with_the_prompt_head_writes_drafts_up_to_the_keyframes_and_queues_low_quality(
    smart, no_warming, qtbot, mouse, monkeypatch
):
    window, doc = smart, smart.doc
    doc.set_frame(9)
    window.set_tool("lasso")
    mouse.drag(window, [(10, 10), (40, 10), (40, 40), (10, 40)])  # a keyframe the propagation stops at
    keyframe = doc.mask(9).copy()
    doc.set_frame(5)
    window.set_tool("smart")
    mouse.drag(window, [(40, 60)])
    window.keep_proposal()
    start = doc.mask(5).copy()
    assert start.any()
    runs = []
    propagate = SmartModel.propagate

    def spy(self, *args, **kwargs):
        runs.append(propagate(self, *args, **kwargs))
        return runs[-1]

    monkeypatch.setattr(SmartModel, "propagate", spy)
    queue = window.loop_panels.queue
    queue.method.setCurrentIndex(queue.method.findData("prompt"))
    window.actions["loop.propagate"].trigger()
    qtbot.waitUntil(lambda: not queue.busy(), timeout=WARM_TIMEOUT_MS)
    (done,) = runs
    assert sorted(done.frames) == [0, 1, 2, 3, 4, 6, 7, 8], "up to the keyframe, not over it"
    drafted = sorted(f for f, m in doc.mask_meta.items() if m.origin is Origin.AI_DRAFT)
    assert drafted == sorted(f for f, a in done.frames.items() if a.mask.any())
    for f in drafted:
        meta = doc.mask_meta[f]
        assert meta.model.label() == "echocare-prompt v1" and meta.review.value == "pending"
        np.testing.assert_array_equal(doc.mask(f) == 1, done.frames[f].mask)
    np.testing.assert_array_equal(doc.mask(9), keyframe)
    np.testing.assert_array_equal(doc.mask(5), start)
    expected = [
        f for f, a in sorted(done.frames.items()) if a.quality < 0.8 or done.quality - a.quality > 0.1
    ]
    rows = [queue.list.item(i) for i in range(queue.list.count())]
    assert [r.data(Qt.ItemDataRole.UserRole) for r in rows] == expected
    assert all("prompt quality" in r.text() for r in rows)
    assert "echocare-prompt v1" in queue.status.text()
    assert rows, "the tiny model's random weights predict low quality"
    queue.list.itemActivated.emit(rows[-1])
    assert doc.view.frame_index == expected[-1], "a queued frame opens on activation"
    window.undo()  # one step removes every propagated mask
    assert not any(m.origin is Origin.AI_DRAFT for m in doc.mask_meta.values())
    np.testing.assert_array_equal(doc.mask(5), start)


def test_propagate_with_the_prompt_head_needs_a_mask_and_a_prompt_model(
    make_window, sample_file, stored_model
):
    window = make_window()
    window.refresh_models()
    assert window.open_path(sample_file)
    queue = window.loop_panels.queue
    queue.method.setCurrentIndex(queue.method.findData("prompt"))
    window.actions["loop.propagate"].trigger()
    assert queue.status.text().startswith("draw or keep a LV mask on this frame first")
    doc = window.doc
    window.set_tool("lasso")
    window.tool.press(10, 10)
    for p in [(40, 10), (40, 40)]:
        window.tool.move(*p)
    window.tool.release(10, 40)
    window.actions["loop.propagate"].trigger()
    assert "has no prompt head" in queue.status.text() and not queue.busy()
    assert list(doc.mask_meta) == [0]


def test_enter_and_esc_on_the_viewer_keep_and_drop(smart, no_warming, qtbot, mouse):
    from PySide6.QtTest import QTest

    window, doc = smart, smart.doc
    window.activateWindow()
    window.view.setFocus()
    qtbot.waitUntil(lambda: window.view.hasFocus())
    window.set_tool("smart")
    mouse.drag(window, [(40, 60)])
    QTest.keyClick(window.view, Qt.Key.Key_Escape)
    assert not window.tool.pending and not doc.masks
    mouse.drag(window, [(40, 60)])
    preview = window.tool.preview_mask.copy()
    window.findings.value_name.setFocus()  # Enter in a text field is the field's
    qtbot.waitUntil(lambda: window.findings.value_name.hasFocus())
    QTest.keyClick(window.findings.value_name, Qt.Key.Key_Return)
    assert window.tool.pending and not doc.masks
    window.view.setFocus()
    qtbot.waitUntil(lambda: window.view.hasFocus())
    QTest.keyClick(window.view, Qt.Key.Key_Return)
    assert not window.tool.pending
    np.testing.assert_array_equal(doc.mask(0) == 1, preview)


@pytest.fixture
def two_reading_model(prompt_state):
    """The tiny prompt model with its second output made the whole frame, rated high: every
    click then has a larger other reading than the first output's mask."""
    from engine.model_card import ModelCard
    from engine.model_store import save_version

    cfg, state = prompt_state
    state = {k: v.clone() for k, v in state.items()}
    state["heads.prompt.out.weight"][1] = 0.0
    state["heads.prompt.out.bias"][1] = 5.0
    state["heads.prompt.quality.2.bias"][:] = 8.0
    return save_version(ModelCard.from_cfg(replace(cfg, version="2")), state)


def test_tab_shows_the_other_reading_and_enter_keeps_the_one_shown(
    make_window, sample_file, two_reading_model, no_warming, mouse, qtbot
):
    from PySide6.QtTest import QTest

    window = make_window()
    window.refresh_models()
    assert window.open_path(sample_file)
    window.inference.select_model(f"{two_reading_model.name}@{two_reading_model.version}")
    doc = window.doc
    window.set_tool("smart")
    assert not window.actions["tool.other"].isEnabled(), "nothing proposed: Tab is the focus chain's"
    mouse.drag(window, [(40, 60)])
    tool = window.tool
    first, first_area = tool.preview_mask.copy(), tool.answer.area
    assert 0 < first.sum() < first.size and tool.has_other
    assert window.actions["tool.other"].isEnabled() and "Tab shows the other reading" in window.last_message
    window.activateWindow()
    window.view.setFocus()
    qtbot.waitUntil(lambda: window.view.hasFocus())
    QTest.keyClick(window.view, Qt.Key.Key_Tab)
    assert tool.preview_mask.all(), "the larger reading (here the whole frame) is shown"
    assert window.view.preview.shown and f"other reading ({first_area})" in window.last_message
    QTest.keyClick(window.view, Qt.Key.Key_Tab)
    np.testing.assert_array_equal(tool.preview_mask, first)  # and back
    QTest.keyClick(window.view, Qt.Key.Key_Tab)
    assert not doc.masks, "showing a reading changes nothing in the document"
    QTest.keyClick(window.view, Qt.Key.Key_Return)
    assert (doc.mask(0) == 1).all() and doc.history.can_undo, "Enter keeps the reading shown"
    assert not window.actions["tool.other"].isEnabled()


def test_an_answer_the_model_is_unsure_of_says_so_and_what_would_settle_it():
    from dataclasses import replace

    sure, unsure = _answer(0, 0.8), _answer(0, 0.3)
    assert not sure.unsure and "unsure" not in sure.line()
    assert (
        unsure.unsure
        and "quality 0.30, unsure: add a click inside or outside, or drag a box" in unsure.line()
    )
    shown = replace(unsure, other=(np.ones((4, 4), bool), 0.8, "16 px²")).swapped()
    assert not shown.unsure and shown.other[1] == 0.3, "the other reading carries its own quality"


def test_an_unsure_proposal_is_drawn_faint(smart, no_warming, mouse, monkeypatch):
    from dataclasses import replace

    from app.qt.viewer.tool_preview import FAINT_ALPHA, FILL_ALPHA

    window, doc = smart, smart.doc
    window.set_tool("smart")
    tool = window.tool
    asked = tool.ctx.prompt
    quality = {"value": 0.2}
    monkeypatch.setattr(tool.ctx, "prompt", lambda *a: replace(asked(*a), quality=quality["value"]))
    mouse.drag(window, [(40, 60)])
    inside = window.view.preview.mask.image[..., 3]
    assert tool.preview_faint and FAINT_ALPHA in inside and FILL_ALPHA not in inside
    assert "unsure: add a click" in window.last_message
    quality["value"] = 0.9
    mouse.drag(window, [(44, 60)])  # a second click: the model is sure now
    inside = window.view.preview.mask.image[..., 3]
    assert not tool.preview_faint and FILL_ALPHA in inside and "unsure" not in window.last_message
    assert not doc.masks
