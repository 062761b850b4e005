"""Bad inputs for the command-line tests, written into tmp_path."""

import numpy as np
import pytest
from cli_dicom import ramp, write_dicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, generate_uid


@pytest.fixture
def bad_inputs(tmp_path):
    """Each bad input the CLI must reject with exit 2 and one line."""
    out = {}
    out["empty"] = tmp_path / "empty.dcm"
    out["empty"].write_bytes(b"")
    out["random"] = tmp_path / "random.bin"
    out["random"].write_bytes(np.random.default_rng(0).integers(0, 256, 2048, dtype=np.uint8).tobytes())
    full = write_dicom(tmp_path / "full.dcm", ramp(n=8, rows=64, cols=64))
    out["truncated"] = tmp_path / "truncated.dcm"
    out["truncated"].write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    header = Dataset()
    header.file_meta = FileMetaDataset()
    header.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    header.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.33"
    header.SOPInstanceUID = generate_uid()
    header.Modality = "SR"
    out["no_pixels"] = tmp_path / "report.dcm"
    header.save_as(out["no_pixels"], enforce_file_format=True)
    out["unsupported"] = write_dicom(
        tmp_path / "jpip.dcm", ramp(n=1), ts="1.2.840.10008.1.2.4.94", PixelData=encapsulate([bytes(64)])
    )
    out["text_mp4"] = tmp_path / "clip.mp4"
    out["text_mp4"].write_text("not a video at all\n")
    out["empty_folder"] = tmp_path / "no_images"
    out["empty_folder"].mkdir()
    (out["empty_folder"] / "notes.txt").write_text("nothing to see")
    return out
