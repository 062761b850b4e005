"""Model files from strangers: a swapped weights file, a file changed after a good load, and a
code-executing pickle in a training checkpoint are all refused, and the pickle's code never runs;
a truncated training checkpoint gets a one-line error naming the file.

(The tampered-byte case and code-executing pickles given to ``models import`` are covered in
tests/engine/model; these are the cases they leave out.)
"""

from __future__ import annotations

import pickle
import shutil
import warnings
from dataclasses import replace

import pytest
import torch

from engine import model_store
from engine.config import ModelCfg
from engine.errors import ModelError
from engine.factory import create_model, load_model
from engine.model_card import ModelCard

CFG = ModelCfg(name="tiny", arch="echocare_test", input_size=(64, 64))


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ECHOCARE_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "models"


def _save(seed, name="tiny"):
    torch.manual_seed(seed)
    cfg = replace(CFG, name=name, version="")
    return model_store.save_version(ModelCard.from_cfg(cfg), create_model(cfg).state_dict())


def test_swapped_weights_file_is_refused(private_store):
    _save(0)
    _save(1)  # another valid version of the same model: a well-formed file, just not this version's
    v1 = private_store / "tiny" / "1" / "model.safetensors"
    shutil.copyfile(private_store / "tiny" / "2" / "model.safetensors", v1)
    with pytest.raises(ModelError, match="sha256 differs") as raised:
        load_model("tiny@1", device="cpu")
    assert "\n" not in str(raised.value) and str(v1) in str(raised.value)
    assert load_model("tiny@2", device="cpu").ref.version == "2"  # the untouched version still loads


def test_weights_from_another_model_are_refused(private_store):
    _save(0)
    _save(3, name="other")
    shutil.copyfile(
        private_store / "other" / "1" / "model.safetensors",
        private_store / "tiny" / "1" / "model.safetensors",
    )
    with pytest.raises(ModelError, match="sha256 differs"):
        load_model("tiny", device="cpu")


def test_every_load_checks_the_sha256_not_only_the_first(private_store):
    card = _save(0)
    assert load_model("tiny", device="cpu").ref.sha256 == card.weights_sha256
    weights = private_store / "tiny" / "1" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, in the tensor bytes: still a valid safetensors file
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256 differs"):
        load_model("tiny", device="cpu")


class RunsCode:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def test_code_executing_pickle_in_a_training_checkpoint_never_runs(tmp_path):
    from torch import nn

    from training.checkpointing import STATE, Checkpointer

    saver = Checkpointer(tmp_path / "run")
    folder = saver.save(1, nn.Linear(4, 4), {"step": 1})
    marker = tmp_path / "code-ran"
    (folder / STATE).write_bytes(pickle.dumps({"step": 1, "evil": RunsCode(marker)}))
    pickle_ok = pickle.loads(
        pickle.dumps(RunsCode(tmp_path / "control"))
    )  # the payload does run when allowed
    assert pickle_ok is None and (tmp_path / "control").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one line for the user, no torch warning beside it
        with pytest.raises(ModelError, match="refused") as raised:
            saver.load(folder, nn.Linear(4, 4))
    assert not marker.exists()
    assert str(folder / STATE) in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize("name", ["model.safetensors", "state.pt"])
def test_truncated_training_checkpoint_names_the_file(tmp_path, name):
    from torch import nn

    from training.checkpointing import Checkpointer

    saver = Checkpointer(tmp_path / "run")
    module = nn.Linear(4, 4)
    folder = saver.save(1, module, {"step": 1, "moments": torch.ones(64)})
    assert saver.load(folder, nn.Linear(4, 4))["step"] == 1
    target = folder / name
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    with pytest.raises(ModelError, match="truncated or corrupt") as raised:
        saver.load(folder, nn.Linear(4, 4))
    assert str(raised.value).startswith(f"{target}: ") and "\n" not in str(raised.value)
