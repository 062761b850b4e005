"""Checkpoint import: official layout, LoRA, prefixes, safetensors, and every refusal."""

from __future__ import annotations

import pickle

import pytest
import torch
from monai.networks.nets.swin_unetr import SwinTransformer
from safetensors.torch import save_file
from torch import nn

from app.cli import main as cli
from engine.checkpoint import echocare_filter
from engine.factory import create_encoder, load_model
from engine.models.echocare import ENCODERS


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """Run ``echocare`` with the models command; returns (exit status, stdout, stderr)."""
    monkeypatch.setattr(cli, "COMMANDS", ("models",))

    def run(*argv):
        code = cli.main([str(a) for a in argv])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _snapshot(root):
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_official_checkpoint_imports_and_equals_monai(tmp_path, run_cli):
    kwargs = ENCODERS.get("echocare_swin_b").monai_kwargs()
    torch.manual_seed(1)
    source = SwinTransformer(**kwargs)
    state = dict(source.state_dict())
    state["mask_token"] = torch.randn(1, 1, 128)
    path = tmp_path / "echocare_encoder.pth"
    torch.save(state, path)
    del source, state

    code, out, err = run_cli("models", "import", path)
    assert code == 0, err
    assert "architecture: echocare_swin_b" in out
    assert "loaded 359 tensors; missing 0; unexpected 0; reshaped 0; lora-folded 0" in out

    # the README recipe: flat dict, pop mask_token, strict load into MONAI's module
    reference = SwinTransformer(**kwargs).eval()
    official = torch.load(path, weights_only=True)
    mask_token = official.pop("mask_token")
    reference.load_state_dict(official, strict=True)
    del official

    loaded = load_model("echocare_encoder", device="cpu")
    torch.testing.assert_close(loaded.module.encoder.mask_token, mask_token, rtol=0, atol=0)
    x = torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        want = reference(x, normalize=True)
        got = loaded.module.forward_features(x)
    assert [tuple(g.shape) for g in got] == [
        (1, 128, 128, 128),
        (1, 256, 64, 64),
        (1, 512, 32, 32),
        (1, 1024, 16, 16),
        (1, 2048, 8, 8),
    ]
    for g, w in zip(got, want, strict=True):
        assert (g - w).abs().max().item() <= 1e-5


class LoRAQKVTestBlock(nn.Module):
    """The LoRA wrapper the challenge baselines put around ``attn.qkv`` (q and v only)."""

    def __init__(self, qkv: nn.Linear, rank: int = 3) -> None:
        super().__init__()
        c = qkv.in_features
        self.qkv = qkv
        self.dim = c
        self.linear_a_q = nn.Linear(c, rank, bias=False)
        self.linear_b_q = nn.Linear(rank, c, bias=False)
        self.linear_a_v = nn.Linear(c, rank, bias=False)
        self.linear_b_v = nn.Linear(rank, c, bias=False)

    def forward(self, x):
        qkv = self.qkv(x)
        q = self.linear_b_q(self.linear_a_q(x))
        v = self.linear_b_v(self.linear_a_v(x))
        return torch.cat(
            [qkv[..., : self.dim] + q, qkv[..., self.dim : -self.dim], qkv[..., -self.dim :] + v], -1
        )


def test_lora_checkpoint_is_folded_and_equals_the_unfolded_forward(tmp_path, run_cli):
    torch.manual_seed(2)
    wrapped = create_encoder("echocare_test").eval()
    blocks = [b for s in range(1, 5) for b in getattr(wrapped, f"layers{s}")[0].blocks]
    for block in blocks:
        block.attn.qkv = LoRAQKVTestBlock(block.attn.qkv)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        want = wrapped(x)
    # a challenge-baseline checkpoint: nested, prefixed, with decoder keys around the encoder
    model_state = {f"seg_net.encoder.{k}": v for k, v in wrapped.state_dict().items() if k != "mask_token"}
    model_state["seg_net.decoder1.conv.weight"] = torch.zeros(4, 4, 3, 3)
    path = tmp_path / "best.pth"
    torch.save({"model": model_state, "epoch": 7, "previous_best": 0.7}, path)

    code, out, err = run_cli("models", "import", path, "--name", "carotid")
    assert code == 0, err
    assert "architecture: echocare_test" in out
    assert f"lora-folded {len(blocks)}" in out
    assert "unexpected: seg_net.decoder1.conv.weight" in out
    with torch.no_grad():
        got = load_model("carotid", device="cpu").module.forward_features(x)
    for g, w in zip(got, want, strict=True):
        assert (g - w).abs().max().item() <= 1e-4


