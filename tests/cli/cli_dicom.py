"""Writes small DICOM files for the command-line tests."""

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid


def write_dicom(path, frames, photometric="MONOCHROME2", bits=None, ts=ExplicitVRLittleEndian, **tags):
    """Write ``[N, H, W]`` frames as an US Multi-frame file; returns the path."""
    frames = np.asarray(frames)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "US"
    ds.Rows, ds.Columns = frames.shape[1:3]
    ds.NumberOfFrames = len(frames)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 8 if frames.dtype == np.uint8 else 16
    ds.BitsStored = bits or ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    ds.PixelData = frames.tobytes()
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.save_as(path, enforce_file_format=True)
    return path


def ramp(n=3, rows=24, cols=32, top=255, dtype=np.uint8):
    """[N, H, W] frames whose values differ per frame and per pixel."""
    yy, xx = np.mgrid[0:rows, 0:cols]
    return np.stack([(xx * 7 + yy * 3 + i * 11) % (top + 1) for i in range(n)]).astype(dtype)
