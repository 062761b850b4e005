"""Each tool through the window: one gesture makes one undoable command of the right shape."""

from __future__ import annotations

import numpy as np
import pytest

from engine.provenance import Origin


def gesture(window, tool, points):
    window.set_tool(tool)
    window.tool.press(*points[0])
    for p in points[1:-1]:
        window.tool.move(*p)
    return window.tool.release(*points[-1])


def test_box_draw_move_resize_relabel_each_one_step(window):
    gesture(window, "box", [(10, 10), (30, 30), (40, 35)])
    (box,) = window.doc.of_kind("box")
    assert box.points == ((10.0, 10.0), (40.0, 35.0)) and box.label_id == 1
    gesture(window, "box", [(20, 20), (25, 22)])  # drag inside: move by (5, 2)
    assert window.doc.annotations[box.id].points == ((15.0, 12.0), (45.0, 37.0))
    gesture(window, "box", [(45, 37), (50, 50)])  # drag a corner: resize
    assert window.doc.annotations[box.id].points == ((15.0, 12.0), (50.0, 50.0))
    window.doc.view.active_label = 3
    window.actions["edit.relabel"].trigger()
    assert window.doc.annotations[box.id].label_id == 3
    for _ in range(3):
        window.undo()
    assert window.doc.annotations[box.id].points == ((10.0, 10.0), (40.0, 35.0))


def test_landmark_place_and_drag(window):
    gesture(window, "landmark", [(20, 20), (20, 20)])
    (mark,) = window.doc.of_kind("landmark")
    gesture(window, "landmark", [(21, 21), (30, 35)])
    assert window.doc.annotations[mark.id].points == ((30.0, 35.0),)
    assert len(window.doc.of_kind("landmark")) == 1
    window.undo()
    assert window.doc.annotations[mark.id].points == ((20.0, 20.0),)


def test_lasso_fill_and_eraser(window):
    frame = window.doc.view.frame_index
    gesture(window, "lasso", [(10, 10), (50, 10), (50, 50), (10, 50)])
    assert window.doc.mask(frame)[30, 30] == 1 and window.doc.mask(frame)[60, 60] == 0
    window.doc.view.active_label = 2
    gesture(window, "fill", [(30, 30), (30, 30)])
    assert window.doc.mask(frame)[30, 30] == 2 and window.doc.mask(frame)[5, 5] == 0
    gesture(window, "eraser", [(30, 30), (30, 30)])
    assert window.doc.mask(frame)[30, 30] == 0 and window.doc.mask(frame)[15, 15] == 2
    assert window.doc.mask_meta[frame].origin is Origin.HUMAN_FINAL
    for _ in range(3):
        window.undo()
    assert not window.doc.mask(frame).any()


@pytest.mark.parametrize(
    ("tool", "points", "expected_mm"),
    [
        ("ellipse", [(10, 10), (50, 30)], 3.14159265 * 5.0 * 2.5),  # semi-axes 20 px, 10 px at 0.25 mm/px
        ("area", [(10, 10), (30, 10), (30, 30), (10, 30)], 25.0),  # 20 x 20 px = 5 x 5 mm
    ],
)
def test_area_calipers_in_mm2(window, tool, points, expected_mm):
    gesture(window, tool, points)
    assert window.last_message == f"{tool}: {expected_mm:.1f} mm²"


def test_angle_takes_three_clicks(window):
    window.set_tool("angle")
    for x, y in [(30, 10), (10, 10)]:
        window.tool.press(x, y)
        assert window.tool.release(x, y) is None
    window.tool.press(10, 40)
    assert window.tool.release(10, 40) is not None
    assert window.last_message == "angle: 90.0°"


def test_window_level_drag_changes_the_display_levels(window):
    before = window.doc.view.window
    gesture(window, "window_level", [(10, 10), (50, 30)])
    lo, hi = window.doc.view.window
    assert hi - lo == pytest.approx(before[1] - before[0] + 40)
    assert tuple(window.view.image.levels) == pytest.approx((lo, hi))
    window.actions["view.reset_window"].trigger()
    assert window.doc.view.window == before


def test_zoom_actions_and_fit(window):
    def width():
        (x0, x1), _ = window.view.box.viewRange()
        return x1 - x0

    start = width()
    window.actions["view.zoom_in"].trigger()
    assert width() == pytest.approx(start / 1.25, rel=1e-3)
    window.actions["view.zoom_out"].trigger()
    window.actions["view.zoom_out"].trigger()
    assert width() > start
    window.actions["view.fit"].trigger()
    assert width() == pytest.approx(start, rel=0.05)


def test_a_label_added_by_model_results_is_drawn_in_colour(window):
    # model results name their labels; a name the schema lacks becomes a new label, and its
    # pixels must show in the overlay at once, not stay transparent until a colour change
    from app.model.inference import label_id

    doc = window.doc
    frame = doc.view.frame_index
    new_id = label_id(doc.labels, "lv_cavity")
    plane = doc.mask_plane(frame)
    index = np.flatnonzero(np.ones(plane.size, bool))[:50]
    doc.write_mask(frame, index, np.full(index.size, new_id, np.uint8), None)
    lut = window.view.mask_item.lut
    assert window.view.mask_item.isVisible()
    assert lut is not None and lut[new_id][3] > 0
    assert tuple(lut[new_id][:3]) == doc.labels.get(new_id).color
