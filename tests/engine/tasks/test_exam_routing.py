"""``--tasks auto``: the exam decides which tasks run and which of their labels are kept."""

from dataclasses import replace

import numpy as np
import pytest

from app.cli.main import main
from engine.exams import route
from engine.heads.kinds.exam import ExamResult
from engine.heads.spec import head_spec
from engine.io import open_cine
from engine.model_card import ModelCard
from engine.model_store import save_version
from engine.results_json import read_results
from engine.tasks.presets import EXAMS
from engine.tasks.runner import run_tasks
from tests.engine.tasks.conftest import ModulePredictor

CARDIAC, BREAST = EXAMS
SEGMENTATION_AND_CO = ["exam", "segmentation", "landmarks", "regression", "enhancement", "report"]


@pytest.fixture
def lv(tmp_path, beating, us_dicom):
    path = us_dicom(tmp_path / "lv.dcm", beating(n=6, period=3), [(0, 0, 127, 95, 0.03, 0.03)])
    with open_cine(path) as cine:
        yield cine


def _run(cine, tiny, cfg=None, exam=None, tasks="auto"):
    cfg = cfg or tiny[0]
    chosen = (
        None if exam is None else ExamResult.chosen_by_user(cfg.heads_by_name["exam"].labels, exam, tiny[2])
    )
    return run_tasks(cine, ModulePredictor(tiny[1]), cfg, tiny[2], tasks, exam=chosen)


def test_a_cardiac_exam_runs_only_what_applies_to_the_left_ventricle(lv, tiny):
    result = _run(lv, tiny, exam=CARDIAC)
    assert list(result.tasks) == SEGMENTATION_AND_CO
    assert set(result.skipped) == {"classification", "detection"}
    assert "not to cardiac / left ventricle / apical" in result.skipped["classification"]
    assert result.exam.label() == "cardiac / left ventricle / apical" and result.exam.source == "user"
    assert result.tasks["exam"].summary == (result.exam,)


def test_a_breast_exam_runs_classification_and_detection_but_no_ventricle(lv, tiny):
    result = _run(lv, tiny, exam=BREAST)
    assert list(result.tasks) == ["exam", "classification", "detection", "enhancement", "report"]
    assert set(result.skipped) == {"segmentation", "landmarks", "regression"}
    assert not result.note


def test_an_unknown_exam_gives_no_automatic_findings(lv, tiny):
    result = _run(lv, tiny, exam="unknown")
    assert list(result.tasks) == ["exam", "enhancement", "report"]
    assert result.exam.unknown and "no automatic findings" in result.note
    assert all("unknown" in why for why in result.skipped.values()) and len(result.skipped) == 5


def test_the_model_says_unknown_when_the_image_is_unlike_its_training_data(lv, tiny):
    cfg = replace(tiny[0], calibration={"exam": {"ood_threshold": -1.0}})  # every score is above it
    result = _run(lv, tiny, cfg)
    assert result.exam.unknown and result.exam.source == "model"
    assert "unlike the images it learned" in result.exam.reason
    assert list(result.tasks) == ["exam", "enhancement", "report"]
    frames = result.tasks["exam"].summary
    assert len(frames) == 1 and frames[0].frame is None


def test_the_model_says_unknown_when_no_organ_is_likely_enough(lv, tiny):
    cfg = replace(tiny[0], calibration={"exam": {"min_prob": 1.01}})
    result = _run(lv, tiny, cfg)
    assert result.exam.unknown and "likely enough" in result.exam.reason


def test_the_model_decision_routes_like_the_same_exam_set_by_hand(lv, tiny):
    decided = _run(lv, tiny)
    assert decided.exam.source == "model" and not decided.exam.unknown
    by_hand = _run(lv, tiny, exam="/".join(decided.exam.path))
    assert list(decided.tasks) == list(by_hand.tasks) and decided.skipped == by_hand.skipped
    probs = np.array([p for _, p in decided.exam.level(0)])
    assert probs.sum() == pytest.approx(1.0, abs=1e-5) and (np.diff(probs) <= 0).all()


