"""The EchoCare encoder variants, the mask token and the FoundationModel."""

from __future__ import annotations

import pytest
import torch

from engine.errors import ModelError
from engine.factory import create_encoder, create_model
from engine.models.echocare import ENCODERS


def test_official_variant_has_the_released_hyper_parameters():
    kw = ENCODERS.get("echocare_swin_b").monai_kwargs()
    assert kw == {
        "in_chans": 3,
        "embed_dim": 128,
        "window_size": (8, 8),
        "patch_size": (2, 2),
        "depths": [2, 2, 18, 2],
        "num_heads": [4, 8, 16, 32],
        "mlp_ratio": 4.0,
        "qkv_bias": True,
        "spatial_dims": 2,
        "use_v2": True,
    }
    assert ENCODERS.get("echocare_swin_b").channels == (128, 256, 512, 1024, 2048)


@pytest.mark.parametrize("name", ["echocare_test", "echocare_mini", "echocare_small"])
def test_variant_outputs_match_its_feature_spec(name):
    enc = create_encoder(name).eval()
    spec = enc.feature_spec((64, 96))
    with torch.no_grad():
        feats = enc(torch.rand(2, 3, 64, 96))
    assert len(feats) == 5
    for f, c, s in zip(feats, spec.channels, spec.strides, strict=True):
        assert tuple(f.shape) == (2, c, 64 // s, 96 // s)
        # the parameter-free output LayerNorm: zero mean, unit variance over channels
        assert f.mean(dim=1).abs().max() < 1e-4


def test_small_variant_fits_the_demo_budget():
    params = sum(p.numel() for p in create_encoder("echocare_small").parameters())
    assert 0.5e6 < params < 2e6


def test_mask_token_replaces_masked_patches():
    enc = create_encoder("echocare_test").eval()
    with torch.no_grad():
        enc.mask_token.normal_()
        a, b = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
        none = torch.zeros(1, 16, 16, dtype=torch.bool)
        full = torch.ones(1, 16, 16, dtype=torch.bool)
        plain = enc(a)
        for x, y in zip(plain, enc(a, none), strict=True):
            assert torch.equal(x, y)
        # with every token masked the image no longer matters
        for x, y in zip(enc(a, full), enc(b, full), strict=True):
            torch.testing.assert_close(x, y)
        half = none.clone()
        half[:, :8] = True
        masked = enc(a, half)[0]
        assert torch.equal(masked[..., 8:, :], plain[0][..., 8:, :])
        assert not torch.allclose(masked[..., :8, :], plain[0][..., :8, :])
    with pytest.raises(ValueError, match="mask shape"):
        enc(a, torch.ones(1, 8, 8, dtype=torch.bool))


def test_foundation_model_runs_every_head_on_one_encoding(tiny_cfg):
    model = create_model(tiny_cfg).eval()
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        out = model(x)
        feats = model.forward_features(x)
        only = model.forward_heads(feats, x, ["regression"])
    assert set(out) == {"classification", "regression"}
    assert out["classification"]["logits"].shape == (3, 2)
    assert set(only) == {"regression"}
    torch.testing.assert_close(only["regression"]["logits"], out["regression"]["logits"])
    assert all(k.startswith(("encoder.", "heads.")) for k in model.state_dict())
    with pytest.raises(KeyError, match="no head"):
        model.forward_heads(feats, x, ["segmentation"])


def test_unknown_architecture_is_a_model_error(tiny_cfg):
    from dataclasses import replace

    with pytest.raises(ModelError, match="unknown architecture"):
        create_model(replace(tiny_cfg, arch="resnet50"))
    with pytest.raises(ModelError, match="multiple of 32"):
        create_model(replace(tiny_cfg, input_size=(60, 64)))
