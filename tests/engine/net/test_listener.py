"""``echocare listen`` against DCMTK's storescu and echoscu, and what it refuses or survives."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from net_samples import SAMPLE_FILES, real_multiframe
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE

from engine.net.listener import Listener
from engine.net.receive import RECEIVED, InstanceStore
from engine.project import ProjectStore
from tools.orthanc import free_port

US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"


def _start_listen(project: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    """``echocare listen`` in its own process; returns once it listens."""
    cmd = [
        sys.executable,
        "-m",
        "app.cli.main",
        "listen",
        "--project",
        str(project),
        "--port",
        str(port),
        *extra,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("listening as ECHOCARE"), line
    return proc


def _instance(frames: int = 8, size: int = 128, seed: int = 0) -> pydicom.Dataset:
    """A small uncompressed US multi-frame instance with its own UIDs."""
    rng = np.random.default_rng(seed)
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = US_MULTIFRAME
    ds.SOPClassUID = US_MULTIFRAME
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientID = "US", "NET-TEST"
    ds.Rows = ds.Columns = size
    ds.NumberOfFrames = frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit, ds.PixelRepresentation = 7, 0
    ds.PixelData = rng.integers(0, 255, (frames, size, size), dtype=np.uint8).tobytes()
    return ds


def _scu(port: int, calling: str = "SCANNER") -> object:
    ae = AE(ae_title=calling)
    ae.add_requested_context(US_MULTIFRAME, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", port, ae_title="ECHOCARE")
    assert assoc.is_established
    return assoc


def test_storescu_sends_every_sample_and_a_real_cine_which_arrive_as_studies_with_identical_pixels(tmp_path):
    project, port = tmp_path / "project", free_port()
    proc = _start_listen(project, port, "--allow", "STORESCU,ECHOSCU")
    files = [*SAMPLE_FILES, real_multiframe()]
    try:
        echo = subprocess.run(["echoscu", "-aet", "ECHOSCU", "127.0.0.1", str(port)], capture_output=True)
        assert echo.returncode == 0, echo.stderr
        store = subprocess.run(
            ["storescu", "-xy", "127.0.0.1", str(port), *map(str, files)], capture_output=True
        )
        assert store.returncode == 0, store.stderr
        refused = subprocess.run(
            ["storescu", "-xy", "-aet", "INTRUDER", "127.0.0.1", str(port), str(files[0])],
            capture_output=True,
        )
        assert refused.returncode != 0
        assert b"Calling AE Title Not Recognized" in refused.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "refused association from INTRUDER" in out
    assert out.count("stored Ultrasound") == len(files)

    store = ProjectStore(project)
    studies = {s.rel_path: s for s in store.studies()}
    assert len(studies) == len(files)
    for path in files:
        sent = pydicom.dcmread(path)
        (instance,) = [i for i in store.instances() if i.sop_instance_uid == sent.SOPInstanceUID]
        assert instance.rel_path == f"{RECEIVED}/{sent.StudyInstanceUID}/{sent.SOPInstanceUID}.dcm"
        assert instance.calling_ae == "STORESCU"
        got = pydicom.dcmread(project / instance.rel_path)
        assert got.PixelData == sent.PixelData
        assert np.array_equal(got.pixel_array, sent.pixel_array)
        assert studies[instance.rel_path].frames == int(sent.get("NumberOfFrames", 1))
    store.close()


def test_a_listener_without_any_allowed_caller_does_not_start(tmp_path, capsys, config_dir):
    from app.cli.main import main

    assert main(["listen", "--project", str(tmp_path / "p"), "--port", str(free_port())]) == 2
    assert "no calling AE title is allowed" in capsys.readouterr().err


def test_sigkill_mid_transfer_keeps_every_acknowledged_instance_and_leaves_no_partial_file(tmp_path):
    project, port = tmp_path / "project", free_port()
    proc = _start_listen(project, port, "--allow", "SCANNER")
    sent = [_instance(frames=20, size=256, seed=i) for i in range(200)]  # 1.3 MB each
    acknowledged: list[pydicom.Dataset] = []
    assoc = _scu(port)

    def send() -> None:
        for ds in sent:
            status = assoc.send_c_store(ds)
            if not status or status.Status != 0x0000:
                return
            acknowledged.append(ds)

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 60
    while len(acknowledged) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    sender.join(60)
    assoc.abort()
    assert 10 <= len(acknowledged) < len(sent)  # killed mid-transfer

    store = ProjectStore(project)
    recorded = {i.sop_instance_uid: i for i in store.instances()}
    for ds in acknowledged:
        got = pydicom.dcmread(project / recorded[ds.SOPInstanceUID].rel_path)
        assert got.PixelData == ds.PixelData
    by_uid = {ds.SOPInstanceUID: ds for ds in sent}
    files = [p for p in (project / RECEIVED).rglob("*") if p.is_file()]
    assert all(p.suffix == ".dcm" and not p.name.startswith(".") for p in files), files
    for (
        path
    ) in files:  # every file there is whole: at most the one instance in flight besides the acknowledged
        got = pydicom.dcmread(path)
        assert got.PixelData == by_uid[got.SOPInstanceUID].PixelData
    assert len(files) <= len(acknowledged) + 1
    store.close()


def _listener(tmp_path: Path, **store_args: object) -> tuple[Listener, list[str]]:
    lines: list[str] = []
    store = InstanceStore(tmp_path / "project", **store_args)  # type: ignore[arg-type]
    listener = Listener(
        tmp_path / "project", port=0, host="127.0.0.1", allow=["SCANNER"], log=lines.append, store=store
    )
    listener.start()
    return listener, lines


@pytest.mark.filterwarnings("ignore:Invalid value for VR UI")  # the unsafe UID is made on purpose
def test_oversized_malformed_and_unsafe_instances_are_refused_and_the_listener_goes_on(tmp_path):
    listener, lines = _listener(tmp_path, max_bytes=200_000)
    assoc = _scu(listener.port)
    try:
        assert assoc.send_c_store(_instance(frames=20)).Status == 0xA700  # 328 kB over the 200 kB limit
        no_uid = _instance()
        del no_uid.StudyInstanceUID
        assert assoc.send_c_store(no_uid).Status == 0xC000
        escape = _instance()
        escape.StudyInstanceUID = "../../outside"
        assert assoc.send_c_store(escape).Status == 0xC000
        short = _instance()
        short.PixelData = short.PixelData[:1000]  # cut short: 8 frames of 128x128 need 131072 bytes
        assert assoc.send_c_store(short).Status == 0xC000
        good = _instance()
        assert assoc.send_c_store(good).Status == 0x0000
    finally:
        assoc.release()
        listener.stop()
    assert [i.sop_instance_uid for i in ProjectStore(tmp_path / "project").instances()] == [
        good.SOPInstanceUID
    ]
    assert not (tmp_path / "outside").exists()
    files = [p for p in (tmp_path / "project" / RECEIVED).rglob("*") if p.is_file()]
    assert [p.name for p in files] == [f"{good.SOPInstanceUID}.dcm"]
    refusals = [line for line in lines if line.startswith("refused an instance from SCANNER")]
    assert len(refusals) == 4
    assert "0.328 MB is over the 0.2 MB limit (status 0xA700)" in refusals[0]
    assert "StudyInstanceUID" in refusals[1] and "'../../outside' is missing or not a UID" in refusals[2]
    assert "pixel data is 1000 bytes where the image needs 131072" in refusals[3]


def test_a_full_disk_is_refused_with_out_of_resources_and_leaves_nothing(tmp_path):
    listener, lines = _listener(tmp_path, disk_free=lambda _folder: 10_000_000, min_free_bytes=64_000_000)
    assoc = _scu(listener.port)
    try:
        assert assoc.send_c_store(_instance()).Status == 0xA700
    finally:
        assoc.release()
        listener.stop()
    assert ProjectStore(tmp_path / "project").instances() == []
    assert not [p for p in (tmp_path / "project" / RECEIVED).rglob("*") if p.is_file()]
    assert any("the disk is full" in line for line in lines)


def test_a_dropped_association_keeps_what_was_acknowledged_and_a_resend_adds_no_second_study(tmp_path):
    listener, lines = _listener(tmp_path)
    first, second = _instance(seed=1), _instance(seed=2)
    assoc = _scu(listener.port)
    assert assoc.send_c_store(first).Status == 0x0000
    assert assoc.send_c_store(second).Status == 0x0000
    assoc.abort()  # the scanner's cable is pulled
    again = _scu(listener.port)
    assert again.send_c_store(first).Status == 0x0000
    again.release()
    time.sleep(0.2)
    listener.stop()
    store = ProjectStore(tmp_path / "project")
    assert sorted(i.sop_instance_uid for i in store.instances()) == sorted(
        [first.SOPInstanceUID, second.SOPInstanceUID]
    )
    assert len(store.studies()) == 2
    assert any("aborted" in line for line in lines)


def test_sweep_records_a_complete_unrecorded_file_and_removes_leftover_temporaries(tmp_path):
    ds = _instance()
    folder = tmp_path / "project" / RECEIVED / ds.StudyInstanceUID
    folder.mkdir(parents=True)
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    (folder / f"{ds.SOPInstanceUID}.dcm").write_bytes(buffer.getvalue())
    (folder / ".half.dcm.123.partial").write_bytes(buffer.getvalue()[:1000])
    store = InstanceStore(tmp_path / "project")
    found = store.sweep()
    assert [p.name for p in found] == [f"{ds.SOPInstanceUID}.dcm"]
    assert [i.sop_instance_uid for i in store.store.instances()] == [ds.SOPInstanceUID]
    assert not (folder / ".half.dcm.123.partial").exists()
    store.close()


@pytest.mark.filterwarnings("ignore:End of file reached")
@pytest.mark.parametrize("bad", [b"", b"not dicom at all", b"\0" * 128 + b"DICM" + b"\xff" * 50])
def test_bytes_that_are_not_dicom_are_refused_as_cannot_understand(tmp_path, bad):
    from engine.net.receive import StoreRefused

    store = InstanceStore(tmp_path / "project")
    with pytest.raises(StoreRefused) as err:
        store.store_bytes(bad, "SCANNER")
    assert err.value.status == 0xC000
    assert err.value.one_line().startswith("SCANNER: ")
    store.close()


def test_stopping_a_listener_leaves_the_apps_lock_on_the_project(tmp_path):
    from engine.project.store import LOCK_NAME

    app_store = ProjectStore(tmp_path / "project")
    app_store.mark_open()  # the app has the project open
    listener, _lines = _listener(tmp_path)
    listener.stop()
    assert (tmp_path / "project" / LOCK_NAME).exists()
    app_store.close()
    assert not (tmp_path / "project" / LOCK_NAME).exists()


def test_auto_infer_analyses_each_received_image_as_infer_tasks_auto(tmp_path):
    project, port = tmp_path / "project", free_port()
    proc = _start_listen(project, port, "--allow", "STORESCU", "--auto-infer", "echocare-demo")
    fetal = SAMPLE_FILES[2]
    lines = []
    try:
        sent = subprocess.run(["storescu", "-xy", "127.0.0.1", str(port), str(fetal)], capture_output=True)
        assert sent.returncode == 0, sent.stderr
        assert proc.stdout is not None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            lines.append(proc.stdout.readline())
            if lines[-1].startswith(("analysed", "analysis")):
                break
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "stopped: 1 instances stored" in rest
    assert lines[-1].startswith("analysed study 1 ("), lines
    assert "landmarks" in lines[-1]  # the fetal head's biometry: the tasks its exam calls for
    import json

    results = json.loads((project / "results" / "study-1" / "results.json").read_text())
    assert results["exam"]["label"] == "obstetric / fetal head / transthalamic"
    assert results["tasks"]["regression"]["labels"] == ["hc_mm", "bpd_mm"]  # biometry, no EF


def test_dimse_over_tls_with_the_sites_certificate_and_a_plain_caller_is_turned_away(
    tmp_path, capsys, config_dir
):
    from app.cli.listen import tls_context
    from app.cli.main import main

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    lines: list[str] = []
    listener = Listener(
        tmp_path / "project", port=0, host="127.0.0.1", allow=["ECHOCARE", "STORESCU"],
        ssl_context=tls_context(cert, key), log=lines.append,
    )  # fmt: skip
    listener.start()
    try:
        peer = f"ECHOCARE@localhost:{listener.port}"
        assert main(["pacs", "echo", "--peer", peer, "--tls-ca", str(cert), "--timeout", "10"]) == 0
        assert "answered" in capsys.readouterr().out
        plain = subprocess.run(
            ["storescu", "-to", "5", "-xy", "127.0.0.1", str(listener.port), str(SAMPLE_FILES[2])],
            capture_output=True,
        )
        assert plain.returncode != 0  # a caller without TLS never gets an association
    finally:
        listener.stop()
    assert "over TLS" in lines[0]
    assert ProjectStore(tmp_path / "project").instances() == []


def test_stop_lets_an_open_association_finish_and_accepts_no_new_one(tmp_path):
    listener, lines = _listener(tmp_path)
    port = listener.port
    assoc = _scu(port)
    assert assoc.send_c_store(_instance(seed=1)).Status == 0x0000
    aborted: list[int] = []
    stopper = threading.Thread(target=lambda: aborted.append(listener.stop(timeout=20)))
    stopper.start()
    time.sleep(0.5)  # stopping: the open association goes on
    assert assoc.send_c_store(_instance(seed=2)).Status == 0x0000
    late = AE(ae_title="SCANNER")
    late.add_requested_context(US_MULTIFRAME, ExplicitVRLittleEndian)
    assert not late.associate("127.0.0.1", port, ae_title="ECHOCARE").is_established
    assoc.release()
    stopper.join(30)
    assert aborted == [0]
    assert len(ProjectStore(tmp_path / "project").instances()) == 2
    assert lines[-1] == "stopped: 2 instances stored, 0 refused"