def test_labels_and_measurements_that_do_not_apply_are_dropped_within_a_task(lv, tiny):
    whole = _run(lv, tiny, tasks="segmentation,regression")
    cfg = replace(tiny[0], exams={**tiny[0].exams, "segmentation:lv": ("breast",)})
    kept = _run(lv, tiny, cfg, exam=CARDIAC)
    for a, b in zip(whole.tasks["segmentation"].frames, kept.tasks["segmentation"].frames):
        assert (a.mask == 1).any() and not (b.mask == 1).any()  # lv is label 1
        # a pixel whose winner still applies keeps it; an lv pixel takes the best label left
        assert (b.mask[a.mask != 1] == a.mask[a.mask != 1]).all()
        assert set(np.unique(b.mask[a.mask == 1])) <= {0, 2}
        assert [q.name for q in b.areas] == ["myocardium area"] and b.pixel_counts[0] == 0
    assert any(type(s).__name__ == "EjectionFraction" for s in whole.tasks["regression"].summary)
    cfg = replace(tiny[0], exams={**tiny[0].exams, "measurement:EF": ("breast",)})
    no_ef = _run(lv, tiny, cfg, exam=CARDIAC)
    assert not any(type(s).__name__ == "EjectionFraction" for s in no_ef.tasks["regression"].summary)
    assert [q.name for q in no_ef.tasks["regression"].frames[0].values] == ["ef"]  # the head's value stays


def test_a_pixel_chooses_among_the_labels_its_exam_allows():
    spec = head_spec("segmentation")
    # one pixel: background 0.12, lesion 0.39, lv cavity 0.18, myocardium 0.31 (softmax of the logits)
    logits = np.log(np.array([0.12, 0.39, 0.18, 0.31], np.float32)).reshape(1, 4, 1, 1)
    outputs = {"logits": logits}
    assert spec.condition(outputs, [True, True, True])["logits"].argmax(1).item() == 1
    assert spec.condition(outputs, [False, True, True])["logits"].argmax(1).item() == 3  # a cardiac exam
    assert spec.condition(outputs, [False, True, False])["logits"].argmax(1).item() == 2
    assert spec.condition(outputs, [False, False, False])["logits"].argmax(1).item() == 0
    assert outputs["logits"].argmax(1).item() == 1  # the head's own outputs are left as they were


def test_all_and_an_explicit_list_are_not_routed(lv, tiny):
    everything = _run(lv, tiny, tasks="all")
    assert list(everything.tasks)[:2] == ["exam", "classification"] and len(everything.tasks) == 8
    assert not everything.skipped and everything.exam is everything.tasks["exam"].summary[0]
    listed = _run(lv, tiny, tasks="classification,segmentation")
    assert list(listed.tasks) == ["classification", "segmentation"] and listed.exam is None


def test_a_model_without_an_exam_head_runs_every_task_and_says_so(lv, tiny):
    cfg = replace(tiny[0], heads=tuple(h for h in tiny[0].heads if h.name != "exam"))
    result = _run(lv, tiny, cfg)
    assert "exam" not in result.tasks and len(result.tasks) == 7
    assert "has no exam head" in result.note and result.exam is None


def test_routing_names_each_skipped_task_with_its_scope(tiny):
    exam = ExamResult.chosen_by_user(EXAMS, BREAST, tiny[2])
    routing = route(tiny[0], ["exam", "classification", "segmentation", "report"], exam)
    assert routing.tasks == ("classification", "report")
    assert routing.skipped == {"segmentation": "applies to left ventricle, not to breast / breast / lesion"}


@pytest.fixture
def stored(tmp_path, monkeypatch, tiny):
    monkeypatch.setenv("ECHOCARE_HOME", str(tmp_path / "home"))
    return save_version(ModelCard.from_cfg(tiny[0]), tiny[1].state_dict())


