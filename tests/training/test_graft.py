"""Grafting a head between models that share an encoder bit for bit: the head's tensors, card
entry and figures carried over, everything else of the receiving model unchanged; a donor with
another encoder, or without the head, refused in one line."""

import json
from dataclasses import replace

import pytest


def _store(folder, cfg, state):
    from safetensors.torch import save_file

    from engine.model_card import CARD_FILE, WEIGHTS_FILE, ModelCard

    folder.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(folder / WEIGHTS_FILE))
    card = json.loads(ModelCard.from_cfg(cfg).to_json())
    (folder / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    import torch

    from engine.config import HeadCfg
    from engine.factory import create_model
    from engine.tasks.presets import all_heads_cfg

    root = tmp_path_factory.mktemp("graft")
    cfg = all_heads_cfg(name="base", input_size=(64, 64), width=4)
    torch.manual_seed(0)
    base = create_model(cfg).state_dict()
    with_prompt = replace(cfg, heads=(*cfg.heads, HeadCfg("prompt", "prompt", (), {"width": 4})))
    torch.manual_seed(1)
    donor = create_model(with_prompt).state_dict()
    shared = {k: (base[k] if k.startswith("encoder.") else v) for k, v in donor.items()}
    return (
        _store(root / "base", cfg, base),
        _store(root / "donor", with_prompt, shared),
        _store(root / "stranger", with_prompt, donor),  # its own encoder
    )


def test_the_head_is_carried_over_and_nothing_else_changes(models, tmp_path):
    import torch
    from safetensors.torch import load_file

    from engine.factory import load_model
    from training.recipes.graft import graft

    base, donor, _ = models
    out = tmp_path / "out"
    graft(base, donor, "prompt", out)
    old, given, new = (load_file(str(f / "model.safetensors")) for f in (base, donor, out))
    assert all(torch.equal(old[k], new[k]) for k in old)
    prompt = [k for k in given if k.startswith("heads.prompt.")]
    assert prompt and all(torch.equal(given[k], new[k]) for k in prompt)
    assert set(new) == set(old) | set(prompt)
    loaded = load_model(out, device="cpu")
    assert loaded.cfg.heads_by_name["prompt"].params["width"] == 4
    notes = json.loads(loaded.card.notes)["prompt_head"]["grafted_from"]
    assert notes["name"] == "base" and len(notes["weights_sha256"]) == 64


def test_another_encoder_a_missing_head_and_an_output_over_the_input_are_refused(models, tmp_path, capsys):
    from engine.errors import ConfigError
    from training.recipes.graft import graft, main

    base, donor, stranger = models
    with pytest.raises(ConfigError, match="encoder differs"):
        graft(base, stranger, "prompt", tmp_path / "a")
    with pytest.raises(ConfigError, match="has no 'prompt' head"):
        graft(donor, base, "prompt", tmp_path / "b")
    with pytest.raises(ConfigError, match="not a model folder"):
        graft(tmp_path / "nowhere", donor, "prompt", tmp_path / "d")
    with pytest.raises(ConfigError, match="output folder"):
        graft(base, donor, "prompt", base)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert (
        main(
            ["--model", str(base), "--donor", str(stranger), "--head", "prompt", "--out", str(tmp_path / "c")]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "encoder differs" in err and "\n" not in err
