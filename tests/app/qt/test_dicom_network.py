"""The app's DICOM network: the Receive switch, Query/Retrieve and Send to PACS, against Orthanc."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pynetdicom import AE

from app.model.session import open_cine
from app.model.settings import AppSettings
from app.qt.dialogs.pacs_dialog import QueryRetrieveDialog, SendResultsDialog
from app.qt.dialogs.settings_dialog import SettingsDialog
from engine.net.nodes import Node
from tools.orthanc import OrthancServer, free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "engine" / "interop"))
from interop_project import make_project

SAMPLES = sorted((Path(__file__).resolve().parents[3] / "resources" / "samples").glob("*.dcm"))
US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    with OrthancServer(tmp_path_factory.mktemp("orthanc-app"), modalities={"ECHOCARE": 11112}) as server:
        yield server


def _settings(*nodes: Node, port: int = 11112) -> AppSettings:
    return AppSettings(dicom_nodes=nodes, listen_port=port)


def test_the_receive_switch_lists_studies_as_they_arrive(make_window, qtbot, tmp_path):
    port = free_port()
    w = make_window(
        reader=open_cine, settings=_settings(Node("Scanner", "SCANNER", "127.0.0.1", 104), port=port)
    )
    w.actions["dicom.receive"].trigger()
    assert w.actions["dicom.receive"].isChecked()
    assert w.receive_label.text() == f"Receiving as ECHOCARE:{port} · 0 received"

    ae = AE(ae_title="SCANNER")
    ae.add_requested_context(US_MULTIFRAME, JPEG_BASELINE)
    assoc = ae.associate("127.0.0.1", port, ae_title="ECHOCARE")
    import pydicom

    for path in SAMPLES[:2]:
        assert assoc.send_c_store(pydicom.dcmread(path)).Status == 0
    assoc.release()
    qtbot.waitUntil(lambda: len(w.studies.study_items()) == 2, timeout=10_000)
    assert w.receive_label.text().endswith("· 2 received")
    first, second = w.studies.study_items()  # named by patient, description and date; the file in the tooltip
    assert first.text(0) == "SIMULATED BREAST · Simulated lesion · 2026-10-27  (24 frames)"
    assert first.toolTip(0).startswith("received/")
    w.studies.tree.itemActivated.emit(second, 0)
    assert w.doc is not None and w.doc.cine.n_frames == 60  # the cardiac cine, as sent

    w.actions["dicom.receive"].trigger()
    assert not w.actions["dicom.receive"].isChecked()
    assert w.receive_label.text() == ""


def test_the_receive_switch_says_why_it_cannot_start(make_window, qtbot):
    w = make_window(settings=_settings())
    w.actions["dicom.receive"].trigger()
    assert not w.actions["dicom.receive"].isChecked()
    assert "no DICOM node is configured" in w.message_label.text()


def test_query_retrieve_finds_studies_and_brings_the_chosen_one_into_the_project(make_window, qtbot, orthanc):
    orthanc.clear()
    for path in SAMPLES:
        orthanc.upload(path)
    w = make_window(
        reader=open_cine, settings=_settings(Node("PACS", "ORTHANC", "127.0.0.1", orthanc.dimse_port))
    )
    w.actions["dicom.query"].trigger()
    dialog = w.pacs_dialog
    assert isinstance(dialog, QueryRetrieveDialog)
    assert dialog.node.currentText() == "PACS"
    dialog.search_button.click()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 3 and dialog.search_button.isEnabled(), timeout=10_000)
    assert dialog.status.text().startswith("3 studies on PACS")
    assert not dialog.retrieve_button.isEnabled()
    dialog.table.selectRow(0)
    dialog.retrieve_button.click()
    qtbot.waitUntil(lambda: w.studies.tree.topLevelItemCount() == 1, timeout=20_000)
    assert "1 instances retrieved" in dialog.status.text()
    # the buttons come back once the worker has finished, a moment after its result
    qtbot.waitUntil(dialog.search_button.isEnabled, timeout=10_000)

    dialog.patient_id.setText("nobody")
    dialog.search_button.click()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 0 and dialog.search_button.isEnabled(), timeout=10_000)
    dialog.date_from.setText("2026-01-01")
    dialog.search_button.click()
    assert dialog.status.text().startswith("Failed: ") and "not a date YYYYMMDD" in dialog.status.text()
    dialog.close()


def test_send_results_stores_the_open_studys_seg_on_the_pacs(make_window, qtbot, orthanc, tmp_path):
    orthanc.clear()
    project = make_project(tmp_path / "proj")
    w = make_window(
        project.folder, reader=open_cine, settings=_settings(Node("Web PACS", url=orthanc.web_url))
    )
    w.open_study(project.study_id)
    w.actions["dicom.send"].trigger()
    dialog = w.pacs_dialog
    assert isinstance(dialog, SendResultsDialog)
    assert dialog.scope.currentData() == project.study_id
    dialog.send_button.click()
    qtbot.waitUntil(lambda: "stored on Web PACS" in dialog.status.text(), timeout=20_000)
    assert dialog.status.text().startswith("1 dicom-seg files stored")
    assert len(orthanc.rest("/instances")) == 1
    qtbot.waitUntil(dialog.send_button.isEnabled, timeout=10_000)

    dialog.node.setEditText("NOBODY@127.0.0.1:9")
    dialog.send_button.click()
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Failed: "), timeout=20_000)
    assert "NOBODY@127.0.0.1:9: cannot be reached" in dialog.status.text()
    dialog.close()


def test_the_settings_dialog_edits_nodes_and_refuses_a_bad_one(qtbot):
    dialog = SettingsDialog(_settings(Node("PACS", "ORTHANC", "pacs.local", 4242)))
    qtbot.addWidget(dialog)
    dialog.add_node_row(Node("Web", url="https://pacs.local/dicom-web"))
    result = dialog.result_settings()
    assert [n.name for n in result.dicom_nodes] == ["PACS", "Web"]
    assert result.node_ae_titles() == ("ORTHANC",)
    dialog.add_node_row(None)  # an empty row is skipped
    assert len(dialog.result_settings().dicom_nodes) == 2
    dialog.nodes.item(2, 0).setText("Bad")
    dialog.nodes.item(2, 1).setText("A\\B")
    dialog.nodes.item(2, 2).setText("host")
    dialog.nodes.item(2, 3).setText("104")
    dialog._accept_if_valid()
    assert "not an AE title" in dialog.error.text()
    assert dialog.result() == 0  # still open


def test_two_series_of_one_dicom_study_are_one_entry_with_both_under_it(make_window, qtbot):
    import pydicom
    from pydicom.uid import generate_uid

    from engine.net.receive import InstanceStore

    w = make_window(reader=open_cine, settings=_settings())
    store = InstanceStore(w.session.store.folder)
    for path in SAMPLES[:2]:  # the breast and cardiac cines, sent as two series of one study
        ds = pydicom.dcmread(path)
        ds.StudyInstanceUID = "1.2.3.4"
        ds.SeriesInstanceUID = ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        store.store_dataset(ds, "SCANNER")
    store.close()
    w.open_path(SAMPLES[2])  # a study opened from a file stays an entry of its own
    tree = w.studies.tree
    assert tree.topLevelItemCount() == 2
    group = tree.topLevelItem(0)
    assert group.text(0).endswith("(2 series)") and group.childCount() == 2
    assert [group.child(i).text(0) for i in range(2)] == ["cine 1  (24 frames)", "cine 2  (60 frames)"]
    assert tree.topLevelItem(1).text(0).endswith("fetal_head.dcm  (4 frames)")
    tree.itemActivated.emit(group, 0)  # the study itself opens nothing
    assert w.doc.cine.n_frames == 4
    tree.itemActivated.emit(group.child(1), 0)
    assert w.doc.cine.n_frames == 60
