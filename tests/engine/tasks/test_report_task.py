"""The report task on known results: one number per quantity, EF only over a full cycle, the
exam's template and header, the unknown exam's one line, slots filled from the findings."""

import math

import numpy as np

from engine.heads.kinds.exam import ExamResult
from engine.io.calibration import UNCALIBRATED
from engine.provenance import ModelRef
from engine.tasks.base import CineContext
from engine.tasks.presets import all_heads_cfg
from engine.tasks.report import ReportTask, words
from engine.tasks.report_text import canonical, finding_lines, report_problems
from engine.types import ClassScores, EjectionFraction, Quantity, TaskResult

REF = ModelRef("m", "1")
LEAVES = ("cardiac/left ventricle/apical", "obstetric/fetal head/transthalamic", "breast/breast/lesion")
CINE = CineContext(tuple(i * 1000 / 30 for i in range(8)), UNCALIBRATED, tuple(range(8)))
CARDIAC_TEXT = (
    "Echocardiogram, apical view (simulated)\n\nFindings:\n"
    "- Left ventricular ejection fraction 28 % (single-plane area-length).\n"
    "- End-diastolic volume 33.0 mL, end-systolic volume 23.9 mL.\n- Heart rate 50 bpm.\n\n"
    "Impression: Reduced left ventricular systolic function.\n\nSimulated study: not for clinical use."
)
FETAL_TEXT = (
    "Fetal biometry (simulated)\n\nFindings:\n- Head circumference (HC) 236.1 mm.\n"
    "- Biparietal diameter (BPD) 64.6 mm.\n- Occipitofrontal diameter (OFD) 85.0 mm.\n"
    "- Cephalic index 76 %.\n\nImpression: Single fetal head, biometry as measured."
)


def said(text):
    """The decoder's output for ``text``, as the report task's postprocess joins it."""
    return " ".join(words(text))


def task():
    return ReportTask(all_heads_cfg(), REF)


def result(name, *summary):
    return TaskResult(name, (), tuple(summary))


def exam(leaf, source="model"):
    probs = np.full(len(LEAVES), 0.05, np.float32)
    probs[LEAVES.index(leaf)] = 0.9
    return ExamResult(LEAVES, probs, 0.3, False, "", REF, source)


def ef(percent, volumes=(50.0, 40.0, 30.0, 40.0)):
    vols = np.asarray(volumes)
    marks = ((0,), (2,)) if math.isfinite(percent) else ((), ())
    return EjectionFraction("lv", percent, *marks, vols, np.arange(vols.size), "ml", True, REF)


def biometry(hc=177.0, hc_calibrated=True):
    unit = "mm" if hc_calibrated else "px"
    return {
        "landmarks": result(
            "landmarks",
            Quantity("BPD", 52.1, "mm"),
            Quantity("OFD", 60.4, "mm"),
            Quantity("HC", hc, unit, hc_calibrated),
        ),
        "regression": result(
            "regression", Quantity("mean hc_mm", 205.2, "mm"), Quantity("mean bpd_mm", 61.0, "mm")
        ),
    }


def report(others, frames=(), t=None):
    return (t or task()).summarize(list(frames), others, CINE)[0]


def test_hc_and_bpd_are_stated_once_from_the_calibrated_landmarks():
    r = report(biometry(), [said(FETAL_TEXT)])
    lines = dict(finding_lines(r.text))
    assert lines["HC"] == "177.0 mm (landmarks)" and lines["BPD"] == "52.1 mm (landmarks)"
    assert "205.2" not in r.text and "61.0" not in r.text and "hc_mm" not in r.text
    assert [canonical(k) for k, _ in r.findings].count("hc") == 1
    assert report_problems(r.text) == []


def test_the_regression_estimate_stands_in_where_the_landmarks_give_no_calibrated_value():
    nan = dict(finding_lines(report(biometry(hc=math.nan)).text))
    assert nan["HC"] == "205.2 mm (regression head)"  # named as the measurement, sourced truly
    px = dict(finding_lines(report(biometry(hc=850.0, hc_calibrated=False)).text))
    assert px["HC"] == "205.2 mm (regression head)"
    alone = biometry(hc=850.0, hc_calibrated=False)
    del alone["regression"]
    assert dict(finding_lines(report(alone).text))["HC"] == "850.0 px (landmarks, uncalibrated)"


def test_ef_is_reported_only_from_a_full_cycle_and_never_from_the_regression_head():
    regression_ef = Quantity("mean ef", 61.0, "%")
    short = report({"regression": result("regression", regression_ef, ef(math.nan))}, [said(CARDIAC_TEXT)])
    lines = dict(finding_lines(short.text))
    assert lines["Ejection fraction (lv)"].startswith(
        "not reported: the analysed frames hold no full cardiac cycle"
    )
    assert "61.0" not in short.text and "mean ef" not in short.text
    assert "ejection fraction" not in short.text.split("Impression:")[1].lower()  # its sentence is dropped
    assert report_problems(short.text) == []

    full = report({"regression": result("regression", regression_ef, ef(40.0))}, [said(CARDIAC_TEXT)])
    assert dict(finding_lines(full.text))["Ejection fraction (lv)"] == "40.0 % (segmentation, ED 0 / ES 2)"
    assert "Left ventricular ejection fraction 40.0 % (single-plane area-length)." in full.text
    assert "61.0" not in full.text and report_problems(full.text) == []
    assert not any(c.isdigit() for c in full.impression)  # the app's copy keeps no number

    empty = report({"regression": result("regression", ef(math.nan, volumes=(0.0, 0.0, 0.0)))})
    assert "not reported: no ventricle was segmented" in empty.text
    only = report({"regression": result("regression", regression_ef)})
    assert dict(finding_lines(only.text)) == {"Ejection fraction": only.findings[0][1]}
    assert only.findings[0][1].startswith("not reported") and "61.0" not in only.text


