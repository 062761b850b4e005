"""Every report the bundled demo model writes, on the bundled samples and on 50 simulated studies
over every scene, is free of empty slots, doubled quantities and spaces before punctuation.

Runs ``--tasks auto``: with a model that has no exam head it runs every task; with one, only what
applies to the exam, and an unknown exam's report is its one line.
"""

from pathlib import Path

import pytest

from engine.factory import load_model
from engine.inference import Predictor
from engine.io.open import open_cine
from engine.tasks.report_text import report_problems
from engine.tasks.runner import run_tasks
from training.sim import SimConfig, list_scenes, simulate

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = sorted((ROOT / "resources" / "samples").glob("*.dcm"))
STUDIES = 50


@pytest.fixture(scope="module")
def demo():
    loaded = load_model(ROOT / "resources" / "models" / "echocare-demo", device="cpu")
    return loaded, Predictor(loaded, backend="torch", device="cpu", precision="fp32")


def problems_of(cine, demo):
    """The report of one study and what is wrong with it."""
    loaded, predictor = demo
    run = run_tasks(cine, predictor, loaded.cfg, loaded.ref, tasks="auto")
    text = run.tasks["report"].summary[0].text
    found = report_problems(text)
    if run.exam is not None and run.exam.unknown:
        lines = text.splitlines()
        if not lines[-1].startswith("No automatic findings were made: ") or "Findings:" in lines:
            found.append("an unknown exam's report says more than that no findings were made")
    predictor.cache.clear()
    return text, found


def test_the_bundled_samples_reports(demo):
    assert len(SAMPLES) >= 3
    for path in SAMPLES:
        text, found = problems_of(open_cine(path), demo)
        assert found == [], f"{path.name}:\n{text}"
        assert "Findings:" in text or "No automatic findings" in text


def test_fifty_simulated_studies_reports(demo):
    scenes = list_scenes()
    bad = []
    for i in range(STUDIES):
        scene = scenes[i % len(scenes)]
        # every other cardiac cine covers a beat or more (EF filled), the rest are four frames
        frames = 40 if scene == "cardiac" and i % 2 else 4
        cine = simulate(scene, 100 + i, SimConfig(height=96, width=96, frames=frames)).cine()
        text, found = problems_of(cine, demo)
        if found:
            bad.append(f"{scene} seed {100 + i}: {found}\n{text}")
    assert not bad, "\n".join(bad)
