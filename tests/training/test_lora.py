"""LoRA on q and v: only the adapters train, and folding reproduces the adapted encoder."""

from __future__ import annotations

import torch

from engine.checkpoint import fold_lora
from engine.factory import create_encoder
from training.finetune.lora import LoraQkv, add_lora, merge_lora


def _adapted(rank=2):
    torch.manual_seed(0)
    enc = create_encoder("echocare_test")
    n = add_lora(enc, rank)
    for m in enc.modules():  # give the zero-initialised B matrices a value so the update matters
        if isinstance(m, LoraQkv):
            torch.nn.init.normal_(m.linear_b_q.weight, std=0.05)
            torch.nn.init.normal_(m.linear_b_v.weight, std=0.05)
    return enc, n


def test_only_adapters_train_and_k_rows_are_untouched():
    enc, n = _adapted()
    assert n == sum(1 for m in enc.modules() if isinstance(m, LoraQkv)) == 4  # one block per stage
    trainable = [k for k, p in enc.named_parameters() if p.requires_grad]
    assert trainable and all(".linear_a_" in k or ".linear_b_" in k for k in trainable)
    m = next(m for m in enc.modules() if isinstance(m, LoraQkv))
    x = torch.randn(3, m.dim)
    c = m.dim
    torch.testing.assert_close(m(x)[:, c:-c], m.qkv(x)[:, c:-c])
    assert not torch.allclose(m(x)[:, :c], m.qkv(x)[:, :c])


def test_folding_matches_the_adapted_forward_and_the_engine_import_layout():
    enc, _ = _adapted()
    x = torch.rand(2, 3, 64, 64)
    enc.eval()
    with torch.no_grad():
        before = enc(x)
    wrapped_state = {k: v.clone() for k, v in enc.state_dict().items()}
    merge_lora(enc)
    with torch.no_grad():
        after = enc(x)
    for a, b in zip(before, after):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    # the engine's checkpoint import folds our wrapped layout to the same plain weights
    folded, keys = fold_lora(wrapped_state)
    assert len(keys) == 4
    plain = enc.state_dict()
    assert set(folded) == set(plain)
    for k in keys:
        torch.testing.assert_close(folded[k], plain[k], atol=1e-6, rtol=1e-6)
