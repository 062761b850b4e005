"""The model card holds a ModelCfg and a typed Lineage; cards in the older flat layout still load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import model_store
from engine.config import HeadCfg, ModelCfg
from engine.errors import ConfigError
from engine.model_card import Lineage, ModelCard, read_card

BUNDLED = Path(__file__).resolve().parents[3] / "resources" / "models" / "echocare-demo"

# a fine-tuned version as the store wrote it before lineage was typed
FLAT_CARD = {
    "name": "lesion",
    "version": "3",
    "architecture": "echocare_test",
    "input_size": [64, 64],
    "heads": [{"name": "segmentation", "kind": "segmentation", "labels": ["lesion"], "params": {}}],
    "parent": "2",
    "metrics": {"test.segmentation.dice": 0.71, "parent.segmentation.dice": 0.74},
    "trained_on": "fine-tuned on 7 frames from project",
    "notes": json.dumps(
        {
            "lineage": {
                "mode": "heads",
                "data_sha256": "d" * 64,
                "labels_sha256": "l" * 64,
                "test_split_sha256": "t" * 64,
                "label_counts": {"segmentation": 7},
                "patients": 5,
                "config": {"epochs": 2},
                "gate": {"worse": ["segmentation"], "reason": "worse than its parent"},
            },
            "activated": False,
        }
    ),
}


def test_the_bundled_card_loads_and_round_trips():
    card = read_card(BUNDLED)
    raw = json.loads((BUNDLED / "card.json").read_text())
    model = raw["model"]
    assert (card.name, card.version, card.model.arch) == (model["name"], model["version"], model["arch"])
    assert [h.name for h in card.model.heads] == [h["name"] for h in model["heads"]]
    weights = model_store.sha256_file(BUNDLED / "model.safetensors")
    assert card.weights_sha256 == raw["weights_sha256"] == weights  # the weights are the card's
    assert card.notes == raw["notes"] and "recipe" in json.loads(card.notes)  # how it was trained, kept
    assert ModelCard.from_json(card.to_json()) == card


def test_a_card_in_the_older_flat_layout_round_trips():
    card = ModelCard.from_dict(FLAT_CARD)
    assert (card.name, card.version, card.model.arch) == ("lesion", "3", "echocare_test")
    assert ModelCard.from_json(card.to_json()) == card


def test_lineage_kept_in_notes_by_older_versions_becomes_the_typed_lineage():
    card = ModelCard.from_dict(FLAT_CARD)
    lineage = card.lineage
    assert (lineage.parent, lineage.mode, lineage.patients) == ("2", "heads", 5)
    assert (lineage.data_sha256, lineage.labels_sha256) == ("d" * 64, "l" * 64)
    assert lineage.gate == "worse than its parent" and lineage.worse == ("segmentation",)
    assert lineage.activated is False and lineage.label_counts == {"segmentation": 7}
    assert card.notes == ""  # nothing but the lineage was in them
    assert card.model == ModelCfg(
        "lesion",
        "echocare_test",
        "3",
        (64, 64),
        heads=(HeadCfg("segmentation", "segmentation", ("lesion",), {}),),
        trained_on="fine-tuned on 7 frames from project",
    )
    assert ModelCard.from_json(card.to_json()) == card


def test_the_file_nests_the_model_and_the_lineage(tmp_path):
    cfg = ModelCfg("m", "echocare_test", "", (64, 64))
    card = ModelCard(cfg, lineage=Lineage(parent="1", method="fine-tune", details={"steps": 4}))
    data = json.loads(card.to_json())
    assert set(data) == {"model", "lineage", "metrics", "source_sha256", "weights_sha256", "created", "notes"}
    assert data["model"]["arch"] == "echocare_test" and "architecture" not in data["model"]
    assert data["lineage"]["parent"] == "1" and data["lineage"]["details"] == {"steps": 4}
    (tmp_path / "card.json").write_text(card.to_json())
    assert read_card(tmp_path) == card


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"model": {"name": "m", "arch": "a"}, "colour": 1}, "unknown model card keys: colour"),
        ({"model": {"name": "m", "architecture": "a"}}, "unknown model keys"),
        ({"name": "m", "architecture": "a"}, "lacks version"),
        ({"lineage": {}}, "lacks model"),
    ],
)
def test_bad_cards_name_what_is_wrong(data, error):
    with pytest.raises(ConfigError, match=error):
        ModelCard.from_dict(data)
