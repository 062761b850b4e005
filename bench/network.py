"""Receive throughput: ``echocare listen`` against Orthanc, the same instances over the same links.

500 generated US instances (each 4 frames of 256x256 8-bit speckle, uncompressed, with its own
study and instance UIDs) are sent over 4 concurrent DIMSE associations (pynetdicom C-STORE, 125
instances each), first to ``echocare listen`` (its own process, writing into a new project), then
to a throwaway Orthanc on loopback (``tools/orthanc.py``). The time runs from the first
association request to the last acknowledgement.

After the run every instance the listener acknowledged is read back from the project and its
pixel data compared with what was sent: ``lost`` counts the instances missing, unrecorded or
different (target 0). Orthanc's count comes from its REST API.

Figures (last line of stdout, one JSON object): per receiver ``seconds``, ``instances_per_s``,
``mb_per_s``, ``acknowledged``, and for ours ``lost``.

Usage: ``python bench/network.py [--instances 500] [--associations 4]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.project import ProjectStore
from tools.orthanc import OrthancServer, free_port

US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
FRAMES, SIZE = 4, 256


def instances(n: int) -> list[Dataset]:
    rng = np.random.default_rng(0)
    base = rng.rayleigh(40.0, (FRAMES, SIZE, SIZE))
    out = []
    for i in range(n):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = US_MULTIFRAME
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
        ds.Modality, ds.PatientID, ds.PatientName = "US", f"BENCH-{i:04d}", "BENCH^NETWORK"
        ds.Rows = ds.Columns = SIZE
        ds.NumberOfFrames = FRAMES
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit, ds.PixelRepresentation = 7, 0
        ds.PixelData = np.clip(np.roll(base, i, axis=2), 0, 255).astype(np.uint8).tobytes()
        out.append(ds)
    return out


def send_all(datasets: list[Dataset], port: int, called: str, associations: int) -> tuple[float, list[str]]:
    """C-STORE ``datasets`` over ``associations`` concurrent associations; (seconds, acknowledged UIDs)."""
    acknowledged: list[str] = []
    lock = threading.Lock()

    def worker(part: list[Dataset]) -> None:
        ae = AE(ae_title="BENCHSCU")
        ae.add_requested_context(US_MULTIFRAME, ExplicitVRLittleEndian)
        assoc = ae.associate("127.0.0.1", port, ae_title=called)
        if not assoc.is_established:
            return
        for ds in part:
            status = assoc.send_c_store(ds)
            if status and status.Status == 0x0000:
                with lock:
                    acknowledged.append(ds.SOPInstanceUID)
        assoc.release()

    threads = [
        threading.Thread(target=worker, args=(datasets[i::associations],)) for i in range(associations)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, acknowledged


def figures(seconds: float, count: int, megabytes: float) -> dict[str, float]:
    return {
        "seconds": round(seconds, 2),
        "acknowledged": count,
        "instances_per_s": round(count / seconds, 1),
        "mb_per_s": round(megabytes * count / seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=500)
    parser.add_argument("--associations", type=int, default=4)
    args = parser.parse_args()
    datasets = instances(args.instances)
    mb_each = len(datasets[0].PixelData) / 1e6
    digest = {ds.SOPInstanceUID: hashlib.sha256(ds.PixelData).hexdigest() for ds in datasets}
    result: dict[str, object] = {
        "instances": args.instances,
        "associations": args.associations,
        "mb_each": mb_each,
    }
    with tempfile.TemporaryDirectory(prefix="echocare-bench-net-") as tmp:
        project, port = Path(tmp) / "project", free_port()
        cmd = [sys.executable, "-m", "app.cli.main", "listen", "--project", str(project), "--port", str(port)]
        listen = subprocess.Popen([*cmd, "--allow", "BENCHSCU"], stdout=subprocess.PIPE, text=True)
        assert listen.stdout is not None and listen.stdout.readline().startswith("listening")
        drain = threading.Thread(target=listen.stdout.read, daemon=True)  # one line per instance
        drain.start()
        seconds, acked = send_all(datasets, port, "ECHOCARE", args.associations)
        listen.terminate()
        listen.wait(60)
        store = ProjectStore(project)
        held = {i.sop_instance_uid: store.folder / i.rel_path for i in store.instances()}
        same = sum(
            uid in held and hashlib.sha256(pydicom.dcmread(held[uid]).PixelData).hexdigest() == digest[uid]
            for uid in digest
        )
        store.close()
        ours = figures(seconds, len(acked), mb_each)
        ours["lost"] = args.instances - same
        ours["exit_status"] = listen.returncode
        result["echocare"] = ours

        with OrthancServer(Path(tmp) / "orthanc") as orthanc:
            seconds, acked = send_all(datasets, orthanc.dimse_port, "ORTHANC", args.associations)
            theirs = figures(seconds, len(acked), mb_each)
            theirs["held"] = int(orthanc.rest("/statistics")["CountInstances"])
        result["orthanc"] = theirs
    print(json.dumps(result))
    return 0 if ours["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
