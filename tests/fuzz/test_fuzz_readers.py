"""The CI fuzz pass: a few hundred mutated and generated files, each must end clean.

Clean means a cine whose frames match its info, or one ``PATH: reason`` ReadError or
UnsupportedError; never another exception, a dead worker (crash, abort, memory cap) or a hang.
The long pass is ``python tools/fuzz_readers.py --cases 10000``.
"""

from __future__ import annotations

import struct

from fuzz_campaign import run_campaign
from fuzz_mutate import TWEAKS, mutate_bytes, tweak_dicom
from fuzz_seeds import seeds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SMALL_SEEDS = sorted(name for name, data in seeds().items() if len(data) < 100_000)
DICOM_SEEDS = [name for name in SMALL_SEEDS if name.endswith(".dcm")]
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def _describe(report):
    return "\n".join(
        f"case {i} ({name}: {recipe}) -> {o.kind}: {o.detail[-800:]}"
        for i, name, recipe, o in report.findings
    )


HANG_S = 120  # a case still running after this is a "hang" finding (clean cases take seconds at most)


def test_mutation_pass_finds_nothing(tmp_path):
    report = run_campaign(range(300), seed=2026, workdir=tmp_path, names=SMALL_SEEDS, timeout_s=HANG_S)
    assert report.cases == 300
    assert not report.findings, _describe(report)
    # the pass exercises both ends: damaged files that still open and files refused cleanly
    assert report.outcomes["ok"] >= 20
    assert report.outcomes["read_error"] + report.outcomes["unsupported"] >= 100


@FUZZ
@given(
    name=st.sampled_from(DICOM_SEEDS),
    tweaks=st.lists(st.sampled_from(TWEAKS), min_size=1, max_size=4),
    cut=st.one_of(st.none(), st.floats(0.0, 1.0)),
)
def test_dicom_attribute_damage_ends_clean(worker, tmp_path_factory, name, tweaks, cut):
    data = tweak_dicom(seeds()[name], tweaks)
    if data is None:
        return
    if cut is not None:
        data = data[: int(len(data) * cut)]
    path = tmp_path_factory.mktemp("dcm") / "case.dcm"
    path.write_bytes(data)
    outcome = worker.check(path)
    assert outcome.clean, f"{[t.__name__ for t in tweaks]} cut={cut}: {outcome.kind} {outcome.detail}"


HEADERS = {
    ".dcm": b"\x00" * 128 + b"DICM",
    ".avi": b"RIFF\x00\x10\x00\x00AVI LIST",
    ".mp4": b"\x00\x00\x00\x18ftypisom",
    ".png": b"\x89PNG\r\n\x1a\n",
    ".jpg": b"\xff\xd8\xff\xe0",
    ".tif": b"II*\x00",
    ".bmp": b"BM",
}


@FUZZ
@given(suffix=st.sampled_from(sorted(HEADERS)), body=st.binary(max_size=2048))
def test_right_magic_random_body_ends_clean(worker, tmp_path_factory, suffix, body):
    path = tmp_path_factory.mktemp("magic") / f"case{suffix}"
    path.write_bytes(HEADERS[suffix] + body)
    outcome = worker.check(path)
    assert outcome.clean, f"{outcome.kind} {outcome.detail}"


@FUZZ
@given(name=st.sampled_from(SMALL_SEEDS), seed=st.integers(0, 2**32 - 1), count=st.integers(1, 8))
def test_byte_mutations_end_clean(worker, tmp_path_factory, name, seed, count):
    import random

    data = mutate_bytes(seeds()[name], random.Random(seed), count)
    path = tmp_path_factory.mktemp("bytes") / f"case{name[name.rfind('.') :]}"
    path.write_bytes(data)
    outcome = worker.check(path)
    assert outcome.clean, f"{outcome.kind} {outcome.detail}"


@FUZZ
@given(offset=st.integers(0, 200), value=st.sampled_from([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000]))
def test_avi_header_fields_end_clean(worker, tmp_path_factory, offset, value):
    data = bytearray(seeds()["vid_mjpg.avi"])
    data[offset : offset + 4] = struct.pack("<I", value)
    path = tmp_path_factory.mktemp("avi") / "case.avi"
    path.write_bytes(bytes(data))
    outcome = worker.check(path)
    assert outcome.clean, f"{outcome.kind} {outcome.detail}"
