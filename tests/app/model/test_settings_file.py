from __future__ import annotations

import json

import pytest

from app.model.settings import AppSettings, load_settings, save_settings, settings_path


def test_settings_round_trip_through_json_in_the_config_dir(tmp_path):
    s = AppSettings(brush_radius=4.0).with_recent("/a").with_recent("/b").with_recent("/a")
    save_settings(s)
    assert settings_path() == tmp_path / "config" / "settings.json"  # ECHOCARE_CONFIG_DIR in tests
    assert json.loads(settings_path().read_text())["recent_files"] == ["/a", "/b"]
    assert load_settings() == (s, "")


def test_a_bad_settings_file_falls_back_to_defaults_with_a_one_line_warning():
    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text(json.dumps({"brush_radius": 3, "colour_scheme": "dark"}))
    settings, warning = load_settings()
    assert settings == AppSettings()
    assert warning.startswith(str(settings_path())) and "colour_scheme" in warning and "\n" not in warning
    settings_path().write_text(json.dumps({"autosave_delay_ms": 60000}))
    assert "autosave_delay_ms" in load_settings()[1]


def test_settings_that_cannot_be_written_raise_one_line_naming_the_file(tmp_path):
    from engine.errors import ProjectError

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the settings folder should be")
    target = blocker / "settings.json"
    with pytest.raises(ProjectError, match="cannot save the settings") as raised:
        save_settings(AppSettings(brush_radius=9), target)
    assert str(raised.value).startswith(f"{target}: ") and "\n" not in str(raised.value)


def test_dicom_nodes_round_trip_and_a_bad_node_is_a_one_line_warning(tmp_path):
    from engine.net.nodes import Node

    path = tmp_path / "settings.json"
    nodes = (
        Node("PACS", "ORTHANC", "pacs.local", 4242, tls=True),
        Node("Web", url="https://pacs.local/dicom-web"),
    )
    save_settings(AppSettings(dicom_nodes=nodes, listen_ae_title="US_ROOM_2", listen_port=11113), path)
    loaded, warning = load_settings(path)
    assert warning == ""
    assert (
        loaded.dicom_nodes == nodes and loaded.listen_ae_title == "US_ROOM_2" and loaded.listen_port == 11113
    )
    assert loaded.node_ae_titles() == ("ORTHANC",)

    raw = json.loads(path.read_text())
    raw["dicom_nodes"].append({"name": "Broken", "ae_title": "X", "host": "h", "port": 70000})
    path.write_text(json.dumps(raw))
    fallback, warning = load_settings(path)
    assert fallback == AppSettings() and "settings ignored" in warning and "port" in warning
    assert "\n" not in warning
