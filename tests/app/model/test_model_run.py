"""The model list (active versions first), the training-data statement, and a run without Qt."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.model.document import Document
from app.model.inference import prediction_command
from app.model.model_run import ModelRunner, RunRequest, available_models, not_clinical, statement
from engine.config import HeadCfg, ModelCfg
from engine.model_card import ModelCard
from engine.progress import Cancelled, CancelToken


@pytest.fixture(scope="module")
def tiny():
    import torch

    from engine.factory import create_model
    from engine.tasks.presets import all_heads_cfg

    torch.manual_seed(0)
    cfg = all_heads_cfg()
    return cfg, create_model(cfg).state_dict()


def test_active_versions_come_first(tiny):
    from engine.model_store import activate_version, save_version

    cfg, state = tiny
    for _ in range(3):
        save_version(ModelCard(replace(cfg, version="")), state, activate=False)
    activate_version(cfg.name, "2")
    mine = [c for c in available_models() if c.card.name == cfg.name]
    assert [c.key for c in mine] == ["echocare-all@2", "echocare-all@3", "echocare-all@1"]
    assert [c.title for c in mine] == ["echocare-all v2 (active)", "echocare-all v3", "echocare-all v1"]
    assert all(c.active for c in available_models() if c.card.name != cfg.name), "bundled models are active"


def test_the_statement_says_what_the_model_was_trained_on():
    head = HeadCfg("classification", "classification", ("a", "b"), {"num_classes": 2})
    cfg = ModelCfg(
        "echocare-demo",
        "echocare_small",
        "1",
        heads=(head,),
        trained_on="simulated echo cines (training.sim)",
    )
    card = ModelCard(cfg)
    assert statement(card) == (
        "echocare-demo v1 · Demo model — trained on simulated echo cines (training.sim), not for clinical use"
    )
    assert not_clinical(card)
    tuned = ModelCard(replace(cfg, version="2", trained_on="fine-tuned on 50 frames from site"))
    expected = "echocare-demo v2 · Demo model — fine-tuned on 50 frames from site, not for clinical use"
    assert statement(tuned) == expected
    local = replace(cfg, name="site-model", trained_on="trained on 300 local studies", clinical_use=True)
    site = ModelCard(local)
    assert statement(site) == "site-model v1 · trained on 300 local studies" and not not_clinical(site)
    imported = ModelCard(
        replace(cfg, name="echocare", heads=(), trained_on="imported from echocare_encoder.pth")
    )
    assert statement(imported) == (
        "echocare v1 · imported from echocare_encoder.pth, not for clinical use · model 'echocare' is an"
        " encoder only, with no task heads: give it every head with `echocare train heads --encoder"
        " echocare` (trained on simulated data), then fine-tune them on your labels"
    )


def test_a_run_gives_one_undo_step_and_a_cancelled_run_raises(tiny, cine, monkeypatch):
    from engine.model_store import save_version

    cfg, state = tiny
    save_version(ModelCard.from_cfg(cfg), state)
    runner = ModelRunner()
    request = RunRequest("echocare-all@1", ("segmentation", "regression"), (0, 1, 2), cine)
    closed = []
    monkeypatch.setattr(cine, "close", lambda: closed.append(True))
    seen = []
    result = runner.run(request, progress=seen.append)
    assert list(result.tasks) == ["segmentation", "regression"] and seen[-1].done == 3
    assert not closed, "the document's cine stays open after a run"
    doc = Document(cine)
    doc.apply(prediction_command(doc, result.tasks.values()))
    # three frames hold no full cardiac cycle, so no EF (engine.tasks.ejection); the study values remain
    assert sorted(doc.masks) == [0, 1, 2] and any(a.frame < 0 for a in doc.of_kind("value"))
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        runner.run(request, cancel=token)
