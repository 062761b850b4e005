"""What a model finds on the real ultrasound files that ship with pydicom and pydicom-data.

    python bench/real_files.py [--model echocare-demo] [--out bench/out/real_files] [--picture PNG]

Each distinct real ultrasound image (files that share pixels are run once) goes through
``echocare infer --tasks auto`` as a user would run it. Per file: the exam the model names (or
``unknown``), the tasks that ran, every measurement (EF, HC, BPD, ...), the number of detection
boxes and the segmentation labels drawn. A **wrong-exam finding** is a finding that belongs to
another exam than the image's: an EF or LV landmarks on a non-cardiac image, fetal biometry on a
non-obstetric one, organ boxes on a lymph-node, breast or cardiac one, the LV labels on a
non-cardiac image, the fetal head label on a non-obstetric one, and a lesion (its outline or
a benign/malignant call) on a cardiac or obstetric one. The last stdout line is one
JSON object; ``--picture`` writes a contact sheet of the overlays (for docs/demo-model.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).resolve().parent / "out" / "real_files"
# file -> (what the image shows, the exam family it belongs to)
FILES: dict[str, tuple[str, str]] = {
    "US1_UNCR.dcm": ("GE linear, power Doppler of a lymph node (neck)", "small parts"),
    "OBXXXX1A.dcm": ("Philips convex, obstetric preset, an almost empty frame", "obstetric"),
    "gdcm-US-ALOKA-16.dcm": ("Aloka, dual pelvic view", "pelvis"),
    "color3d_jpeg_baseline.dcm": ("phased array, apical cardiac view", "cardiac"),
    "JPGLosslessP14SV1_1s_1f_8b.dcm": ("phased array, parasternal view with an aortic calliper", "cardiac"),
    "color-pl.dcm": ("colour Doppler of a vessel", "vascular"),
    "examples_ybr_color.dcm": ("phased array, apical cardiac cine (30 frames)", "cardiac"),
    "examples_palette.dcm": ("Philips convex, obstetric preset, palette colour", "obstetric"),
    "ExplVR_BigEnd.dcm": ("60 x 80 test image, no anatomy", "none"),
}
# measurement names (lower case) that belong to one exam; regression outputs too (hc_mm, bpd_mm)
CARDIAC = ("ef", "lv length", "edv", "esv")
FETAL = ("hc", "bpd", "ofd", "ga")
# segmentation label -> the exam families it belongs to (labels not listed: any family)
LABEL_FAMILY = {"lv_cavity": ("cardiac",), "lv_myocardium": ("cardiac",), "head": ("obstetric",)}
LESION_NOT = ("cardiac", "obstetric")  # a breast-style lesion workup is wrong on these


def find_files() -> list[Path]:
    """The files of ``FILES`` found in pydicom's test data and pydicom-data, in that order."""
    import pydicom

    roots = [Path(pydicom.__file__).parent / "data" / "test_files"]
    try:
        import data_store  # pydicom-data

        roots.append(Path(data_store.__file__).parent / "data")
    except ImportError:
        pass
    found = []
    for name in FILES:
        for root in roots:
            if (root / name).is_file():
                found.append(root / name)
                break
    return found


def _pixels_key(path: Path) -> str:
    from engine.io import open_cine

    return hashlib.sha256(np.ascontiguousarray(open_cine(str(path)).frame(0)).tobytes()).hexdigest()


def _quantities(node: Any, out: dict[str, Any]) -> None:
    if isinstance(node, dict):
        if {"name", "value", "unit"} <= node.keys():
            out.setdefault(node["name"], node["value"])
        for value in node.values():
            _quantities(value, out)
    elif isinstance(node, list):
        for value in node:
            _quantities(value, out)


