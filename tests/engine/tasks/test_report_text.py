"""Report prose: detokenisation, empty number slots filled from a measurement or dropped, and the
``report_problems`` rule every report is checked against."""

import pytest

from engine.tasks.report import words
from engine.tasks.report_text import (
    canonical,
    detokenise,
    fillable,
    prose,
    report_problems,
    sentences,
)
from training.sim import SimConfig, list_scenes, simulate

EF = fillable("EF", "%", "40.3")
HC = fillable("HC", "mm", "177.0")
BPD = fillable("BPD", "mm", "52.1")


def decoded(text):
    """What the report head writes for ``text``: its words, the digit-bearing ones gone."""
    return words(text)


def test_detokenise_joins_punctuation_and_brackets_and_capitalises():
    tokens = decoded("single-plane area-length ( simulated ) , apical view ; normal : yes")
    assert detokenise(tokens) == "Single-plane area-length (simulated), apical view; normal: yes"
    assert detokenise(["hc", "(", "hadlock", ")", "db", "ml"]) == "Hc (Hadlock) dB mL"
    assert detokenise(["hc", "(", "hadlock", ")"], {"hc": "HC"}) == "HC (Hadlock)"
    assert detokenise(["ejection", "fraction", "40.3", "%"]) == "Ejection fraction 40.3 %"


def test_sentences_split_at_full_stops_headings_and_bullets_not_at_number_remains():
    got = sentences(decoded("Echo, apical view\n\nFindings:\n- Volume 25.0 mL, heart rate 50 bpm.\n- Done."))
    assert got == [
        ["echo", ",", "apical", "view"],
        ["volume", "ml", ",", "heart", "rate", "bpm"],  # the "." of 25.0 is not a full stop
        ["done"],
    ]
    # a minus sign whose number is gone is not a bullet either
    assert sentences(decoded("Contrast to surrounding tissue -21 dB.")) == [
        ["contrast", "to", "surrounding", "tissue", "db"]
    ]


def test_a_slot_is_filled_from_the_measurement_it_names_with_the_same_unit():
    said = decoded("Left ventricular ejection fraction 28 % (single-plane area-length). Reduced function.")
    assert said[:4] == ["left", "ventricular", "ejection", "fraction"] and "28" not in said
    assert prose(said, [EF]) == (
        "Left ventricular ejection fraction 40.3 % (single-plane area-length). Reduced function."
    )
    # by its abbreviation too, in its usual case
    said = decoded("Head circumference (HC) 236.1 mm. Biparietal diameter (BPD) 64.6 mm.")
    assert prose(said, [HC, BPD], {"hc": "HC", "bpd": "BPD"}) == (
        "Head circumference (HC) 177.0 mm. Biparietal diameter (BPD) 52.1 mm."
    )


def test_a_slot_without_its_measurement_is_dropped_with_its_sentence_or_clause():
    # no EF measured: the sentence goes, the others stay
    said = decoded("Left ventricular ejection fraction 28 %. Reduced left ventricular systolic function.")
    assert prose(said) == "Reduced left ventricular systolic function."
    # a measurement of the right name but another unit does not fill it
    said = decoded("Gestational age by HC (Hadlock) 25.7 weeks. Single fetal head.")
    assert prose(said, [HC]) == "Single fetal head."
    # ". ml ," remains: both clauses need numbers, the sentence goes
    said = decoded("End-diastolic volume 25.0 mL, end-systolic volume 24.5 mL. Heart rate 50 bpm.")
    assert prose(said, [EF]) == ""
    # a later clause with a slot goes, the first stays
    said = decoded(
        "A hypoechoic mass with circumscribed margins, parallel orientation at a depth of 14.9 mm."
    )
    assert prose(said) == "A hypoechoic mass with circumscribed margins."
    # a count whose number is gone leaves a colon ending its sentence
    assert prose(decoded("Structures detected: 2. Findings as listed; simulated anatomy.")) == (
        "Findings as listed; simulated anatomy."
    )
    # two slots in one clause are never filled from one measurement
    assert prose(decoded("Size 9.2 mm x 5.8 mm, area 41 mm².  No shadowing."), [HC]) == "No shadowing."


@pytest.mark.parametrize("scene", list_scenes())
def test_every_simulated_report_comes_out_as_clean_sentences(scene):
    """The simulator writes the reports the demo model's decoder learned: with their numbers gone
    (as the decoder writes them), each becomes sentences with no empty slot, with or without
    measurements to fill them from."""
    for seed in range(4):
        truth = simulate(scene, seed, SimConfig(height=64, width=64, frames=2)).truth
        said = decoded(truth.report)
        for fills in ((), (EF, HC, BPD)):
            text = prose(said, fills, {"hc": "HC", "bpd": "BPD", "ofd": "OFD"})
            assert text and report_problems(text) == [], (scene, seed, text)
            assert text[0].isupper() and text.endswith(".")
        assert not any(c.isdigit() for c in prose(said))


def test_report_problems_names_each_kind_of_fault():
    good = (
        "Fetal biometry report\nFindings:\n- HC: 177.0 mm (landmarks)\nImpression:\nHC 177.0 mm (landmarks)."
    )
    assert report_problems(good) == []
    for bad, what in (
        ("Heart rate bpm.", "empty slot"),
        ("End-diastolic volume . mL , end-systolic volume.", "empty slot"),
        ("Ejection fraction (%).", "empty slot"),
        ("Structures detected:.", "dangling"),
        ("Normal size , no lesion.", "space before punctuation"),
        ("Echo ( simulated).", "space before punctuation"),
        ("- BPD: mm (landmarks)", "empty slot"),
        ("Findings:\n- HC: 177.0 mm (landmarks)\n- mean hc_mm: 205.2 mm (regression head)", "one quantity"),
        ("- Ejection fraction (lv): 40.0 %\n- mean ef: 38.0 % (regression head)", "one quantity"),
    ):
        problems = report_problems(bad)
        assert problems and what in " ".join(problems), (bad, problems)


def test_canonical_names_one_quantity_alike():
    assert canonical("HC") == canonical("mean hc_mm") == canonical("Head circumference") == "hc"
    assert canonical("BPD") == canonical("bpd_mm") == "bpd"
    assert canonical("Ejection fraction (lv_cavity)") == canonical("mean ef") == "ef"
    assert canonical("mean lv_cavity area") == "lv cavity area" != canonical("mean lv_myocardium area")