def test_lv_systolic_function_is_graded_from_the_measured_ef_never_from_the_decoder():
    cardiac = exam("cardiac/left ventricle/apical")
    normal_words = said(CARDIAC_TEXT.replace("Reduced", "Normal"))
    for percent, grade in ((62.0, "Normal"), (45.0, "Mildly reduced"), (35.0, "Reduced")):
        r = report({"exam": result("exam", cardiac), "regression": result("regression", ef(percent))},
                   [normal_words])  # fmt: skip
        impression = r.text.split("Impression:")[1]
        assert impression.count("systolic function") == 1 and impression.count(grade) == 1
        assert f"{grade} left ventricular systolic function (graded from the measured" in r.impression
        assert impression.index("ejection fraction") < impression.index("systolic function")
        assert impression.index("systolic function") < impression.index("not for clinical use")
        assert report_problems(r.text) == []
    short = report({"exam": result("exam", cardiac), "regression": result("regression", ef(math.nan))},
                   [normal_words])  # fmt: skip
    assert "systolic function" not in short.text and "systolic function" not in short.impression
    generic = report({"regression": result("regression", ef(35.0))}, [normal_words])  # no exam: graded too
    assert "Normal" not in generic.text and "Reduced left ventricular systolic function" in generic.text


def test_decoder_sentences_naming_another_kind_of_study_are_left_out():
    breast = exam("breast/breast/lesion")
    r = report({"exam": result("exam", breast)}, [said(CARDIAC_TEXT)])
    impression = r.text.split("Impression:")[1]
    assert "Echocardiogram" not in impression and "Echocardiogram" not in r.impression
    assert "Simulated study: not for clinical use." in impression
    heart = report({"exam": result("exam", exam("cardiac/left ventricle/apical"))}, [said(CARDIAC_TEXT)])
    assert "Echocardiogram, apical view (simulated)." in heart.text.split("Impression:")[1]
    assert "Fetal biometry" not in report({"exam": result("exam", breast)}, [said(FETAL_TEXT)]).text


def test_the_header_names_the_exam_and_who_chose_it_and_the_template_orders_the_findings():
    others = {
        "exam": result("exam", exam("obstetric/fetal head/transthalamic")),
        "classification": result(
            "classification", ClassScores(("benign", "malignant"), np.array([0.3, 0.7]), REF)
        ),
        **biometry(),
    }
    r = report(others, [said(FETAL_TEXT)])
    lines = r.text.splitlines()
    assert lines[:4] == [
        "Model: m v1",
        "Exam: obstetric / fetal head / transthalamic (recognised by the model)",
        "Report: Fetal biometry",
        "Frames analysed: 8",
    ]
    names = [n for n, _ in r.findings]
    assert names == ["HC", "BPD", "OFD", "Classification"]  # the template's order, then the rest
    assert lines.index("Other results:") == lines.index("- Classification: malignant 0.70, benign 0.30") - 1
    impression = lines[lines.index("Impression:") + 1]
    assert impression == (
        "Fetal biometry (simulated). Head circumference (HC) 177.0 mm. Biparietal diameter (BPD) 52.1 mm. "
        "Occipitofrontal diameter (OFD) 60.4 mm. Single fetal head, biometry as measured."
    )  # cephalic index: not measured, its sentence dropped
    assert report_problems(r.text) == []

    by_user = ExamResult.chosen_by_user(LEAVES, "cardiac/left ventricle/apical", REF)
    r = report({"exam": result("exam", by_user), "regression": result("regression", ef(40.0))})
    assert r.text.splitlines()[1:3] == [
        "Exam: cardiac / left ventricle / apical (set by the user)",
        "Report: Echocardiogram",
    ]

    plain = report(biometry()).text.splitlines()
    assert plain[:3] == ["Model: m v1", "Exam: not determined", "Frames analysed: 8"]  # it has an exam head
    assert "Other results:" not in plain


def test_an_unknown_exam_gets_one_line_and_no_findings():
    findings = {**biometry(), "regression": result("regression", ef(40.0))}
    unknown = ExamResult(
        LEAVES, np.full(3, 1 / 3, np.float32), 9.5, True, "unlike the images it learned", REF
    )
    r = report({"exam": result("exam", unknown), **findings}, [said(CARDIAC_TEXT)])
    assert r.text.splitlines() == [
        "Model: m v1",
        "Exam: unknown (not recognised by the model)",
        "No automatic findings were made: the exam was not recognised (unlike the images it learned).",
    ]
    assert r.findings == () and r.impression == ""
    by_user = ExamResult.chosen_by_user(LEAVES, "unknown", REF)
    lines = report({"exam": result("exam", by_user), **findings}).text.splitlines()
    assert lines == [
        "Model: m v1",
        "Exam: unknown (set by the user)",
        "No automatic findings were made: the exam was set to unknown by the user.",
    ]
