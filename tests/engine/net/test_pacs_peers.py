"""Query, retrieve and send against a real Orthanc, over DIMSE and over DICOMweb."""

from __future__ import annotations

import io
import json

import numpy as np
import pydicom
import pytest
from interop_project import make_project
from net_samples import SAMPLE_FILES

from app.cli.main import main
from engine.errors import NetworkError
from engine.net.nodes import Node, parse_node
from engine.net.peers import open_peer, retrieve, send_results
from engine.net.query import StudyQuery
from engine.project import ProjectStore

PROTOCOLS = ("dimse", "dicomweb")
SEG = "1.2.840.10008.5.1.4.1.1.66.4"
COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"  # what the SR export writes (TID 1500)


def _peer(pacs, protocol):
    node = parse_node(pacs.web_url if protocol == "dicomweb" else pacs.peer)
    return open_peer(node, calling_ae="ECHOCARE", timeout=10)


def _held_studies(pacs) -> dict[str, dict]:
    """StudyInstanceUID -> Orthanc's main DICOM tags, for every study Orthanc holds."""
    studies = pacs.rest("/studies?expand")
    return {s["MainDicomTags"]["StudyInstanceUID"]: s for s in studies}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_find_returns_the_studies_orthanc_holds_and_filters_them(pacs, protocol):
    for path in SAMPLE_FILES:
        pacs.upload(path)
    held = _held_studies(pacs)
    peer = _peer(pacs, protocol)
    peer.echo()

    rows = peer.find(StudyQuery())
    assert {r.study_uid for r in rows} == set(held)
    for row in rows:
        tags = held[row.study_uid]["MainDicomTags"]
        assert row.date == tags["StudyDate"]
        assert row.patient_id == held[row.study_uid]["PatientMainDicomTags"]["PatientID"]
        assert row.instances == 1

    cardiac = pydicom.dcmread(SAMPLE_FILES[1], stop_before_pixels=True)
    by_id = peer.find(StudyQuery(patient_id=cardiac.PatientID))
    assert [r.study_uid for r in by_id] == [cardiac.StudyInstanceUID]
    by_date = peer.find(StudyQuery(date_from=cardiac.StudyDate, date_to=cardiac.StudyDate))
    assert [r.study_uid for r in by_date] == [cardiac.StudyInstanceUID]
    by_name = peer.find(StudyQuery(patient_name="SIMULATED^C*", modality="US"))
    assert [r.study_uid for r in by_name] == [cardiac.StudyInstanceUID]
    assert peer.find(StudyQuery(patient_id="nobody")) == []
    series = peer.series(cardiac.StudyInstanceUID)
    assert [s.series_uid for s in series] == [cardiac.SeriesInstanceUID]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_get_brings_a_study_into_a_project_with_every_pixel_equal_to_orthancs_copy(pacs, protocol, tmp_path):
    from pydicom.data import get_testdata_file

    real = get_testdata_file("examples_ybr_color.dcm")  # a scanner's 30-frame YBR JPEG cine
    for path in [*SAMPLE_FILES, real]:
        pacs.upload(path)
    source = pydicom.dcmread(real)
    project = tmp_path / "project"

    count = retrieve(_peer(pacs, protocol), source.StudyInstanceUID, project)

    assert count == 1
    store = ProjectStore(project)
    (instance,) = store.instances()
    (study,) = store.studies()
    assert instance.study_id == study.id and study.frames == 30
    assert instance.sop_instance_uid == source.SOPInstanceUID
    ours = pydicom.dcmread(store.folder / instance.rel_path)
    theirs = pydicom.dcmread(io.BytesIO(pacs.instance_file(source.SOPInstanceUID)))
    assert ours.file_meta.TransferSyntaxUID == theirs.file_meta.TransferSyntaxUID  # not transcoded
    assert ours.PixelData == theirs.PixelData
    assert np.array_equal(ours.pixel_array, theirs.pixel_array)
    store.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_send_stores_the_projects_seg_and_sr_in_orthanc(pacs, protocol, tmp_path):
    project = make_project(tmp_path / "proj")
    peer = _peer(pacs, protocol)

    seg = send_results(project.folder, "dicom-seg", peer)
    sr = send_results(project.folder, "dicom-sr", peer)

    assert len(seg.files) == 1 and len(sr.files) == 1
    classes = []
    for instance in pacs.rest("/instances"):
        tags = pacs.rest(f"/instances/{instance}/simplified-tags")
        classes.append(tags["SOPClassUID"])
        assert (
            tags["StudyInstanceUID"]
            == pydicom.dcmread(project.source, stop_before_pixels=True).StudyInstanceUID
        )
    assert sorted(classes) == sorted([SEG, COMPREHENSIVE_3D_SR])


def test_the_cli_finds_gets_and_sends(pacs, tmp_path, capsys, config_dir):
    for path in SAMPLE_FILES:
        pacs.upload(path)
    study_uid = pydicom.dcmread(SAMPLE_FILES[0], stop_before_pixels=True).StudyInstanceUID

    assert main(["pacs", "echo", "--peer", pacs.peer]) == 0
    assert main(["pacs", "find", "--url", pacs.web_url, "--json"]) == 0
    found = json.loads(capsys.readouterr().out.split("answered\n", 1)[1])
    assert {r["study_uid"] for r in found} == set(_held_studies(pacs))
    assert main(["pacs", "find", "--peer", pacs.peer, "--modality", "US"]) == 0
    assert "3 studies on" in capsys.readouterr().out

    project = tmp_path / "project"
    assert main(["pacs", "get", "--peer", pacs.peer, "--study", study_uid, "--project", str(project)]) == 0
    assert f"1 instances of study {study_uid}" in capsys.readouterr().out
    assert len(ProjectStore(project).studies()) == 1

    results = make_project(tmp_path / "results")
    before = len(pacs.rest("/instances"))
    assert main(["pacs", "send", str(results.folder), "--format", "dicom-sr", "--url", pacs.web_url]) == 0
    assert "1 dicom-sr files stored" in capsys.readouterr().out
    assert len(pacs.rest("/instances")) == before + 1


def test_a_configured_node_is_found_by_name(config_dir):
    known = (Node("PACS", "ORTHANC", "pacs.example", 4242), Node("Web", url="https://pacs.example/dicom-web"))
    assert parse_node("PACS", known).port == 4242
    assert parse_node("Web", known).is_web
    assert parse_node("AE1@[::1]:104").host == "::1"


def test_unreachable_or_refusing_nodes_are_one_line_errors(pacs, tmp_path, capsys, config_dir):
    closed = open_peer(parse_node("NOBODY@127.0.0.1:9"), timeout=3)
    with pytest.raises(NetworkError, match=r"^NOBODY@127\.0\.0\.1:9: cannot be reached"):
        closed.echo()
    # Orthanc answers C-FIND only to the AE titles it knows
    stranger = open_peer(parse_node(pacs.peer), calling_ae="STRANGER", timeout=10)
    with pytest.raises(NetworkError, match=r"^ORTHANC@.*does the node know our AE title STRANGER\?"):
        stranger.find(StudyQuery())
    with pytest.raises(NetworkError, match=r"holds no instance of study 1\.2\.3$"):
        retrieve(_peer(pacs, "dicomweb"), "1.2.3", tmp_path / "p")
    assert main(["pacs", "find", "--peer", "not-a-node"]) == 2
    assert "is not AE@HOST:PORT" in capsys.readouterr().err
    assert main(["pacs", "find", "--peer", pacs.peer, "--date", "2026-01-01"]) == 2