def test_prefixed_safetensors_import(tmp_path, run_cli):
    enc = create_encoder("echocare_small").eval()
    path = tmp_path / "student.safetensors"
    save_file({f"module.backbone.{k}": v.contiguous() for k, v in enc.state_dict().items()}, str(path))
    code, out, err = run_cli("models", "import", path)
    assert code == 0, err
    assert "missing 0; unexpected 0" in out
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        for g, w in zip(load_model("student", device="cpu").module.forward_features(x), enc(x), strict=True):
            torch.testing.assert_close(g, w)


class RunsCode:
    """Unpickling this object would create a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


@pytest.mark.parametrize("layout", ["zip", "legacy", "raw-pickle"])
def test_code_executing_pickle_is_refused(tmp_path, run_cli, private_store, layout):
    marker = tmp_path / "code-ran"
    payload = {"patch_embed.proj.weight": torch.zeros(1), "evil": RunsCode(marker)}
    path = tmp_path / "echocare_encoder.pth"
    if layout == "raw-pickle":
        path.write_bytes(pickle.dumps(payload, protocol=2))
    else:
        torch.save(payload, path, _use_new_zipfile_serialization=layout == "zip")
    code, _out, err = run_cli("models", "import", path)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"error: {path}: ")
    assert "refused" in err
    assert not marker.exists()
    assert not private_store.exists()


def _tiny_file(tmp_path, arch="echocare_test"):
    path = tmp_path / f"{arch}.pth"
    torch.save(create_encoder(arch).state_dict(), path)
    return path


def _truncated(tmp_path):
    good = _tiny_file(tmp_path).read_bytes()
    path = tmp_path / "cut.pth"
    path.write_bytes(good[: len(good) // 2])
    return path, "truncated or corrupt"


def _truncated_safetensors(tmp_path):
    path = tmp_path / "cut.safetensors"
    save_file({k: v.contiguous() for k, v in create_encoder("echocare_test").state_dict().items()}, str(path))
    path.write_bytes(path.read_bytes()[:-1000])
    return path, "truncated or corrupt"


def _other_architecture(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(10, 512)}, path)
    return path, "not a echocare_swin_b checkpoint: 358 of 358 tensors missing"


def _wrong_shapes(tmp_path):
    path = tmp_path / "wide.pth"
    state = create_encoder("echocare_test").state_dict()
    state["layers2.0.blocks.0.mlp.linear1.weight"] = torch.zeros(7, 24)
    torch.save(state, path)
    return path, "wrong shapes for echocare_test"


def _not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("hello")
    return path, "not a checkpoint"


@pytest.mark.parametrize(
    "make", [_truncated, _truncated_safetensors, _other_architecture, _wrong_shapes, _not_a_checkpoint]
)
def test_bad_checkpoint_is_refused_and_store_unchanged(tmp_path, run_cli, private_store, make):
    assert run_cli("models", "import", _tiny_file(tmp_path), "--name", "kept")[0] == 0
    before = _snapshot(private_store)
    path, reason = make(tmp_path)
    arch = ["--arch", "echocare_test"] if make is _wrong_shapes else []
    code, _out, err = run_cli("models", "import", path, *arch)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"error: {path}: ")
    assert reason in err
    assert _snapshot(private_store) == before


def test_filter_adapts_window_and_single_channel_stem():
    source = create_encoder("echocare_test").state_dict()
    source["patch_embed.proj.weight"] = source["patch_embed.proj.weight"][:, :1]
    bigger = {k: v for k, v in source.items() if "relative_position" not in k}
    for k, v in source.items():
        if k.endswith("relative_position_bias_table"):
            bigger[k] = torch.randn(81, v.shape[1])  # a window of 5 instead of 4
        if k.endswith("relative_position_index"):
            bigger[k] = torch.zeros(25, 25, dtype=torch.long)
    tensors, report = echocare_filter({"state_dict": bigger}, create_encoder("echocare_test"))
    assert report.ok and not report.unexpected
    assert "patch_embed.proj.weight" in report.reshaped
    assert sum(k.endswith("bias_table") for k in report.reshaped) == 4
    assert sum(k.endswith("position_index") for k in report.reshaped) == 4
    assert tensors["layers1.0.blocks.0.attn.relative_position_bias_table"].shape == (49, 1)


def test_list_show_remove(tmp_path, run_cli):
    assert run_cli("models", "import", _tiny_file(tmp_path), "--name", "tiny")[0] == 0
    code, out, _ = run_cli("models", "list")
    assert code == 0 and "* tiny@1  echocare_test" in out
    code, out, _ = run_cli("models", "show", "tiny@1")
    assert code == 0 and '"arch": "echocare_test"' in out
    assert run_cli("models", "remove", "tiny")[0] == 0
    code, _, err = run_cli("models", "show", "tiny")
    assert code == 2 and "no such model" in err
