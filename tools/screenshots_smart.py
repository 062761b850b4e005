"""Screenshots of the Smart tool for the user guide: the real app on the bundled breast sample.

    xvfb-run -a -s "-screen 0 1280x900x24" .venv/bin/python tools/screenshots_smart.py

Uses ``tools/screenshots.py``'s window driver and the bundled demo model, which must have a
prompt head (the script stops and says so otherwise). One click on the lesion gives the
proposed mask (16); Enter keeps it and the prompt head carries it through the cine from the
Correct next panel, which lists the frames whose predicted quality dropped (17). On the cardiac
sample a click in the LV cavity and Tab show the click's other reading, the whole ventricle
(24). Without a display it falls back to Qt's offscreen platform.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tools"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from screenshots import DEFAULT_MODEL, RUN_TIMEOUT_S, Shooter, pick_model, private_session, say  # noqa: E402

LESION = (240.0, 235.0)  # frame pixels of the lesion's centre in breast_lesion_cine.dcm, frame 0
LV_CAVITY = (305.0, 262.0)  # frame pixels inside the LV cavity of cardiac_lv_cine.dcm, frame 0
PROPAGATE_TO = 8  # the last frame the mask is carried to (a short span keeps the run short)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"), help="folder for the PNGs")
    p.add_argument("--model", default=DEFAULT_MODEL, help="model name or name@version with a prompt head")
    args = p.parse_args(argv)
    tmp = private_session()
    Shooter.focus_docks = lambda self: None  # type: ignore[method-assign]  # the app's own layout
    s = Shooter(Path(args.out), tmp / "project")
    w = s.window
    w.docks["Studies"].hide()  # the model panel gets the left side
    model = pick_model(args.model)
    w.inference.select_model(model)
    s.pump(100)
    from app.model.smart import no_prompt_head

    problem = no_prompt_head(w.inference.choice.card)
    if problem:
        raise SystemExit(f"screenshots: {problem}")
    s.open("breast_lesion_cine.dcm")
    doc = w.doc
    lesion = next((lab.id for lab in doc.labels if lab.name.lower() == "lesion"), doc.view.active_label)
    doc.view.active_label = lesion
    w.set_tool("smart")
    w.actions["tool.smart"].setChecked(True)
    s.gesture("smart", [LESION], clicks=True)
    say(w.last_message)
    s.raise_dock("Annotations")
    s.shot("16_smart_tool_click_preview")

    w.keep_proposal()
    say(w.last_message)
    queue = w.loop_panels.queue
    w.loop_panels.docks["Correct next"].raise_()
    queue.method.setCurrentIndex(queue.method.findData("prompt"))
    # stop the carried masks at frame PROPAGATE_TO: a keyframe of the lesion just after it
    doc.set_frame(PROPAGATE_TO + 1)
    s.gesture("smart", [LESION], clicks=True)
    w.keep_proposal()
    doc.set_frame(0)
    w.set_tool("navigate")
    start = time.monotonic()
    queue.propagate()
    while queue.busy() and time.monotonic() - start < RUN_TIMEOUT_S:
        s.pump(100)
    say(f"{queue.status.text()} ({time.monotonic() - start:.0f} s)")
    doc.set_frame(PROPAGATE_TO // 2)
    s.shot("17_prompt_propagation_queue")

    s.open("cardiac_lv_cine.dcm")
    w.set_tool("smart")
    w.actions["tool.smart"].setChecked(True)
    s.gesture("smart", [LV_CAVITY], clicks=True)
    say(w.last_message)
    w.other_proposal()  # Tab
    say(w.last_message)
    s.shot("24_smart_tool_other_reading")
    w.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
