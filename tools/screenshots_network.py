"""Screenshots of the DICOM network for the user guide: the Receive switch and Query/Retrieve.

    xvfb-run -a -s "-screen 0 1280x900x24" .venv/bin/python tools/screenshots_network.py

A throwaway Orthanc (``tools/orthanc.py``) holds the bundled samples and pydicom's real
multi-frame ultrasound cine; the settings name it twice (DIMSE and DICOMweb) and a scanner.
With *Receive* on, a scanner (pynetdicom here) sends two samples, which appear in the study list
(18); the Query/Retrieve dialog finds the studies Orthanc holds and retrieves the real cine (19).
Without a display it falls back to Qt's offscreen platform.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tools"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from orthanc import OrthancServer, free_port  # noqa: E402
from screenshots import SAMPLES, Shooter, private_session, say  # noqa: E402


def scanner_sends(port: int, files: list[Path]) -> None:
    """A scanner's C-STORE of ``files`` to the app's listener."""
    import pydicom
    from pynetdicom import AE

    datasets = [pydicom.dcmread(f) for f in files]
    ae = AE(ae_title="US_ROOM_2")
    for ds in datasets:
        ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port, ae_title="ECHOCARE")
    if not assoc.is_established:
        raise SystemExit("screenshots: the app's listener refused the scanner")
    for ds in datasets:
        assoc.send_c_store(ds)
    assoc.release()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"), help="folder for the PNGs")
    args = p.parse_args(argv)
    tmp = private_session()
    from pydicom.data import get_testdata_file

    from app.model.settings import AppSettings
    from engine.net.nodes import Node

    real = Path(get_testdata_file("examples_ybr_color.dcm"))
    with OrthancServer(tmp / "orthanc", modalities={"ECHOCARE": 11112}) as pacs:
        for sample in [*sorted(SAMPLES.glob("*.dcm")), real]:
            pacs.upload(sample)
        port = free_port()
        settings = AppSettings(
            dicom_nodes=(
                Node("PACS", "ORTHANC", "127.0.0.1", pacs.dimse_port),
                Node("PACS (DICOMweb)", url=pacs.web_url),
                Node("Ultrasound room 2", "US_ROOM_2", "10.0.4.12", 104),
            ),
            listen_port=port,
        )
        Shooter.focus_docks = lambda self: None  # type: ignore[method-assign]  # the app's own layout
        s = Shooter(Path(args.out), tmp / "project")
        w = s.window
        w.apply_settings(settings)
        w.toggle_receive()
        scanner_sends(port, [SAMPLES / "cardiac_lv_cine.dcm", SAMPLES / "breast_lesion_cine.dcm"])
        s.pump(500)
        w.open_study(w.session.store.studies()[0].id)
        s.pump(300)
        say(w.receive_label.text())
        s.shot("18_receive_switch")

        w.show_query_retrieve()
        dialog = w.pacs_dialog
        dialog.modality.setText("US")
        dialog.search_button.click()
        while dialog.table.rowCount() < 4:
            s.pump(100)
        import pydicom
        from PySide6.QtCore import Qt

        wanted = pydicom.dcmread(real, stop_before_pixels=True).StudyInstanceUID
        rows = range(dialog.table.rowCount())
        row = next(r for r in rows if dialog.table.item(r, 0).data(Qt.ItemDataRole.UserRole) == wanted)
        dialog.table.selectRow(row)
        dialog.retrieve_button.click()
        while "retrieved" not in dialog.status.text() and not dialog.status.text().startswith("Failed"):
            s.pump(100)
        say(dialog.status.text())
        s.shot("19_query_retrieve", dialog)
        dialog.close()
        w.toggle_receive()
        w.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
