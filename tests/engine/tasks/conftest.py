"""A tiny all-heads model (echocare_test, random weights) and synthetic cines for the task tests."""

import cv2
import numpy as np
import pytest
import torch

from engine.factory import create_model
from engine.provenance import ModelRef
from engine.tasks.presets import all_heads_cfg


class ModulePredictor:
    """Runs a FoundationModel's encoder once per batch and the asked heads on its features."""

    def __init__(self, module):
        self.module = module.eval()
        self.calls = 0

    @torch.no_grad()
    def run_heads(self, keys, images, names):
        self.calls += 1
        x = torch.from_numpy(images)
        feats = self.module.forward_features(x)
        out = self.module.forward_heads(feats, x, names)
        return {h: {k: v.numpy() for k, v in o.items()} for h, o in out.items()}


@pytest.fixture(scope="session")
def tiny():
    torch.manual_seed(0)
    cfg = all_heads_cfg()
    return cfg, create_model(cfg), ModelRef(cfg.name, cfg.version, "0" * 64)


@pytest.fixture
def predictor(tiny):
    return ModulePredictor(tiny[1])


def beating_frames(n=12, h=96, w=128, period=6, seed=0):
    """A grey cine with a bright ellipse whose size beats with ``period`` frames."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        f = rng.integers(0, 40, (h, w)).astype(np.uint8)
        r = 18 + 8 * np.cos(2 * np.pi * i / period)
        cv2.ellipse(f, (w // 2, h // 2), (int(r), int(1.6 * r)), 0, 0, 360, 200, -1)
        frames.append(f)
    return np.stack(frames)


@pytest.fixture
def beating():
    """The ``beating_frames`` factory."""
    return beating_frames


def write_us_dicom(path, frames, regions=(), fps=30.0, header=None):
    """A multi-frame US DICOM (native 8-bit grey) with SequenceOfUltrasoundRegions.

    ``regions`` holds (x0, y0, x1, y1, dx_cm, dy_cm) tissue regions; ``header`` more attributes
    by keyword (e.g. ``{"ImageType": ["ORIGINAL", "PRIMARY", "CARDIOLOGY"]}``).
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    frames = np.asarray(frames, dtype=np.uint8)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = "US"
    ds.Rows, ds.Columns = frames.shape[1:3]
    ds.NumberOfFrames = len(frames)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.FrameTime = 1000.0 / fps
    items = []
    for x0, y0, x1, y1, dx, dy in regions:
        item = Dataset()
        item.RegionSpatialFormat, item.RegionDataType, item.RegionFlags = 1, 1, 0
        item.RegionLocationMinX0, item.RegionLocationMinY0 = x0, y0
        item.RegionLocationMaxX1, item.RegionLocationMaxY1 = x1, y1
        item.PhysicalUnitsXDirection, item.PhysicalUnitsYDirection = 3, 3  # cm
        item.PhysicalDeltaX, item.PhysicalDeltaY = dx, dy
        items.append(item)
    if items:
        ds.SequenceOfUltrasoundRegions = Sequence(items)
    for keyword, value in (header or {}).items():
        setattr(ds, keyword, value)
    ds.PixelData = frames.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def us_dicom():
    """The ``write_us_dicom`` writer."""
    return write_us_dicom