def summarise(results: dict[str, Any], family: str) -> dict[str, Any]:
    """What one ``results.json`` found, and the findings that belong to another exam."""
    tasks = results["tasks"]
    quantities: dict[str, Any] = {}
    _quantities({k: v for k, v in tasks.items() if k not in ("report", "exam")}, quantities)
    boxes = sum(len(f.get("boxes", [])) for f in tasks.get("detection", {}).get("frames", []))
    seg_labels = sorted(
        {
            label
            for f in tasks.get("segmentation", {}).get("frames", [])
            for label, n in f.get("pixel_counts", {}).items()
            if n > 0
        }
    )
    exam = tasks.get("exam", {}).get("cine", [{}])
    wrong = []
    names = {q.lower().replace("_mm", "").replace("_", " ") for q in quantities}
    if family != "cardiac" and names & set(CARDIAC):
        wrong.append("cardiac measurement")
    if family != "obstetric" and names & set(FETAL):
        wrong.append("fetal biometry")
    if family in ("small parts", "breast", "cardiac") and boxes:
        wrong.append("organ boxes")
    foreign = [x for x in seg_labels if x in LABEL_FAMILY and family not in LABEL_FAMILY[x]]
    if foreign:
        wrong.append("segmentation " + ", ".join(foreign))
    if family in LESION_NOT and ("lesion" in seg_labels or "classification" in tasks):
        wrong.append("lesion workup")
    return {
        "exam": exam[0].get("label") if exam else None,
        "exam_reason": exam[0].get("reason") if exam else None,
        "ran": sorted(k for k in tasks if k not in ("exam",)),
        "skipped": sorted(results.get("skipped", {})),
        "measurements": {k: v for k, v in sorted(quantities.items())},
        "boxes": boxes,
        "segmentation_labels": seg_labels,
        "wrong_exam_findings": wrong,
    }


def run_one(path: Path, model: str, out: Path) -> tuple[dict[str, Any], Path | None]:
    cmd = [sys.executable, "-m", "app.cli.main", "infer", str(path), "--model", model, "--tasks", "auto"]
    cmd += ["--out", str(out), "--quiet"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}, None
    results = json.loads((out / "results.json").read_text())
    overlays = sorted((out / "overlays").glob("*.png")) if (out / "overlays").is_dir() else []
    return results, overlays[0] if overlays else None


def picture(rows: list[dict[str, Any]], path: Path) -> None:
    """A contact sheet of the first overlay of every file with its exam and findings."""
    tiles = []
    for row in rows:
        image = cv2.imread(row["overlay"]) if row.get("overlay") else None
        tile = np.zeros((300, 400, 3), np.uint8)
        if image is not None:
            scale = min(400 / image.shape[1], 260 / image.shape[0])
            small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            tile[40 : 40 + small.shape[0], : small.shape[1]] = small
        lines = [
            row["file"][:40],
            f"exam: {row.get('exam')}  wrong: {len(row.get('wrong_exam_findings', []))}",
        ]
        for i, text in enumerate(lines):
            cv2.putText(tile, text, (4, 16 + 16 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
        tiles.append(tile)
    while len(tiles) % 3:
        tiles.append(np.zeros_like(tiles[0]))
    sheet = np.vstack([np.hstack(tiles[i : i + 3]) for i in range(0, len(tiles), 3)])
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), sheet)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="echocare-demo")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--picture", type=Path, default=None, help="write a contact sheet of the overlays")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    seen: dict[str, str] = {}
    rows = []
    for path in find_files():
        key = _pixels_key(path)
        if key in seen:
            print(f"{path.name}: same pixels as {seen[key]}", file=sys.stderr)
            continue
        seen[key] = path.name
        shows, family = FILES[path.name]
        results, overlay = run_one(path, args.model, args.out / path.stem)
        row = {"file": path.name, "shows": shows, "family": family}
        row |= results if "error" in results else summarise(results, family)
        row["overlay"] = str(overlay) if overlay else None
        print(f"{path.name}: {row}", file=sys.stderr)
        rows.append(row)
    if args.picture:
        picture(rows, args.picture)
    wrong = sum(bool(r.get("wrong_exam_findings")) for r in rows)
    print(
        json.dumps(
            {"bench": "real_files", "model": args.model, "files": rows, "files_with_wrong_exam": wrong}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
