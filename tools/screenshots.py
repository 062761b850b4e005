"""Screenshots of EchoCare Studio for the user guide: the real app on the bundled samples.

    apt-get install -y xvfb xauth libxcb-icccm4 libxcb-keysyms1      # once, on Linux
    xvfb-run -a -s "-screen 0 1280x900x24" .venv/bin/python tools/screenshots.py

Starts the app's main window on a temporary project, opens resources/samples/cardiac_lv_cine.dcm,
runs the default model (echocare-demo when the model store has it; otherwise the script says
which model it used instead) on a range of frames, and saves a PNG of each task's overlay and
of the editing tools into docs/screenshots/. The lesion and fetal samples are opened for the
detection and fetal-head views. Each PNG is downscaled and palette-quantised to stay under
200 KB. Without a display it falls back to Qt's offscreen platform.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QWidget

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SAMPLES = ROOT / "resources" / "samples"
DEFAULT_MODEL = "echocare-demo"
SHOWN_DOCKS = ("Cine", "Studies", "Model", "Annotations", "AI results", "Findings and report")
MAX_BYTES = 200_000
RUN_TIMEOUT_S = 1800


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"), help="folder for the PNGs")
    p.add_argument("--model", default=DEFAULT_MODEL, help="model name or name@version to run")
    p.add_argument("--frames", default="0:24", help="cardiac frames to analyse, A:B (end exclusive)")
    return p.parse_args(argv)


def say(text: str) -> None:
    print(f"screenshots: {text}", flush=True)


def pick_model(asked: str) -> str:
    """The model key to run; says which model the screenshots show and why."""
    from app.model.model_run import available_models, statement

    choices = available_models()
    for c in choices:
        if asked in (c.card.name, c.key):
            say(f"model {c.key}: {statement(c.card)}")
            return c.key
    if choices:
        c = choices[0]
        say(f"model {asked} is not in the model store; using {c.key} instead: {statement(c.card)}")
        return c.key
    return fallback_model(asked)


def fallback_model(asked: str) -> str:
    """Store a random-weights all-heads test model in a temporary store and use it."""
    import torch

    from engine.factory import create_model
    from engine.model_card import ModelCard
    from engine.model_store import save_version
    from engine.tasks.presets import all_heads_cfg

    os.environ["ECHOCARE_HOME"] = tempfile.mkdtemp(prefix="echocare-shots-models-")
    torch.manual_seed(0)
    cfg = all_heads_cfg(name="echocare-test-random")
    card = save_version(ModelCard.from_cfg(cfg), create_model(cfg).state_dict())
    say(
        f"model {asked} is not in the model store and no other model is: using {card.name} v{card.version}, "
        "random weights (the overlays show the app at work, not a trained model's quality)"
    )
    return f"{card.name}@{card.version}"


def save_png(image: QImage, path: Path, width: int = 1120) -> int:
    """Downscale and palette-quantise a grab until the PNG is under MAX_BYTES; returns its size."""
    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice

    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    full = Image.open(io.BytesIO(bytes(buf.data()))).convert("RGB")
    for w, colors in ((width, 128), (width, 64), (960, 64), (860, 48), (760, 32)):
        w = min(w, full.width)
        small = full.resize((w, round(full.height * w / full.width)), Image.Resampling.LANCZOS)
        data = io.BytesIO()
        small.quantize(colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
            data, "PNG", optimize=True
        )
        if data.tell() < MAX_BYTES:
            break
    path.write_bytes(data.getvalue())
    return data.tell()


class Shooter:
    """Drives the real main window and saves what it shows."""

    def __init__(self, out: Path, project: Path) -> None:
        from PySide6.QtWidgets import QApplication

        from app.model.settings import AppSettings
        from app.qt.main_window import MainWindow

        self.app = QApplication.instance() or QApplication([sys.argv[0]])
        self.window = MainWindow(project, settings=AppSettings())
        self.window.show()
        self.focus_docks()
        self.app.processEvents()
        self.window.resize(1280, 860)
        self.out = out
        self.out.mkdir(parents=True, exist_ok=True)
        self.pump(300)

    def focus_docks(self) -> None:
        """Show only the review panels (other panels, e.g. training, have pictures of their own)."""
        from PySide6.QtWidgets import QDockWidget

        for dock in self.window.findChildren(QDockWidget):
            if dock.objectName() not in SHOWN_DOCKS:
                dock.hide()

    def pump(self, ms: int = 100) -> None:
        end = time.monotonic() + ms / 1000
        while time.monotonic() < end:
            self.app.processEvents()
            time.sleep(0.01)

    def shot(self, name: str, widget: QWidget | None = None) -> None:
        if widget is None:
            self.window.resize(1280, 860)
        self.pump(150)
        target = widget or self.window
        size = save_png(target.grab().toImage(), self.out / f"{name}.png")
        say(f"{name}.png {size / 1000:.0f} KB")

    def report_shot(self, name: str) -> None:
        """The window with the report panel given the whole right side."""
        others = [self.window.docks[t] for t in ("Annotations", "AI results")]
        for dock in others:
            dock.hide()
        self.shot(name)
        for dock in others:
            dock.show()
        self.raise_dock("Annotations")

    def open(self, sample: str) -> None:
        if not self.window.open_path(SAMPLES / sample):
            raise SystemExit(f"screenshots: cannot open {sample}: {self.window.last_message}")
        self.pump(300)

    def run_model(self, model: str, first: int, last: int, tasks: list[str] | None = None) -> None:
        w = self.window
        w.inference.select_model(model)
        self.pump(100)
        panel = w.inference_panel
        if tasks is None:  # what Run does by default: the tasks that apply to the study's exam
            panel.set_mode("auto")
        else:
            panel.set_mode("chosen")
            panel.set_checked(tasks)
        panel.set_scope("Frame range")
        panel.range_edit.setText(f"{first}-{last}")
        start = time.monotonic()
        w.run_inference()
        while w.inference.running and time.monotonic() - start < RUN_TIMEOUT_S:
            self.pump(100)
        say(f"{panel.status.text()} ({time.monotonic() - start:.0f} s)")

    def best_frame(self, kind: str) -> int:
        """A frame that shows ``kind`` well: the largest mask, else the first with one."""
        doc = self.window.doc
        if kind == "mask" and doc.masks:
            return max(doc.masks, key=lambda f: int((doc.masks[f] > 0).sum()))
        frames = sorted(a.frame for a in doc.of_kind(kind) if a.frame >= 0)
        return frames[0] if frames else doc.view.frame_index

    def raise_dock(self, title: str) -> None:
        self.window.docks[title].raise_()

    def gesture(self, tool: str, points: list[tuple[float, float]], clicks: bool = False) -> None:
        """Drive a tool through ``points`` in frame pixels (press, moves, release; or clicks)."""
        w = self.window
        w.set_tool(tool)
        t = w.tool
        if clicks:
            for x, y in points:
                t.press(x, y)
                t.release(x, y)
        else:
            t.press(*points[0])
            for x, y in points[1:]:
                t.move(x, y)
            t.release(*points[-1])
        self.pump(50)


def cardiac(s: Shooter, model: str, first: int, last: int) -> None:
    w = s.window
    s.open("cardiac_lv_cine.dcm")
    s.shot("01_cardiac_opened")
    s.run_model(model, first, last)
    doc = w.doc
    doc.set_frame(s.best_frame("mask"))
    s.raise_dock("Annotations")
    s.shot("02_segmentation_landmarks_drafts")
    s.raise_dock("AI results")
    s.shot("03_classification_values_ef")
    w.toggle_enhancement("side")
    s.shot("04_enhancement_side_by_side")
    w.toggle_enhancement("side")
    s.report_shot("05_report_linked_numbers")
    # the editing tools on the same frame
    doc.view.active_label = 1
    s.gesture("brush", [(250 + 6 * i, 260 + 2 * i) for i in range(12)])
    s.raise_dock("Annotations")
    s.shot("06_brush_edit")
    s.gesture("distance", [(220, 330), (300, 360), (380, 390)])
    s.gesture("ellipse", [(420, 160), (470, 200), (520, 240)])
    s.gesture("angle", [(200, 150), (260, 230), (330, 160)], clicks=True)
    s.shot("07_calipers_mm")
    s.report_shot("08_report_after_edits")


def lesion(s: Shooter, model: str) -> None:
    w = s.window
    s.open("breast_lesion_cine.dcm")
    s.run_model(model, 0, min(3, w.doc.n_frames - 1))
    w.doc.set_frame(s.best_frame("box") if w.doc.of_kind("box") else s.best_frame("mask"))
    s.raise_dock("Annotations")
    s.shot("09_lesion_detection_segmentation")
    lesion_label = next((lab.id for lab in w.doc.labels if lab.name.lower() == "lesion"), None)
    if lesion_label is not None:
        w.doc.view.active_label = lesion_label
    s.gesture("box", [(150, 150), (200, 190), (240, 230)])
    s.gesture("landmark", [(300, 200)], clicks=True)
    s.shot("10_box_landmark_edit")


def fetal(s: Shooter, model: str) -> None:
    s.open("fetal_head.dcm")
    s.run_model(model, 0, 0)
    s.window.doc.set_frame(0)
    s.shot("11_fetal_head")


def private_session() -> Path:
    """A new temporary folder holding the app's config and data (the user's own stay untouched);
    Qt's offscreen platform when there is no display."""
    if not os.environ.get("DISPLAY") and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        say("no display: using Qt's offscreen platform (run under xvfb-run for the real window system)")
    tmp = Path(tempfile.mkdtemp(prefix="echocare-shots-"))
    os.environ["ECHOCARE_CONFIG_DIR"] = str(tmp / "config")
    os.environ["ECHOCARE_DATA_DIR"] = str(tmp / "data")
    return tmp


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = private_session()
    model = pick_model(args.model)
    first, _, end = args.frames.partition(":")
    s = Shooter(Path(args.out), tmp / "project")
    cardiac(s, model, int(first or 0), int(end or 24) - 1)
    lesion(s, model)
    fetal(s, model)
    s.window.show_cheat_sheet()
    s.pump(200)
    s.shot("12_shortcuts_cheat_sheet", s.window._cheat_sheet)
    s.window.close()
    say(f"done: {len(list(Path(args.out).glob('*.png')))} PNGs in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
