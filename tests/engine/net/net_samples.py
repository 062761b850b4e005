"""Files the network tests send: the bundled samples and a scanner's multi-frame cine."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[3] / "resources" / "samples"
SAMPLE_FILES = sorted(SAMPLES.glob("*.dcm"))  # breast, cardiac, fetal


def real_multiframe() -> Path:
    """pydicom's 30-frame YBR JPEG ultrasound cine from a real scanner."""
    from pydicom.data import get_testdata_file

    return Path(get_testdata_file("examples_ybr_color.dcm"))
