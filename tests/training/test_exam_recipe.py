"""The exam recipe in its smoke mode on a tiny model with a head of every other kind: the model
gains a trained exam head with a fitted out-of-distribution density and held-out calibration,
every other tensor is stored unchanged, and the figures come from the engine's own path.
Plus the calibration helpers and the non-ultrasound set on their own."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from training.recipes import calibration as cal

ROOT = Path(__file__).resolve().parents[2]


def _tiny_model(folder: Path) -> Path:
    """``all_heads_cfg`` without its exam head, its classification and detection labels in the
    simulator's label space (lesion classes, organ boxes)."""
    import torch

    from engine.factory import create_model
    from engine.tasks.presets import all_heads_cfg
    from training.recipes.card import save_model
    from training.recipes.labels import CLASSES, DETECTION

    base = all_heads_cfg()
    heads = []
    for h in base.heads:
        if h.kind == "exam":
            continue
        if h.name == "classification":
            h = replace(h, labels=CLASSES, params={**h.params, "num_classes": len(CLASSES)})
        if h.name == "detection":
            h = replace(h, labels=DETECTION, params={**h.params, "num_classes": len(DETECTION)})
        heads.append(h)
    torch.manual_seed(0)
    model = create_model(replace(base, heads=tuple(heads), exams={}))
    save_model(model, folder, {"made_by": "test"})
    return folder


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    from training.recipes.exam import main

    root = tmp_path_factory.mktemp("exam-recipe")
    source = _tiny_model(root / "tiny")
    assert main(["--model", str(source), "--out", str(root / "run"), "--smoke"]) == 0
    return source, root / "run" / "echocare-all", root / "run"


def test_the_card_gains_the_exam_head_applicability_and_calibration(smoke):
    from engine.model_card import ModelCard
    from training.recipes.exam import LEAVES

    source, folder, _ = smoke
    before = ModelCard.from_json((source / "card.json").read_text())
    card = ModelCard.from_json((folder / "card.json").read_text())
    heads = card.model.heads
    assert heads[0].kind == "exam" and heads[0].labels == LEAVES
    assert heads[0].params["num_classes"] == len(LEAVES)
    assert heads[1:] == before.model.heads  # every other head as it was
    exams = card.model.exams
    assert exams["exam"] == ("any",) and exams["classification"] == ("breast",)
    assert exams["detection"] == ("abdomen",) and exams["measurement:EF"] == ("left ventricle",)
    assert "segmentation:lesion" not in exams  # the tiny model has no such label
    c = card.model.calibration
    assert c["exam"]["temperature"] > 0 and math.isfinite(c["exam"]["ood_threshold"])
    assert 0 <= c["exam"]["min_prob"] <= 0.5
    assert 0 <= c["exam"]["shrinkage"] <= 1
    assert c["classification"]["temperature"] > 0
    bias = c["classification"]["bias"]
    assert len(bias) == 2 and bias[0] == 0.0 and all(math.isfinite(b) for b in bias)
    assert set(c["classification"]["thresholds"]) == {"benign", "malignant"}
    for value in [*c["classification"]["thresholds"].values(), *c["detection"]["thresholds"].values()]:
        assert 0.0 <= value <= 1.0
    assert set(c["detection"]["thresholds"]) <= set(card.model.heads_by_name["detection"].labels)
    for key in ("ece_before", "ece_after"):
        assert 0.0 <= c["classification"][key] <= 1.0 and 0.0 <= c["exam"][key] <= 1.0
    for key in ("organ_accuracy", "false_unknown_rate", "non_us_unknown_rate", "ece_before", "ece_after"):
        assert f"test.exam.{key}" in card.metrics
    assert card.metrics["test.classification.ece_before"] == pytest.approx(c["classification"]["ece_before"])
    for key in ("accuracy_before", "accuracy_after"):
        assert 0.0 <= card.metrics[f"test.classification.{key}"] <= 1.0
    notes = json.loads(card.notes)
    assert notes["made_by"] == "test" and "--smoke" in notes["exam_head"]["reproduce"]


def test_every_other_tensor_is_stored_unchanged_and_the_density_is_fitted(smoke):
    import torch
    from safetensors.torch import load_file

    from engine.factory import load_model

    source, folder, _ = smoke
    old, new = load_file(str(source / "model.safetensors")), load_file(str(folder / "model.safetensors"))
    assert set(new) - set(old) and all(k.startswith("heads.exam.") for k in set(new) - set(old))
    for key, value in old.items():
        assert new[key].dtype == value.dtype and torch.equal(new[key], value), key
    assert new["heads.exam.precision"].abs().sum() > 0 and new["heads.exam.class_means"].abs().sum() > 0
    loaded = load_model(folder, device="cpu")  # the store checks the sha256 and loads strictly
    assert loaded.module.head_names[0] == "exam"


