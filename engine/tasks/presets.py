"""Ready-made model configurations with a head of every kind (tests, benchmarks, demo recipes)."""

from __future__ import annotations

from engine.config import HeadCfg, ModelCfg

REPORT_WORDS = (
    "<pad>", "<bos>", "<eos>", "<unk>",
    "normal", "abnormal", "left", "ventricle", "size", "function", "is", "appears",
    "reduced", "preserved", "no", "lesion", "seen", "mild", "structure", "within", "limits", ".",
)  # fmt: skip


EXAMS = ("cardiac/left ventricle/apical", "breast/breast/lesion")


def all_heads_cfg(
    name: str = "echocare-all",
    arch: str = "echocare_test",
    input_size: tuple[int, int] = (64, 64),
    width: int = 8,
    version: str = "1",
) -> ModelCfg:
    """A cardiac-flavoured model with one head of each kind, routed by its exam head.

    Exams: a cardiac and a breast leaf; classification and detection apply to the breast,
    segmentation, landmarks and regression to the left ventricle, enhancement and the report
    to any study.

    Args:
        name, arch, input_size, version: as in ``ModelCfg``.
        width: the dense heads' width (segmentation decoder ``width``, detection/landmark
            towers ``4 * width``, enhancement ``2 * width``); 8 for tests, 16-32 for real use.
    """
    heads = (
        HeadCfg("exam", "exam", EXAMS, {"num_classes": len(EXAMS), "hidden": 16}),
        HeadCfg("classification", "classification", ("normal", "abnormal"), {"num_classes": 2}),
        HeadCfg("segmentation", "segmentation", ("lv", "myocardium"), {"num_classes": 2, "width": width}),
        HeadCfg("detection", "detection", ("lesion", "valve"), {"num_classes": 2, "width": 4 * width}),
        HeadCfg(
            "landmarks",
            "landmarks",
            ("apex", "mitral_left", "mitral_right"),
            {"num_landmarks": 3, "width": 4 * width},
        ),
        HeadCfg("regression", "regression", ("ef",), {"num_outputs": 1, "units": ["%"]}),
        HeadCfg("enhancement", "enhancement", (), {"width": 2 * width}),
        HeadCfg("report", "report", REPORT_WORDS, {"vocab_size": len(REPORT_WORDS), "max_len": 16}),
    )
    measurements = (
        {"name": "mitral annulus", "kind": "distance", "points": ["mitral_left", "mitral_right"]},
        {"name": "apex angle", "kind": "angle", "points": ["mitral_left", "apex", "mitral_right"]},
        {"name": "EF", "kind": "ejection_fraction", "structure": "lv"},
    )
    return ModelCfg(
        name=name,
        arch=arch,
        version=version,
        input_size=input_size,
        heads=heads,
        measurements=measurements,
        trained_on="random weights; not for clinical use",
        exams={
            "exam": ("any",),
            "classification": ("breast",),
            "detection": ("breast",),
            "segmentation": ("left ventricle",),
            "landmarks": ("left ventricle",),
            "regression": ("left ventricle",),
            "enhancement": ("any",),
            "report": ("any",),
        },
    )
