"""Every head: output names and shapes from random features, and a trainable loss."""

import pytest
import torch

from engine.heads import head_spec, network_class, task_names
from engine.heads.detection import anchor_points
from engine.heads.landmarks import gaussian_heatmaps
from engine.heads.report import EOS, PAD
from engine.tasks.presets import all_heads_cfg


def build(name, spec):
    cfg = all_heads_cfg().heads_by_name[name]
    return network_class(cfg.kind)(spec, **dict(cfg.params))


def test_all_eight_kinds_declare_a_network_and_a_task():
    names = ("exam", "classification", "segmentation", "detection", "landmarks")
    names += ("regression", "enhancement", "report")
    assert task_names() == names  # post-processing order: a task sees the results of those before it
    for name in names:
        spec = head_spec(name)
        assert issubclass(spec.network_class(), torch.nn.Module)
        assert spec.task.__name__.endswith("Task")


def test_output_shapes(spec, feats):
    f, x = feats
    out = {n: build(n, spec)(f, x) for n in ("classification", "segmentation", "regression", "enhancement")}
    assert out["classification"]["logits"].shape == (2, 2)
    assert out["segmentation"]["logits"].shape == (2, 3, 64, 64)
    assert out["regression"]["values"].shape == (2, 1)
    assert out["enhancement"]["enhanced"].shape == (2, 1, 64, 64)
    det = build("detection", spec)(f, x)
    n = 8 * 8 + 4 * 4 + 2 * 2
    assert det["cls_logits"].shape == (2, n, 2) and det["ctr_logits"].shape == (2, n)
    assert det["boxes"].shape == (2, n, 4)
    assert (det["boxes"][..., 2:] >= det["boxes"][..., :2]).all()
    assert build("landmarks", spec)(f, x)["heatmaps"].shape == (2, 3, 16, 16)
    tokens = build("report", spec)(f, x)["tokens"]
    assert tokens.shape == (2, 16) and tokens.dtype == torch.int64


def test_enhancement_starts_as_identity(spec, feats):
    f, x = feats
    out = build("enhancement", spec)(f, x)["enhanced"]
    torch.testing.assert_close(out, x[:, :1])


def test_detection_points_match_head_boxes(spec, feats):
    f, x = feats
    head = build("detection", spec)
    with torch.no_grad():
        for conv in (head.reg,):
            conv.weight.zero_()
            conv.bias.fill_(-20.0)  # ltrb ~ 0: boxes collapse onto their points
    boxes = head(f, x)["boxes"][0]
    points, _ = anchor_points(spec, head.levels)
    torch.testing.assert_close(boxes[:, :2], points, atol=1e-3, rtol=0)


def _targets(name, spec):
    g = torch.Generator().manual_seed(1)
    if name == "classification":
        return torch.tensor([0, 1])
    if name == "segmentation":
        return torch.randint(0, 3, (2, 1, 64, 64), generator=g)
    if name == "regression":
        return torch.tensor([[55.0], [float("nan")]])
    if name == "enhancement":
        return torch.randn(2, 1, 64, 64, generator=g)
    if name == "landmarks":
        return torch.tensor(
            [[[10.0, 12.0], [30.0, 40.0], [50.0, 20.0]], [[5.0, 5.0], [float("nan")] * 2, [60, 60]]]
        )
    if name == "detection":
        return [
            (torch.tensor([[8.0, 8.0, 30.0, 40.0]]), torch.tensor([1])),
            (torch.zeros(0, 4), torch.zeros(0, dtype=torch.long)),
        ]
    return torch.tensor([[4, 5, 6, EOS, PAD], [7, 8, EOS, PAD, PAD]])


@pytest.mark.parametrize(
    "name",
    ["classification", "segmentation", "detection", "landmarks", "regression", "enhancement", "report"],
)
def test_each_head_trains(name, spec, feats):
    """Two optimiser steps on a fixed batch lower the head's own loss."""
    torch.manual_seed(0)
    f, x = feats
    head = build(name, spec)
    loss_fn = head_spec(name).build_loss(spec, all_heads_cfg().heads_by_name[name].params)
    target = _targets(name, spec)
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    losses = []
    for _ in range(3):
        out = head(f, x, tokens=target) if head_spec(name).teacher_forced else head(f, x)
        loss = loss_fn(out, target)
        assert torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]


def test_gaussian_heatmaps_peak_at_the_point():
    maps = gaussian_heatmaps(torch.tensor([[[21.5, 9.5]]]), (16, 16), 4, 1.0)
    y, x = divmod(int(maps[0, 0].argmax()), 16)
    assert (x, y) == (5, 2)  # heatmap pixel 5 covers model pixels 20-23, centre 21.5
    assert float(maps.max()) == pytest.approx(1.0)


def test_a_standardised_classification_head_separates_a_collapsed_level(spec):
    """A level whose pooled vector is the same for every image but for a tiny class-bound shift:
    standardised by the training images' running figures, the head learns the classes in a few
    steps; it also answers a single image in training mode and is deterministic in eval mode."""
    from engine.heads.classification import ClassificationHead, ClassificationLoss

    torch.manual_seed(0)
    h, w = spec.input_size
    common = torch.randn(1, spec.channels[3], 1, 1) * 5
    direction = torch.randint(0, 2, (1, spec.channels[3], 1, 1)).float() * 2 - 1

    def pyramid(labels):
        shift = (labels.float() * 2 - 1).view(-1, 1, 1, 1) * 1e-3 * direction
        level = common + shift + 1e-4 * torch.randn(len(labels), spec.channels[3], h // 16, w // 16)
        return [torch.zeros(len(labels), c, 1, 1) for c in spec.channels[:3]] + [level, level[:, :1]]

    losses = {}
    for standardise in (False, True):
        torch.manual_seed(1)
        head = ClassificationHead(spec, 2, levels=(3,), hidden=16, standardise=standardise)
        opt = torch.optim.Adam(head.parameters(), lr=1e-2)
        for _ in range(60):
            labels = torch.randint(0, 2, (16,))
            loss = ClassificationLoss()(head(pyramid(labels), None), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
        losses[standardise] = float(loss)
    assert losses[True] < 0.1 < losses[False]  # the plain head is still near chance (ln 2)
    one = head(pyramid(torch.tensor([1])), None)["logits"]  # training mode, a batch of one
    assert one.shape == (1, 2) and torch.isfinite(one).all()
    head.eval()
    test = torch.tensor([0, 1, 1, 0])
    feats = pyramid(test)
    logits = head(feats, None)["logits"]
    assert (logits.argmax(1) == test).all()
    assert torch.equal(head([f[:1] for f in feats], None)["logits"], logits[:1])