def test_the_exam_head_separates_two_easy_scenes(smoke):
    """Fresh simulations (a seed base no split uses) of breast lesions and cardiac cines, through
    the engine's preprocessing, predictor and exam task: better than chance by a clear margin."""
    from engine.factory import load_model
    from engine.heads.kinds.exam import ExamTask
    from engine.inference import Predictor
    from engine.tasks.base import FrameContext
    from engine.transforms.preprocess import preprocess
    from training.recipes.exam import SMOKE, sim_frames

    _, folder, _ = smoke
    loaded = load_model(folder, device="cpu")
    predictor = Predictor(loaded, backend="torch", device="cpu", precision="fp32")
    task = ExamTask(loaded.cfg, loaded.ref)
    right = []
    for scene, organ in (("lesion", "breast"), ("cardiac", "left ventricle")):
        for i, f in enumerate(sim_frames(scene, 6, 4242, SMOKE.sizes, SMOKE.cardiac_frames)):
            prep = preprocess(f.frame, loaded.cfg)
            out = predictor.run_heads([(scene, i)], prep.image[None], ["exam"])["exam"]
            ctx = FrameContext(f.index, f.frame, prep.geometry, f.result.calibration())
            exam = task.postprocess({k: v[0] for k, v in out.items()}, ctx)
            right.append(exam._top_path()[1] == organ)
    assert np.mean(right) >= 0.75  # chance between the two is 0.5, among all five organs 0.2


def test_figures_come_from_the_engine_path(smoke):
    _, folder, run = smoke
    details = json.loads((run / "exam_metrics.json").read_text())
    card = json.loads((folder / "card.json").read_text())
    samples = details["samples"]
    assert set(samples) == {"breast_lesion_cine.dcm", "cardiac_lv_cine.dcm", "fetal_head.dcm"}
    assert card["metrics"]["test.exam.samples_correct"] == pytest.approx(
        np.mean([s["correct"] for s in samples.values()])
    )
    rows = details["non_us"]
    assert {r["category"] for r in rows} == {
        "ct",
        "mr",
        "nm",
        "secondary_capture",
        "noise",
        "photo",
        "document",
    }
    read = [r for r in rows if r["readable"]]
    assert card["metrics"]["test.exam.non_us_unknown_rate"] == pytest.approx(
        np.mean([r["unknown"] for r in read])
    )
    notes = json.loads(card["notes"])["exam_head"]
    assert sum(s["frames"] for s in details["per_scene"].values()) == notes["test_frames"] == 6 * 4


def test_rerunning_on_its_own_output_replaces_the_head_and_gives_the_same_weights(smoke, tmp_path):
    from training.recipes.exam import main

    _, folder, _ = smoke
    assert main(["--model", str(folder), "--out", str(tmp_path), "--smoke"]) == 0
    again = json.loads((tmp_path / "echocare-all" / "card.json").read_text())
    first = json.loads((folder / "card.json").read_text())
    assert [h["kind"] for h in again["model"]["heads"]].count("exam") == 1
    assert again["weights_sha256"] == first["weights_sha256"]


def test_a_randomised_run_also_scores_the_unrandomised_test_split(smoke, tmp_path):
    """Under --randomised the test split is drawn with that share; the figures every model is
    compared on (the test split as the simulator renders it by default) follow as ``_unrandomised``."""
    from engine.factory import load_model
    from engine.inference import Predictor
    from training.recipes.exam import SMOKE, exam_metrics, main, test_pass

    _, folder, _ = smoke
    before = json.loads((folder / "card.json").read_text())["metrics"]
    assert not any(k.endswith("_unrandomised") for k in before)
    assert main(["--model", str(folder), "--out", str(tmp_path), "--smoke", "--randomised", "1"]) == 0
    written = tmp_path / "echocare-all"
    card = json.loads((written / "card.json").read_text())
    loaded = load_model(written, device="cpu")
    predictor = Predictor(loaded, backend="torch", device="cpu", precision="fp32")
    unrandomised = test_pass(loaded, predictor, replace(SMOKE, randomised=0.0), print)
    plain, _ = exam_metrics(unrandomised, loaded.cfg.calibration)
    for key in ("exam.accuracy", "exam.organ_accuracy", "exam.false_unknown_rate"):
        assert card["metrics"][f"test.{key}_unrandomised"] == pytest.approx(plain[key], abs=1e-6)
        assert f"test.{key}" in card["metrics"]
    # a randomised lesion has no class (its training target is ignored): nothing to calibrate on
    assert "classification" not in card["model"]["calibration"]
    assert "test.classification.accuracy_after" not in card["metrics"]


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_overconfident():
    probs = np.array([[0.75, 0.25]] * 4)
    assert cal.expected_calibration_error(probs, np.array([0, 0, 0, 1])) == pytest.approx(0.0)
    assert cal.expected_calibration_error(probs, np.array([1, 1, 1, 1])) == pytest.approx(0.75)


def test_temperature_scaling_recovers_the_temperature_that_made_the_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (4000, 3))
    p = cal.softmax(logits, 2.5)
    labels = np.array([rng.choice(3, p=row) for row in p])
    t = cal.fit_temperature(logits, labels)
    assert t == pytest.approx(2.5, rel=0.1)
    assert cal.nll(logits, labels, t) < cal.nll(logits, labels, 1.0)


