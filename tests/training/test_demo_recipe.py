"""The demo-model recipe in its smoke configuration: every stage runs, the output is a valid
bundled-style model that the model store loads and ``echocare infer`` runs, and the recipe is
deterministic from its seed."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from engine.config import TASK_NAMES
from engine.errors import ConfigError
from training.recipes.config import SCENES, load_recipe
from training.recipes.evaluate import average_precision, match_boxes

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "configs" / "demo-smoke.yaml"
SAMPLE = ROOT / "resources" / "samples" / "cardiac_lv_cine.dcm"


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    from training.recipes.demo import run_recipe

    out = tmp_path_factory.mktemp("demo-smoke")
    recipe = load_recipe(SMOKE)
    return recipe, run_recipe(recipe, out, SMOKE)


def test_smoke_model_loads_through_the_store(smoke_run):
    from engine.factory import load_model
    from engine.model_store import sha256_file

    recipe, folder = smoke_run
    loaded = load_model(folder, device="cpu")
    card = loaded.card
    assert set(loaded.module.head_names) == {*TASK_NAMES, "prompt"}  # the exam and prompt stages ran too
    assert folder.parent.name == "prompt" and card.model.exams  # the last stage's model, with its exams
    assert card.weights_sha256 == sha256_file(folder / "model.safetensors")
    assert (folder / "model.safetensors").stat().st_size <= 10 * 1024 * 1024
    assert card.model.clinical_use is False
    assert "simulated" in card.model.trained_on and "not for clinical use" in card.model.trained_on
    for key in ("lesion.dice", "classification.auc", "detection.map50", "landmarks.fetal_mre_px",
                "ef.mae", "enhancement.psnr_gain_db", "report.numbers_consistent"):  # fmt: skip
        assert f"test.{key}" in card.metrics
    notes = json.loads(card.notes)
    assert notes["seed"] == recipe.seed
    assert notes["ran"]["full"]["steps"] == recipe.full.steps
    assert notes["ran"]["polish"]["steps"] == recipe.polish.steps > 0
    assert notes["ran"]["frames"] == {s: recipe.data.per_scene[s] for s in SCENES}
    # the report task never prints a number that is not a structured output
    assert card.metrics["test.report.numbers_consistent"] == 1.0


def test_smoke_model_runs_echocare_infer(smoke_run, tmp_path):
    from app.cli.main import main

    _, folder = smoke_run
    out = tmp_path / "infer"
    code = main(
        ["infer", str(SAMPLE), "--model", str(folder), "--out", str(out), "--frames", "0:3", "--quiet"]
    )
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results
    assert (out / "report.txt").read_text().startswith("Model: ")


def test_evaluate_scores_a_stored_model_also_as_infer_auto_routes_it(smoke_run, capsys):
    from training.recipes.evaluate import main

    _, folder = smoke_run  # the final model has an exam head: the cardiac part runs routed too
    assert main([str(folder), "--config", str(SMOKE)]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("lv.dice", "lv.dice_auto", "ef.cines_with_cycle", "ef.cines_with_cycle_auto", "lesion.dice"):
        assert key in figures
    assert 0.0 <= figures["lv.dice_auto"] <= 1.0 and 0.0 <= figures["lv.dice"] <= 1.0


def test_same_seed_gives_the_same_weights(smoke_run, tmp_path):
    import torch

    from training.recipes.demo import train

    recipe, folder = smoke_run
    model, _ = train(recipe, tmp_path, lambda msg: None)
    from safetensors.torch import load_file

    shipped = load_file(str(folder / "model.safetensors"))
    own = model.state_dict()
    assert own.keys() < shipped.keys()  # the exam and prompt stages add their heads' tensors
    for key, value in own.items():
        assert torch.equal(shipped[key], value.to(shipped[key].dtype)), key


def test_polish_phase_trains_the_heads_on_the_frozen_final_encoder(smoke_run, tmp_path):
    import torch
    from safetensors.torch import load_file

    from training.recipes.config import PhaseRecipe
    from training.recipes.demo import train

    recipe, folder = smoke_run
    unpolished, ran = train(replace(recipe, polish=PhaseRecipe()), tmp_path, lambda msg: None)
    assert "polish" not in ran
    polished = load_file(str(folder / "model.safetensors"))
    before = unpolished.state_dict()
    encoder = [k for k in polished if k.startswith("encoder.")]
    assert encoder and all(torch.equal(polished[k], before[k].to(polished[k].dtype)) for k in encoder)
    changed = {k.split(".")[1] for k in before if k.startswith("heads.") and not torch.equal(
        polished[k], before[k].to(polished[k].dtype))}  # fmt: skip
    assert "detection" in changed and changed <= set(recipe.polish.heads)


def test_recipe_rejects_unknown_keys_and_shared_seeds(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMOKE.read_text() + "learning_rate: 0.1\n")
    with pytest.raises(ConfigError, match="learning_rate"):
        load_recipe(bad)
    with pytest.raises(ConfigError, match="test_seed"):
        load_recipe(SMOKE, {"seed": load_recipe(SMOKE).test_seed})
    with pytest.raises(ConfigError, match="unknown head 'liver'"):
        load_recipe(SMOKE, {"polish": {"steps": 1, "heads": ["liver"]}})
    with pytest.raises(ConfigError, match="unknown scene 'liver'"):
        load_recipe(SMOKE, {"polish": {"steps": 1, "scene_weights": {"liver": 1}}})
    with pytest.raises(ConfigError, match=r"polish.stop_after 3 must be between 0 and polish.steps \(2\)"):
        load_recipe(SMOKE, {"polish": {"steps": 2, "stop_after": 3}})
    with pytest.raises(ConfigError, match=r"pretrain\.stop_after is not supported"):
        load_recipe(SMOKE, {"pretrain": {"stop_after": 1}})


def test_scene_order_gives_one_scene_per_batch():
    from training.recipes.multitask import scene_order

    scenes = ["a"] * 5 + ["b"] * 3 + ["c"] * 2
    order = scene_order(scenes, {"a": 2.0}, steps=40, batch=4, seed=1)
    assert len(order) == 160
    blocks = [{scenes[i] for i in order[k : k + 4]} for k in range(0, 160, 4)]
    assert all(len(b) == 1 for b in blocks)
    assert order == scene_order(scenes, {"a": 2.0}, steps=40, batch=4, seed=1)
    counts = {n: sum(b == {n} for b in blocks) for n in "abc"}
    assert counts["a"] > counts["b"] and counts["a"] > counts["c"]


def test_a_phase_of_some_heads_draws_only_scenes_with_their_targets():
    from types import SimpleNamespace

    from training.recipes.multitask import learnable_weights

    samples = [
        SimpleNamespace(scene="lesion", targets={"segmentation": 0, "classification": 1}),
        SimpleNamespace(scene="enhance", targets={"enhancement": 0}),
        SimpleNamespace(scene="cardiac", targets={"segmentation": 0}),
    ]
    assert learnable_weights(samples, {"cardiac": 3.0}, frozenset()) == {
        "cardiac": 3.0,
        "enhance": 1.0,
        "lesion": 1.0,
    }
    seg = learnable_weights(samples, {"cardiac": 3.0, "enhance": 0.5}, frozenset({"segmentation"}))
    assert seg == {"cardiac": 3.0, "enhance": 0.0, "lesion": 1.0}, "no enhance batch: nothing to learn there"
    assert learnable_weights(samples, {}, frozenset({"classification"})) == {
        "cardiac": 0.0,
        "enhance": 0.0,
        "lesion": 1.0,
    }
    with pytest.raises(
        ConfigError, match=r"no scene of this phase has targets for its heads \(classification\)"
    ):
        learnable_weights(samples, {"lesion": 0.0}, frozenset({"classification"}))


def test_average_precision_and_matching():
    truth = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    labels = np.array([0, 0])
    boxes = np.array([[0, 0, 10, 10], [50, 50, 60, 60], [21, 20, 30, 30]], float)
    hits = match_boxes(boxes, np.array([0.9, 0.8, 0.7]), np.array([0, 0, 0]), truth, labels)
    assert [h[1] for h in hits[0]] == [True, False, True]
    # precision 1, 1/2, 2/3 at recalls 1/2, 1/2, 1: envelope gives 0.5 * 1 + 0.5 * 2/3
    assert average_precision(hits[0], 2) == pytest.approx(0.5 + 1 / 3)
    assert average_precision([], 2) == 0.0
    assert np.isnan(average_precision([], 0))


def test_smoke_config_is_what_the_suite_runs():
    recipe = load_recipe(SMOKE)
    full = load_recipe(ROOT / "configs" / "demo.yaml")
    assert recipe.arch == "echocare_test" and full.arch == "echocare_small"
    assert replace(recipe, name=full.name).name == "echocare-demo"


def test_start_from_a_stored_model_carries_every_tensor_and_records_it(smoke_run, tmp_path):
    import torch
    from safetensors.torch import load_file

    from engine.errors import ModelError
    from training.recipes.config import PhaseRecipe
    from training.recipes.demo import train

    recipe, folder = smoke_run
    idle = PhaseRecipe()
    start = replace(recipe, start_from=str(folder), pretrain=replace(recipe.pretrain, steps=0),
                    heads=idle, full=idle, polish=idle)  # fmt: skip
    model, ran = train(start, tmp_path / "a", lambda msg: None)
    stored = load_file(str(folder / "model.safetensors"))
    own = model.state_dict()
    assert all(torch.equal(stored[k], v.to(stored[k].dtype)) for k, v in own.items())
    card = json.loads((folder / "card.json").read_text())
    assert ran["start_from"]["weights_sha256"] == card["weights_sha256"]
    assert ran["start_from"]["tensors_as_built"] == 0
    # training on from there moves the weights (the start is a starting point, not a copy)
    moved, _ = train(replace(start, full=recipe.full), tmp_path / "b", lambda msg: None)
    assert any(not torch.equal(v, own[k]) for k, v in moved.state_dict().items())
    with pytest.raises(ModelError, match="no-such-model"):
        train(replace(start, start_from="no-such-model"), tmp_path / "c", lambda msg: None)


def test_the_classification_head_can_pool_other_levels_standardised_and_is_rebuilt_from_a_start(
    smoke_run, tmp_path
):
    import torch
    from safetensors.torch import load_file

    from training.recipes.card import model_cfg
    from training.recipes.config import PhaseRecipe
    from training.recipes.demo import train

    recipe, folder = smoke_run
    assert "levels" not in model_cfg(recipe, ("a",)).heads_by_name["classification"].params  # v2's head
    idle = PhaseRecipe()
    start = replace(recipe, start_from=str(folder), pretrain=replace(recipe.pretrain, steps=0),
                    heads=idle, full=idle, polish=idle,
                    classification_head={"levels": (3,), "standardise": True})  # fmt: skip
    params = model_cfg(start, ("a",)).heads_by_name["classification"].params
    assert params["levels"] == [3] and params["standardise"] is True
    model, ran = train(start, tmp_path / "a", lambda msg: None)
    stored = load_file(str(folder / "model.safetensors"))
    rebuilt = [k for k, v in model.state_dict().items() if k not in stored or stored[k].shape != v.shape]
    assert rebuilt and all(k.startswith("heads.classification.") for k in rebuilt)
    assert ran["start_from"]["tensors_as_built"] == len(rebuilt)
    kept = [k for k in model.state_dict() if k not in rebuilt]
    assert all(torch.equal(stored[k], model.state_dict()[k].to(stored[k].dtype)) for k in kept)
    bad = (({"levels": [5]}, "levels"), ({"width": 3}, "takes levels"), ({"standardise": 1}, "true or false"))
    for head, says in bad:
        with pytest.raises(ConfigError, match=says):
            load_recipe(SMOKE, {"classification_head": head})


def test_a_killed_run_resumes_from_its_checkpoints_to_the_same_weights(smoke_run, tmp_path, monkeypatch):
    import torch
    from safetensors.torch import load_file

    import training.recipes.demo as demo

    recipe, folder = smoke_run
    monkeypatch.setattr(demo, "CHECKPOINT_EVERY", 1)
    real, steps = demo._progress, []

    class Killed(Exception):
        pass

    def watched(kill_at: int | None):
        def make(log, name, every=50):
            report = real(log, name, every)

            def step(p):
                report(p)
                steps.append((name, p.done))
                if name == "full" and p.done == kill_at:
                    raise Killed  # after step 2's update, before its checkpoint: step 1's is the newest

            return step

        return make

    monkeypatch.setattr(demo, "_progress", watched(kill_at=2))
    demo._claim(recipe, tmp_path, resume=False)
    with pytest.raises(Killed):
        demo.train(recipe, tmp_path, lambda msg: None)
    steps.clear()
    monkeypatch.setattr(demo, "_progress", watched(kill_at=None))
    model, ran = demo.train(recipe, tmp_path, lambda msg: None, resume=True)
    # the finished pretraining and heads phases train no further; the full phase goes on from step 1
    assert [s for s in steps if s[0] in ("pretrain", "heads")] == []
    assert [d for name, d in steps if name == "full"] == [2, 3] and ran["full"]["steps"] == recipe.full.steps
    shipped = load_file(str(folder / "model.safetensors"))
    for key, value in model.state_dict().items():  # as if it had never stopped
        assert torch.equal(shipped[key], value.to(shipped[key].dtype)), key
    with pytest.raises(ConfigError, match="another recipe"):
        demo.run_recipe(replace(recipe, seed=1), tmp_path, resume=True)


def test_stop_after_repeats_a_run_that_its_deadline_stopped(smoke_run, tmp_path, monkeypatch):
    import torch

    import training.recipes.demo as demo
    import training.recipes.multitask as multitask

    recipe, _ = smoke_run
    recipe = replace(recipe, polish=replace(recipe.polish, steps=3))
    fired = []

    class Deadline:  # the wall clock, made to run out during the polish phase's second step
        daemon = False

        def __init__(self, interval, function):
            fired.append(function)

        def start(self):
            pass

        def cancel(self):
            pass

    real = demo._progress

    def make(log, name, every=50):
        report = real(log, name, every)

        def step(p):
            if name == "polish" and p.done == 2:
                fired[-1]()
            report(p)

        return step

    with monkeypatch.context() as m:
        m.setattr(multitask.threading, "Timer", Deadline)
        m.setattr(demo, "_progress", make)
        stopped, ran = demo.train(replace(recipe, max_minutes=60), tmp_path / "deadline", lambda msg: None)
    assert ran["polish"]["status"] == "cancelled" and ran["polish"]["steps"] == 2
    assert ran["polish"]["planned_steps"] == 3
    again = replace(recipe, polish=replace(recipe.polish, stop_after=2))
    repeated, ran = demo.train(again, tmp_path / "repeat", lambda msg: None)
    assert ran["polish"]["steps"] == 2 and ran["polish"]["status"] == "cancelled"
    same = repeated.state_dict()
    for key, value in stopped.state_dict().items():
        assert torch.equal(same[key], value), key
    # the stopped schedule is the 3-step one: two steps of a 2-step schedule end elsewhere
    two = replace(recipe, polish=replace(recipe.polish, steps=2))
    short, _ = demo.train(two, tmp_path / "short", lambda msg: None)
    other = short.state_dict()
    assert any(not torch.equal(other[k], v) for k, v in same.items() if k.startswith("heads.detection"))


def test_the_repeat_config_is_the_recorded_stage_but_for_its_stop():
    recorded = load_recipe(ROOT / "configs" / "demo-v3-fine.yaml")
    repeat = load_recipe(ROOT / "configs" / "demo-v3-fine-repeat.yaml")
    assert repeat.max_minutes == 0 and repeat.polish.stop_after == 702
    unstopped = replace(repeat, max_minutes=recorded.max_minutes, polish=replace(repeat.polish, stop_after=0))
    assert unstopped == recorded  # a copy of a recorded config, kept from drifting


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("demo*.yaml")), ids=lambda p: p.name)
def test_every_demo_config_in_the_repository_loads(path):
    recipe = load_recipe(path)
    assert recipe.name.startswith("echocare-demo") and recipe.input_size[0] % 32 == 0


def test_head_stages_follow_the_recipes_randomisation_wherever_they_run():
    from pathlib import Path

    from training.recipes import exam, prompt
    from training.recipes.config import load_recipe
    from training.recipes.demo import head_stage_settings

    recipe = load_recipe(Path(__file__).parents[2] / "configs" / "demo-v3-fine.yaml")
    exam_settings, prompt_settings = head_stage_settings(recipe)
    assert recipe.data.domain and exam_settings.domain == prompt_settings.domain == recipe.data.domain
    assert exam_settings.randomised == recipe.exam.randomised == 0.5, "the recipe's exam stage"
    assert recipe.prompt is None and prompt_settings.randomised == prompt.PromptRecipe().randomised
    assert prompt_settings.steps == prompt.PromptRecipe().steps
    quick_exam, quick_prompt = head_stage_settings(recipe, quick=True)  # echocare train heads --quick
    assert quick_exam.per_scene == exam.SMOKE.per_scene and quick_prompt.steps == prompt.SMOKE.steps
    assert quick_exam.domain == recipe.data.domain and quick_exam.randomised == 0.5


def _polish_config(tmp_path: Path, heads: list[str]) -> Path:
    from engine.config_files import read_mapping

    data = read_mapping(SMOKE)
    for phase in ("pretrain", "heads", "full"):
        data[phase] = {**data[phase], "steps": 0}
    data["polish"] = {**data["polish"], "heads": heads, "steps": 3}
    data["data"] = {**data["data"], "domain": {"lesion_disc_p": 1.0}}
    path = tmp_path / f"polish-{'-'.join(heads)}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_polish_trains_one_head_of_a_stored_model_again_and_keeps_every_other_tensor(
    smoke_run, tmp_path, capsys
):
    import torch
    from safetensors.torch import load_file

    from engine.model_card import ModelCard
    from training.recipes.polish import main
    from training.recipes.stages import describe

    _, folder = smoke_run  # the smoke recipe's last stage: it has the exam and prompt heads
    config = _polish_config(tmp_path, ["segmentation"])
    assert main(["--model", str(folder), "--config", str(config), "--out", str(tmp_path / "run")]) == 0
    polished = tmp_path / "run" / folder.name
    old, new = load_file(str(folder / "model.safetensors")), load_file(str(polished / "model.safetensors"))
    assert set(new) == set(old) and any(k.startswith("heads.prompt.") for k in old)
    changed = {k for k in old if not torch.equal(old[k], new[k])}
    assert changed and all(k.startswith("heads.segmentation.") for k in changed)

    before = ModelCard.from_json((folder / "card.json").read_text())
    card = ModelCard.from_json((polished / "card.json").read_text())
    assert [h.name for h in card.model.heads] == [h.name for h in before.model.heads]
    notes = json.loads(card.notes)["segmentation_head"]
    assert notes["config_sha256"] and notes["steps"] == 3 and "--config" in notes["reproduce"]
    kept = {k: v for k, v in before.metrics.items() if k.startswith(("test.prompt.", "test.exam."))}
    assert kept and all(card.metrics[k] == v for k, v in kept.items())
    assert "test.lesion.dice" in card.metrics
    stages = describe([folder, polished])
    assert stages[1]["kind"].startswith("segmentation head") and stages[1]["tensors_unchanged"] == len(
        [k for k in old if not k.startswith("heads.segmentation.")]
    )

    # a config that trains two heads, or a head the model lacks: one line, exit 2, nothing written
    capsys.readouterr()
    for heads in (["segmentation", "detection"], ["nonexistent"]):
        bad = _polish_config(tmp_path, heads)
        assert main(["--model", str(folder), "--config", str(bad), "--out", str(tmp_path / "bad")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and str(bad) in err and "\n" not in err
    assert not (tmp_path / "bad" / folder.name).exists()


def test_polish_refuses_a_head_the_model_lacks_and_earlier_phases(tmp_path):
    from training.recipes.polish import polished_head

    config = _polish_config(tmp_path, ["detection"])
    recipe = load_recipe(config)
    assert polished_head(recipe, config, ["segmentation", "detection"]) == "detection"
    with pytest.raises(ConfigError, match="lacks"):
        polished_head(recipe, config, ["segmentation", "prompt"])
    with pytest.raises(ConfigError, match="full"):
        polished_head(replace(recipe, full=replace(recipe.full, steps=5)), config, ["detection"])
