"""Every DICOM object the project writes, and the bundled samples, pass dicom3tools' ``dciodvfy``.

Objects: SEG of a multi-frame cine (the bundled cardiac sample and pydicom's real 30-frame
JPEG ``examples_ybr_color.dcm``) and of a single-frame image (pydicom's ``US1_UNCR.dcm``), the
SR of each, the de-identified copy of each with the SEG or SR that references it, fresh files
of the simulator's DICOM writer, and the bundled samples as shipped. ``dciodvfy`` must report
no line with ``Error``; its warnings (e.g. the source's own patient name form) are allowed.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from interop_project import LABELS, SAMPLES
from pydicom.data import get_testdata_file

from engine.interop import export_project
from engine.project import AnnotationRecord, MaskRecord, ProjectStore
from training.sim.dicom import write_us_cine

# examples_ybr_color.dcm's own patient name ("PLA") makes highdicom warn
pytestmark = pytest.mark.filterwarnings("ignore:The string .* person name:UserWarning")
NOT_FOUND = "dciodvfy not found: install dicom3tools (apt-get install dicom3tools)"
SOURCES = {
    "cardiac": SAMPLES / "cardiac_lv_cine.dcm",
    "ybr": Path(get_testdata_file("examples_ybr_color.dcm", download=False)),
    "us1": Path(get_testdata_file("US1_UNCR.dcm", download=False)),
}
# (format, de-identified) per source; the de-identified exports also write the copy
EXPORTS = [("dicom-seg", False), ("dicom-sr", False), ("dicom-seg", True), ("dicom-sr", True)]
OBJECTS = [
    *(
        f"{src}-{fmt.removeprefix('dicom-')}{'-deid' if deid else ''}"
        for src in SOURCES
        for fmt, deid in EXPORTS
    ),
    *(f"{src}-deid-copy" for src in SOURCES),
    *(f"sample-{p.stem}" for p in sorted(SAMPLES.glob("*.dcm"))),
    "writer-grey-cine",
    "writer-colour-image",
]


def _tiny_project(folder: Path, source: Path) -> Path:
    """Two labels, masks on the first and last frame, a caliper, EF and ED/ES marks."""
    ds = pydicom.dcmread(source, stop_before_pixels=True)
    n, rows, cols = int(ds.get("NumberOfFrames", 1)), int(ds.Rows), int(ds.Columns)
    plane = np.zeros((rows, cols), np.uint8)
    plane[rows // 4 : rows // 2, cols // 4 : cols // 2] = 1
    plane[rows // 2 : 3 * rows // 4, cols // 2 : 3 * cols // 4] = 2
    annotations = [
        AnnotationRecord("d", "distance", n - 1, 1, {"points": [[10.5, 20.0], [cols / 2, rows / 3]]}),
        AnnotationRecord("ef", "value", -1, 0, {"points": [], "value": 57.25, "name": "EF (%)"}),
        AnnotationRecord("ed", "frame_mark", 0, 0, {"points": [], "value": "ED"}),
        AnnotationRecord("es", "frame_mark", n - 1, 0, {"points": [], "value": "ES"}),
    ]
    store = ProjectStore(folder)
    store.set_labels(LABELS)
    study = store.add_study(source, n, rows, cols)
    store.save_study(study.id, annotations, {f: MaskRecord(f, plane) for f in sorted({0, n - 1})})
    store.close()
    return folder


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every object of ``OBJECTS``, written once for the module."""
    root = tmp_path_factory.mktemp("dciodvfy")
    out: dict[str, Path] = {}
    for src, path in SOURCES.items():
        project = _tiny_project(root / f"{src}_project", path)
        for fmt, deid in EXPORTS:
            kind = fmt.removeprefix("dicom-")
            name = f"{src}-{kind}{'-deid' if deid else ''}"
            result = export_project(project, fmt, root / name, deidentify=deid)
            (obj,) = [f for f in result.files if f.startswith(f"{kind}/")]
            out[name] = root / name / obj
            if deid:
                out[f"{src}-deid-copy"] = root / name / "dicom" / "study_0001.dcm"
    for sample in SAMPLES.glob("*.dcm"):
        out[f"sample-{sample.stem}"] = sample
    ramp = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (3, 48, 1))
    out["writer-grey-cine"] = write_us_cine(root / "grey.dcm", ramp, 0.3, 25.0, uid_seed="g")
    rgb = np.stack([ramp[:1], ramp[:1] // 2, 255 - ramp[:1]], -1)
    out["writer-colour-image"] = write_us_cine(
        root / "rgb.dcm", rgb, 0.3, 25.0, body_part="HEART", laterality=None
    )
    return out


def _exe() -> str:
    exe = shutil.which("dciodvfy")
    if exe is None:
        pytest.fail(NOT_FOUND, pytrace=False)
    return exe


def _dciodvfy(path: Path) -> str:
    run = subprocess.run([_exe(), str(path)], capture_output=True, text=True, timeout=60)
    return run.stdout + run.stderr


@functools.cache
def _version() -> str:
    """The installed dicom3tools build (its rules change between snapshots)."""
    run = subprocess.run([_exe(), "-version"], capture_output=True, text=True, timeout=60)
    lines = (run.stdout + run.stderr).splitlines()
    return next((line.strip() for line in lines if "Version" in line), " ".join(lines[:1]) or "unknown")


@pytest.mark.parametrize("name", OBJECTS)
def test_object_passes_dciodvfy(written: dict[str, Path], name: str) -> None:
    path = written[name]
    report = _dciodvfy(path)
    errors = [line for line in report.splitlines() if "Error" in line]
    assert not errors, f"dciodvfy ({_version()}) {path}:\n{report}"