def test_bias_corrected_scaling_recovers_temperature_and_bias_and_fixes_a_shifted_call():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, (4000, 3))
    bias = np.array([0.0, 1.5, -1.0])
    p = cal.softmax(logits, 2.5, bias)
    labels = np.array([rng.choice(3, p=row) for row in p])
    t, fitted = cal.fit_scaling(logits, labels)
    assert t == pytest.approx(2.5, rel=0.1) and fitted == pytest.approx(bias, abs=0.2)
    assert cal.nll(logits, labels, t, fitted) < cal.nll(logits, labels, cal.fit_temperature(logits, labels))
    # a two-class head whose logits favour the first class for every image: the raw call is always
    # class 0, temperature alone cannot change that, the fitted bias moves the cut between the classes
    score = np.r_[rng.normal(3, 1, 200), rng.normal(6, 1, 200)]
    shifted = np.c_[np.full(400, 12.0), score]
    truth = np.r_[np.zeros(200, int), np.ones(200, int)]
    t, fitted = cal.fit_scaling(shifted, truth)
    assert np.mean(shifted.argmax(1) == truth) == 0.5
    assert np.mean(cal.softmax(shifted, t, fitted).argmax(1) == truth) > 0.9
    one_class = cal.fit_bias(shifted, np.zeros(400, int), 1.0)  # the ridge keeps it finite
    assert np.isfinite(one_class).all() and one_class[1] < 0


def test_f1_threshold_cuts_between_the_right_scores():
    hits = [(0.9, True), (0.8, True), (0.6, False), (0.4, True), (0.2, False)]
    thr, f1 = cal.f1_threshold(hits, n_truth=3)
    # keeping the top four finds all three positives: F1 6/7, the best cut; it falls between 0.4 and 0.2
    assert thr == pytest.approx(0.3) and f1 == pytest.approx(2 * 3 / (4 + 3))
    assert cal.f1_at(hits, 3, thr) == pytest.approx(f1)
    assert cal.f1_threshold(hits, n_truth=0)[0] is None
    assert cal.f1_threshold([(0.7, False)], n_truth=2) == (1.0, 0.0)  # nothing worth keeping


def test_ledoit_wolf_shrinks_more_with_fewer_samples():
    rng = np.random.default_rng(1)
    scale = np.linspace(0.2, 3.0, 50)  # a covariance far from the scaled identity
    few, many = rng.normal(size=(20, 50)) * scale, rng.normal(size=(5000, 50)) * scale
    labels_few, labels_many = np.arange(20) % 2, np.arange(5000) % 2
    assert 0 <= cal.ledoit_wolf_shrinkage(many, labels_many) < cal.ledoit_wolf_shrinkage(few, labels_few) <= 1


def test_the_generated_non_ultrasound_images_are_deterministic(tmp_path):
    from training.data.non_us import write_generated

    a, b = write_generated(tmp_path / "a", seed=3), write_generated(tmp_path / "b", seed=3)
    assert [i.name for i in a] == [i.name for i in b]
    assert all(x.path.read_bytes() == y.path.read_bytes() for x, y in zip(a, b))
    assert {i.category for i in a} == {"noise", "photo", "document"}


def test_a_flat_card_stays_flat_with_the_exam_head_first_and_the_new_fields_beside_measurements():
    from training.recipes.exam import card_json

    flat = {
        "name": "m",
        "version": "2",
        "architecture": "echocare_small",
        "heads": [{"name": "exam", "kind": "exam"}, {"name": "classification", "kind": "classification"}],
        "measurements": [],
        "weights_sha256": "x",
        "notes": "",
    }
    out = card_json(
        flat, {"name": "exam", "kind": "exam", "labels": ["a/b/c"]}, {"exams": {}, "calibration": {}}
    )
    assert "model" not in out and out["architecture"] == "echocare_small"
    assert [h["kind"] for h in out["heads"]] == ["exam", "classification"] and out["heads"][0]["labels"]
    keys = list(out)
    assert keys[keys.index("measurements") + 1 : keys.index("measurements") + 3] == ["exams", "calibration"]


def test_a_head_recipes_frames_are_drawn_from_its_domain_ranges():
    from dataclasses import replace

    from training.recipes.exam import SMOKE, scene_batches
    from training.sim.domain import DEFAULT_RANGES

    def densities(recipe):
        return {
            f.result.truth.domain["imaging"]["beam_density"]
            for b in scene_batches(recipe, "test", 5)
            for f in b
        }

    randomised = replace(SMOKE, randomised=1.0, per_scene={"train": 1, "val": 1, "test": 2}, cardiac_frames=1)
    assert densities(replace(randomised, domain={"fine_speckle_p": 1.0})) == {
        DEFAULT_RANGES.fine_beam_density
    }
    assert densities(randomised) == {0.5}, "without a domain, the default ranges (no fine speckle)"
