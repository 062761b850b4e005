"""The project database schema (SQLite, WAL). Bump ``SCHEMA_VERSION`` with every change.

Changes are additive (new tables, ``CREATE ... IF NOT EXISTS``), so opening an older project
adds what it lacks and keeps everything it holds:

- 1: studies, labels, model versions, annotations with their history, masks.
- 2: ``study_settings``, a study's own settings as text (e.g. the exam a person set).
- 3: ``dicom_instances``, the DICOM instances received from the network or retrieved from a
  PACS: their UIDs, where they lie, and the study entry of those that are images.
"""

from __future__ import annotations

SCHEMA_VERSION = 3

TABLES = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS studies (
    id INTEGER PRIMARY KEY,
    rel_path TEXT NOT NULL UNIQUE,
    frames INTEGER NOT NULL DEFAULT 0,
    rows INTEGER NOT NULL DEFAULT 0,
    columns INTEGER NOT NULL DEFAULT 0,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS labels (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    color TEXT NOT NULL,
    opacity REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS model_versions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    sha256 TEXT NOT NULL DEFAULT '',
    UNIQUE (name, version, sha256)
);
CREATE TABLE IF NOT EXISTS annotations (
    id TEXT PRIMARY KEY,
    study_id INTEGER NOT NULL REFERENCES studies(id),
    kind TEXT NOT NULL,
    frame INTEGER NOT NULL,
    label_id INTEGER NOT NULL,
    data TEXT NOT NULL,
    origin TEXT NOT NULL,
    model_id INTEGER REFERENCES model_versions(id),
    review TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS annotations_study ON annotations(study_id);
CREATE TABLE IF NOT EXISTS annotation_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    annotation_id TEXT NOT NULL,
    study_id INTEGER NOT NULL,
    action TEXT NOT NULL,
    kind TEXT NOT NULL,
    frame INTEGER NOT NULL,
    label_id INTEGER NOT NULL,
    data TEXT NOT NULL,
    origin TEXT NOT NULL,
    model_id INTEGER,
    review TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS masks (
    study_id INTEGER NOT NULL REFERENCES studies(id),
    frame INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    columns INTEGER NOT NULL,
    data BLOB NOT NULL,
    origin TEXT NOT NULL,
    model_id INTEGER REFERENCES model_versions(id),
    review TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (study_id, frame)
);
CREATE TABLE IF NOT EXISTS study_settings (
    study_id INTEGER NOT NULL REFERENCES studies(id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (study_id, key)
);
CREATE TABLE IF NOT EXISTS dicom_instances (
    sop_instance_uid TEXT PRIMARY KEY,
    study_uid TEXT NOT NULL,
    series_uid TEXT NOT NULL,
    sop_class_uid TEXT NOT NULL,
    rel_path TEXT NOT NULL,
    study_id INTEGER REFERENCES studies(id),
    calling_ae TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dicom_instances_study ON dicom_instances(study_uid);
"""
