"""Write the bundled sample studies: simulated DICOM cines plus their ground truth.

    python tools/make_samples.py                 # (re)write resources/samples/
    python tools/make_samples.py --check         # regenerate in a temp folder, compare bytes
    python tools/make_samples.py --keep-pixels   # rewrite the headers, keep the JPEG frames

Every sample is fully determined by (scene, seed, configuration, options), recorded in
``<name>.truth.json`` together with the file's sha256; masks can be regenerated with
``training.sim.simulate(scene, seed, SimConfig(**config), **options)``.

``--keep-pixels`` rewrites the files with the current header code but the JPEG frames already
on disk, byte for byte, and updates only the sha256 of each truth record: the pixels do not
depend on the installed OpenCV's text rendering or JPEG encoder then.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pydicom
from pydicom.encaps import generate_frames

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from training.sim import SimConfig, simulate  # noqa: E402
from training.sim.dicom import write_simulation  # noqa: E402

OUT = ROOT / "resources" / "samples"
QUALITY = 85
MAX_TOTAL_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Sample:
    """One bundled study."""

    name: str
    scene: str
    seed: int
    config: SimConfig
    options: dict[str, object] = field(default_factory=dict)


SAMPLES = (
    Sample("cardiac_lv_cine", "cardiac", 2026, SimConfig(height=480, width=640, frames=60, fps=30.0)),
    Sample(
        "breast_lesion_cine",
        "lesion",
        2027,
        SimConfig(height=400, width=480, frames=24, fps=20.0),
        {"malignant": True},
    ),
    Sample("fetal_head", "fetal_head", 2028, SimConfig(height=480, width=640, frames=4, fps=10.0)),
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_sample(sample: Sample, out: Path) -> dict[str, object]:
    """Simulate, write ``<name>.dcm`` and ``<name>.truth.json``; return the JSON record."""
    result = simulate(sample.scene, sample.seed, sample.config, **sample.options)
    dcm = write_simulation(out / f"{sample.name}.dcm", result, quality=QUALITY, uid_seed=sample.name)
    record: dict[str, object] = {
        "file": dcm.name,
        "sha256": sha256(dcm),
        "generator": "tools/make_samples.py",
        "scene": sample.scene,
        "seed": sample.seed,
        "config": asdict(sample.config),
        "options": sample.options,
        "jpeg_quality": QUALITY,
        "frames": int(result.frames.shape[0]),
        "rows": int(result.frames.shape[1]),
        "columns": int(result.frames.shape[2]),
        "fps": result.fps,
        "fan_bbox": list(result.fan_bbox),
        "probe": result.probe_kind,
        "truth": result.truth.as_json(),
    }
    (out / f"{sample.name}.truth.json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def jpeg_frames(path: Path) -> list[bytes]:
    """The encapsulated JPEG bitstreams of the sample ``path``, one per frame."""
    ds = pydicom.dcmread(path)
    return list(generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames", 1))))


def rewrite_header(sample: Sample, out: Path) -> dict[str, object]:
    """Rewrite ``<name>.dcm`` with its own JPEG frames; update the sha256 of its truth record."""
    dcm = out / f"{sample.name}.dcm"
    truth = out / f"{sample.name}.truth.json"
    record = json.loads(truth.read_text())
    encoded = jpeg_frames(dcm)
    result = simulate(sample.scene, sample.seed, sample.config, **sample.options)
    geometry = {
        "frames": int(result.frames.shape[0]),
        "rows": int(result.frames.shape[1]),
        "columns": int(result.frames.shape[2]),
        "fan_bbox": list(result.fan_bbox),
    }
    changed = [k for k, v in geometry.items() if record[k] != v]
    if changed or list(result.truth.spacing_mm) != record["truth"]["spacing_mm"]:
        raise SystemExit(f"{dcm}: the simulation no longer matches the record ({changed or 'spacing'})")
    write_simulation(dcm, result, quality=QUALITY, uid_seed=sample.name, jpeg_frames=encoded)
    if jpeg_frames(dcm) != encoded:
        raise SystemExit(f"{dcm}: the JPEG frames changed")
    record["sha256"] = sha256(dcm)
    truth.write_text(json.dumps(record, indent=1) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output folder")
    parser.add_argument("--check", action="store_true", help="regenerate elsewhere and compare with --out")
    parser.add_argument(
        "--keep-pixels", action="store_true", help="rewrite the headers in --out, keeping the JPEG frames"
    )
    args = parser.parse_args(argv)
    if args.keep_pixels:
        records = [rewrite_header(s, args.out) for s in SAMPLES]
        print(json.dumps({"out": str(args.out), "sha256": {str(r["file"]): r["sha256"] for r in records}}))
        return 0
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            fresh = [write_sample(s, Path(tmp)) for s in SAMPLES]
            same = {str(r["file"]): r["sha256"] == sha256(args.out / str(r["file"])) for r in fresh}
        print(json.dumps({"reproduced": same}))
        return 0 if all(same.values()) else 1
    args.out.mkdir(parents=True, exist_ok=True)
    records = [write_sample(s, args.out) for s in SAMPLES]
    total = sum((args.out / str(r["file"])).stat().st_size for r in records)
    print(json.dumps({"out": str(args.out), "files": [r["file"] for r in records], "total_bytes": total}))
    return 0 if total <= MAX_TOTAL_BYTES else 1


if __name__ == "__main__":
    raise SystemExit(main())
