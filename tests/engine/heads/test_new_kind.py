"""A head kind declared once (a HeadSpec) is built, run, post-processed, written and trained.

The "brightness" kind below lives in this file alone: a network, a loss, a task, a result type
and its JSON. Nothing else in the engine or training names it, yet the model builds it, the
runner post-processes it, results.json encodes it, the AI drafts convert it and fine-tuning
prepares, batches and scores its targets: every table is derived from the spec.
"""

from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from engine.annotations import Annotation
from engine.config import HeadCfg
from engine.drafts import to_drafts
from engine.factory import create_model
from engine.heads.spec import SPECS, HeadSpec, head_spec, load_kinds, register_spec, task_names
from engine.io.memory import ArrayCine
from engine.provenance import ModelRef
from engine.results_json import results_document
from engine.tasks.base import TASKS, make_info
from engine.tasks.presets import all_heads_cfg
from engine.tasks.runner import run_tasks
from training.finetune.module import build_losses, run_heads
from training.finetune.samples import InputSpec, LabelledSample, PreparedSet, collate
from training.finetune.setup import head_cfgs
from training.metrics import primary

KIND = "brightness"


class BrightnessHead(nn.Module):
    """Mean brightness of the input, scaled by one weight."""

    def __init__(self, spec, num_outputs: int = 1) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(num_outputs))

    def forward(self, feats, image):
        return {"level": image.mean(dim=(1, 2, 3))[:, None] * self.w}


class BrightnessLoss(nn.Module):
    def forward(self, outputs, target):
        return nn.functional.mse_loss(outputs["level"], target)


@dataclass(frozen=True)
class Brightness:
    frame: int
    level: float
    model: ModelRef


class BrightnessTask:
    def __init__(self, cfg, ref):
        self.info = make_info(cfg, ref, KIND, "Brightness")

    def postprocess(self, outputs, ctx):
        return Brightness(ctx.index, float(outputs["level"][0]), self.info.model)

    def summarize(self, frames, others, cine):
        return ()


def _drafts(r, label_id, out):
    out.annotations.append(Annotation("value", r.frame, value=r.level, name="brightness"))


@pytest.fixture(scope="module")
def brightness_kind():
    load_kinds()
    register_spec(
        HeadSpec(
            kind=KIND,
            rank=10,
            network="BrightnessHead",
            loss="BrightnessLoss",
            module=__name__,
            task=BrightnessTask,
            json={Brightness: lambda r, files: {"frame": r.frame, "level": round(r.level, 4)}},
            drafts={Brightness: _drafts},
            size=lambda labels: {"num_outputs": len(labels)},
            target=lambda t, g, s: np.asarray(t, np.float32).reshape(-1),
            metric=("mae", False),
        )
    )
    yield head_spec(KIND)
    SPECS._items.pop(KIND)


def test_a_declared_kind_runs_end_to_end(brightness_kind):
    assert task_names()[-1] == KIND and KIND in TASKS and primary(KIND) == ("mae", False)
    base = all_heads_cfg()
    cfg = replace(base, heads=(base.heads_by_name["classification"], HeadCfg(KIND, KIND, ("level",))))
    model = create_model(cfg).eval()
    assert isinstance(model.heads[KIND], BrightnessHead)

    class Predictor:
        @torch.no_grad()
        def run_heads(self, keys, images, names):
            x = torch.from_numpy(images)
            out = model.forward_heads(model.forward_features(x), x, names)
            return {h: {k: v.numpy() for k, v in o.items()} for h, o in out.items()}

    ref = ModelRef(cfg.name, cfg.version, "0" * 64)
    frames = np.stack([np.full((48, 64), v, np.uint8) for v in (40, 200)])
    run = run_tasks(ArrayCine(frames, fps=10), Predictor(), cfg, ref, KIND)
    levels = [r.level for r in run.tasks[KIND].frames]
    assert levels[1] > levels[0]  # the brighter frame reads brighter through the whole path
    doc = results_document(run.tasks, {}, ref, run.frames, (0, 0, 64, 48))
    assert doc["tasks"][KIND]["frames"][1] == {"frame": 1, "level": round(levels[1], 4)}
    drafts = to_drafts([run.tasks[KIND]], lambda name: 1)
    values = [(a.kind, a.frame, a.value) for a in drafts.annotations]
    assert values == [("value", i, v) for i, v in enumerate(levels)]
    assert drafts.models == {ref}


def test_a_declared_kind_is_fine_tuned_from_its_spec(brightness_kind):
    base = all_heads_cfg()
    run_cfg = SimpleNamespace(heads=(KIND,), head_params={})
    heads = head_cfgs(replace(base, heads=()), run_cfg, {KIND: ("level",)})
    assert heads == (HeadCfg(KIND, KIND, ("level",), {"num_outputs": 1}),)
    model = create_model(replace(base, heads=heads))
    samples = [LabelledSample(np.full((48, 64), v, np.uint8), {KIND: [v / 255]}, "p") for v in (40, 200)]
    batch = collate([PreparedSet(samples, InputSpec(base.input_size), (KIND,))[i] for i in range(2)])
    assert batch["targets"][KIND].shape == (2, 1)
    feats = model.forward_features(batch["image"])
    out = run_heads(model, feats, batch["image"], batch["targets"])
    loss = build_losses(model.spec, {KIND: {}})[KIND](out[KIND], batch["targets"][KIND])
    assert torch.isfinite(loss) and loss.requires_grad

