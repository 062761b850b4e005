"""Screenshots of exam-aware inference for the user guide: the real app on the bundled cardiac sample.

    xvfb-run -a -s "-screen 0 1280x900x24" .venv/bin/python tools/screenshots_exam.py

Uses ``tools/screenshots.py``'s window driver. So that every state can be shown on one sample
(an exam set by hand, an unknown exam, drafts under the card's thresholds), the pictures use the
tiny all-heads model (``engine.tasks.presets.all_heads_cfg``: a cardiac and a
breast exam) with random weights, stored in a temporary model store with a calibration block in
its card (score thresholds and ECE); the script says so. Its own exam decision is arbitrary, so
the pictures show a person's exam: cardiac (what runs and what is skipped), unknown (the one
line and what is offered), and the score slider with drafts hidden by the card's thresholds.
The last picture uses the bundled echocare-demo v2 on a copy of the breast sample whose header
says heart: its breast exam is withheld (``engine.exams.against_header``).
Without a display it falls back to Qt's offscreen platform.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tools"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from screenshots import DEFAULT_MODEL, Shooter, pick_model, private_session, say  # noqa: E402  (tools/screenshots.py)

CALIBRATION = {
    "exam": {"temperature": 1.0, "min_prob": 0.0},
    "classification": {
        "thresholds": {"normal": 0.55, "abnormal": 0.55},
        "ece_before": 0.12,
        "ece_after": 0.03,
    },
    "detection": {"thresholds": {"lesion": 0.5, "valve": 0.5}},
}


def store_model() -> str:
    """The tiny all-heads model with random weights and a calibrated card, in a temporary store."""
    import torch

    from engine.factory import create_model
    from engine.model_card import ModelCard
    from engine.model_store import save_version
    from engine.tasks.presets import all_heads_cfg

    os.environ["ECHOCARE_HOME"] = tempfile.mkdtemp(prefix="echocare-shots-models-")
    torch.manual_seed(0)
    cfg = replace(all_heads_cfg(name="echocare-exam-random"), calibration=CALIBRATION)
    card = save_version(ModelCard.from_cfg(cfg), create_model(cfg).state_dict())
    say(f"model {card.name} v{card.version}: random weights with an exam head (the app at work, not a model)")
    return f"{card.name}@{card.version}"


def score_of(a: object) -> float | None:
    from app.model.scores import draft_score

    found = draft_score(a)  # type: ignore[arg-type]
    return None if found is None else found[1]


def choose_exam(s: Shooter, value: str) -> None:
    box = s.window.inference_panel.exam_box
    box.setCurrentIndex(box.findData(value))
    s.pump(100)


def run_auto(s: Shooter, first: int, last: int) -> None:
    panel = s.window.inference_panel
    panel.set_mode("auto")
    panel.set_scope("Frame range")
    panel.range_edit.setText(f"{first}-{last}")
    s.window.run_inference()
    while s.window.inference.running:
        s.pump(100)
    say(panel.status.text())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"), help="folder for the PNGs")
    args = p.parse_args(argv)
    tmp = private_session()
    model = store_model()
    s = Shooter(Path(args.out), tmp / "project")
    w = s.window
    w.docks["Studies"].hide()  # the model panel gets the left side
    s.open("cardiac_lv_cine.dcm")
    w.inference.select_model(model)
    choose_exam(s, "cardiac/left ventricle/apical")
    run_auto(s, 0, 3)
    w.doc.set_frame(1)
    s.raise_dock("AI results")
    s.shot("13_exam_override_routing")
    choose_exam(s, "unknown")
    run_auto(s, 0, 3)
    s.shot("14_exam_unknown")
    w.undo()
    w.undo()  # back to the cardiac run
    choose_exam(s, "breast/breast/lesion")
    run_auto(s, 0, 3)
    s.raise_dock("AI results")
    scored = sorted(p for a in w.doc.annotations.values() if (p := score_of(a)) is not None)
    if scored:  # a minimum between the scores: some drafts shown, the others hidden
        w.results.set_min_score(math.floor(100 * scored[len(scored) // 2]) / 100)
    say(f"{w.results.score_label.text()}; {w.results.hidden_label.text()}")
    s.shot("15_score_slider_hidden_drafts")
    header_disagrees(s, tmp)
    w.close()
    return 0


def header_disagrees(s: Shooter, tmp: Path) -> None:
    """The bundled model on a copy of the breast sample whose header says heart: the model's
    breast exam is withheld, and the exam line says why (the header was edited for the picture)."""
    import pydicom

    ds = pydicom.dcmread(ROOT / "resources" / "samples" / "breast_lesion_cine.dcm")
    ds.BodyPartExamined = "HEART"
    path = tmp / "breast_lesion_header_heart.dcm"
    ds.save_as(path)
    say("breast sample with Body Part Examined edited to HEART (for the picture)")
    s.window.docks["Studies"].hide()
    s.open(str(path))
    s.window.inference.select_model(pick_model(DEFAULT_MODEL))  # the bundled demo model
    choose_exam(s, "automatic")
    run_auto(s, 0, 3)
    panel = s.window.inference_panel
    say(f"{panel.exam_label.text()} | {panel.unknown_label.text()}")
    s.shot("23_exam_header_disagrees")


if __name__ == "__main__":
    raise SystemExit(main())
