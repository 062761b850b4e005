"""Frames decode lazily, one at a time, and the cache stays within its bound."""

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from dicom_factory import dataset, grey_frames, jpeg_baseline, save
from pydicom.encaps import encapsulate, encapsulate_extended

from engine.io import open_cine
from engine.io.codecs import decode_opencv
from engine.io.dicom_frames import FrameReader


def test_open_reads_no_frame_and_each_access_reads_one(tmp_path, monkeypatch):
    frames = grey_frames(n=20, rows=48, cols=64)
    ds, _ = jpeg_baseline(dataset(frames), frames)
    path = save(ds, tmp_path / "cine.dcm")
    reads = []
    original = FrameReader.read
    monkeypatch.setattr(FrameReader, "read", lambda self, i: reads.append(i) or original(self, i))
    with open_cine(path) as cine:
        assert reads == []
        cine.frame(7)
        cine.frame(7)  # cached
        cine.frame(-1)
        assert reads == [7, 19]


def test_cache_is_bounded_while_scrubbing(tmp_path):
    frames = grey_frames(n=40, rows=64, cols=64)
    path = save(dataset(frames), tmp_path / "long.dcm")
    bound = 5 * 64 * 64  # five frames
    with open_cine(path, cache_bytes=bound) as cine:
        for i in list(range(40)) + list(range(39, -1, -3)):
            np.testing.assert_array_equal(cine.frame(i), frames[i])
            assert cine._cache.nbytes <= bound
        assert not cine.frame(3).flags.writeable  # cached frames are shared: read-only


def test_importing_engine_io_does_not_import_torch_or_qt():
    code = "import sys, engine.io; print(any(m in sys.modules for m in ('torch', 'PySide6', 'pyqtgraph')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_concurrent_decoding_matches_sequential(tmp_path):
    frames = grey_frames(n=24, rows=48, cols=64)
    ds, _ = jpeg_baseline(dataset(frames), frames)
    path = save(ds, tmp_path / "cine.dcm")
    with open_cine(path) as cine:
        sequential = [cine.frame(i).copy() for i in range(24)]
    with open_cine(path, cache_bytes=0) as cine, ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(cine.frame, list(range(24)) * 3))
    for i, frame in enumerate(parallel):
        np.testing.assert_array_equal(frame, sequential[i % 24])


def test_extended_offset_table_groups_multi_fragment_frames(tmp_path):
    frames = grey_frames(n=4, rows=48, cols=64)
    ds, encoded = jpeg_baseline(dataset(frames), frames)
    data, offsets, lengths = encapsulate_extended(encoded)
    ds.PixelData = data
    ds.ExtendedOffsetTable = offsets
    ds.ExtendedOffsetTableLengths = lengths
    path = save(ds, tmp_path / "eot.dcm")
    with open_cine(path) as cine:
        for i in (3, 0, 2):
            np.testing.assert_array_equal(cine.frame(i), decode_opencv(encoded[i]))


def test_frames_split_over_fragments_without_offset_table(tmp_path):
    frames = grey_frames(n=3, rows=48, cols=64)
    ds, encoded = jpeg_baseline(dataset(frames), frames)
    ds.PixelData = encapsulate(encoded, fragments_per_frame=3, has_bot=False)
    path = save(ds, tmp_path / "fragments.dcm")
    with open_cine(path) as cine:
        for i in range(3):
            np.testing.assert_array_equal(cine.frame(i), decode_opencv(encoded[i]))