def test_infer_auto_is_the_default_and_writes_the_exam_and_the_skipped_tasks(
    tmp_path, stored, beating, us_dicom, capsys
):
    path = us_dicom(tmp_path / "lv.dcm", beating(n=6, period=3), [(0, 0, 127, 95, 0.03, 0.03)])
    out = tmp_path / "out"
    assert main(["infer", str(path), "--model", stored.name, "--exam", CARDIAC, "--out", str(out)]) == 0
    doc = read_results(out / "results.json")
    assert list(doc["tasks"]) == SEGMENTATION_AND_CO
    assert doc["exam"]["label"] == "cardiac / left ventricle / apical" and doc["exam"]["source"] == "user"
    assert doc["exam"]["levels"]["organ"] == {"name": "left ventricle", "probs": {"left ventricle": 1.0}}
    assert set(doc["skipped"]) == {"classification", "detection"}
    err = capsys.readouterr().err
    assert "exam: cardiac / left ventricle / apical (set by the user)" in err and "skipped detection:" in err


def test_infer_refuses_an_exam_the_model_does_not_know(tmp_path, stored, beating, us_dicom, capsys):
    path = us_dicom(tmp_path / "lv.dcm", beating(n=3, period=3))
    argv = ["infer", str(path), "--model", stored.name, "--exam", "thyroid", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown exam 'thyroid'" in err[0] and err[0].startswith("error:")


def _other_region(cfg, region):
    regions = {label.split("/")[0] for label in cfg.heads_by_name["exam"].labels}
    return sorted(regions - {region})[0]


def test_an_exam_the_files_header_rules_out_gives_no_findings(tmp_path, beating, us_dicom, tiny):
    frames, regions = beating(n=6, period=3), [(0, 0, 127, 95, 0.03, 0.03)]
    with open_cine(us_dicom(tmp_path / "plain.dcm", frames, regions)) as cine:
        decided = _run(cine, tiny)
    assert decided.exam.source == "model" and not decided.exam.unknown
    other = _other_region(tiny[0], decided.exam.region)
    # the header names another region: the model's exam is unknown, and the reason says why
    header = {"ImageType": ["ORIGINAL", "PRIMARY", other.upper()]}
    with open_cine(us_dicom(tmp_path / "other.dcm", frames, regions, header=header)) as cine:
        assert cine.info.declared_exam.regions == {other}
        ruled_out = _run(cine, tiny)
        by_hand = _run(cine, tiny, exam="/".join(decided.exam.path))  # a person's exam stands
    assert ruled_out.exam.unknown and ruled_out.exam.source == "model"
    assert ruled_out.exam.reason == (
        f"the file's Image Type ({other.upper()}) says {other}, "
        f"the image looks {decided.exam.region} to the model"
    )
    assert (
        list(ruled_out.tasks) == ["exam", "enhancement", "report"]
        and "no automatic findings" in ruled_out.note
    )
    assert not by_hand.exam.unknown and list(by_hand.tasks) == list(decided.tasks)
    # the header names the model's own region (in a free-text field): nothing changes
    header = {"StudyDescription": f"Routine {decided.exam.region} scan"}
    with open_cine(us_dicom(tmp_path / "same.dcm", frames, regions, header=header)) as cine:
        agreed = _run(cine, tiny)
    assert not agreed.exam.unknown and list(agreed.tasks) == list(decided.tasks)


def test_the_header_check_is_written_with_the_exam_in_results_json(tmp_path, stored, beating, us_dicom):
    header = {"BodyPartExamined": "KNEE"}  # a region no exam of the model belongs to
    path = us_dicom(
        tmp_path / "knee.dcm", beating(n=4, period=3), [(0, 0, 127, 95, 0.03, 0.03)], header=header
    )
    assert (
        main(["infer", str(path), "--model", stored.name, "--tasks", "auto", "--out", str(tmp_path / "o")])
        == 0
    )
    results = read_results(tmp_path / "o" / "results.json")
    exam = results["tasks"]["exam"]["cine"][0]
    assert exam["unknown"] and exam["reason"].startswith(
        "the file's Body Part Examined (KNEE) says musculoskeletal"
    )
    assert results["source"]["declared_exam"] == {
        "regions": ["musculoskeletal"],
        "field": "Body Part Examined",
        "text": "KNEE",
    }
