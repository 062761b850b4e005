"""ProjectStore: a project folder holding ``project.sqlite`` (WAL) and its studies.

Every write is one transaction, so a crash leaves the database at the last completed save.
Study paths are stored relative to the project folder, so a project moves between machines.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from engine.errors import ProjectError
from engine.project.atomic import write_atomic
from engine.project.records import (
    AnnotationRecord,
    InstanceRecord,
    LabelRecord,
    MaskRecord,
    StudyRecord,
    decode_plane,
    encode_plane,
)
from engine.project.schema import SCHEMA_VERSION, TABLES
from engine.provenance import ModelRef, Origin

DB_NAME = "project.sqlite"
LOCK_NAME = "session.lock"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class ProjectStore:
    """Open (or create) the project in ``folder``.

    Args:
        folder: the project folder; created with an empty database when missing.

    Raises:
        ProjectError: the database is not a readable EchoCare project.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).resolve()
        self.db_path = self.folder / DB_NAME
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # a commit survives power loss too
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (sqlite3.DatabaseError, OSError) as err:
            raise ProjectError(self.db_path, f"cannot open the project database ({err})") from None
        self.recovered = self.was_left_open(self.folder)

    # -- lifecycle ---------------------------------------------------------------------------
    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ProjectError(self.db_path, f"made by a newer version (schema {version})")
        with self.transaction():
            for statement in TABLES.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: everything inside commits together or not at all.

        Raises:
            ProjectError: the database refused the write (disk full, read-only, locked); the
                project keeps what it held before.
        """
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as err:
            raise ProjectError(self.db_path, f"cannot save the project: {err}") from None

    @staticmethod
    def was_left_open(folder: str | Path) -> bool:
        """True when the project's last session did not close cleanly (its lock file remains)."""
        return (Path(folder) / LOCK_NAME).exists()

    def mark_open(self) -> None:
        """Write the lock file that tells the next start whether this session ended cleanly."""
        info = {"pid": os.getpid(), "opened_at": _now()}
        write_atomic(self.folder / LOCK_NAME, json.dumps(info).encode())

    def close(self, keep_lock: bool = False) -> None:
        """Checkpoint the WAL, close the database and remove the lock file (a clean exit).

        Args:
            keep_lock: leave the lock file, for a second connection (a DICOM listener) that
                closes while the app's session may still hold the project open.
        """
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self._db.close()
        if not keep_lock:
            (self.folder / LOCK_NAME).unlink(missing_ok=True)

    # -- studies -----------------------------------------------------------------------------
    def relative(self, path: str | Path) -> str:
        """``path`` relative to the project folder, with forward slashes."""
        return Path(os.path.relpath(Path(path).resolve(), self.folder)).as_posix()

    def resolve(self, study: StudyRecord) -> Path:
        """The study's file on this machine."""
        return (self.folder / study.rel_path).resolve()

    def add_study(self, path: str | Path, frames: int = 0, rows: int = 0, columns: int = 0) -> StudyRecord:
        """Add a study (or return the existing one for the same file)."""
        rel = self.relative(path)
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO studies (rel_path, frames, rows, columns, added_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (rel, frames, rows, columns, _now()),
            )
        row = self._db.execute(
            "SELECT id, rel_path, frames, rows, columns FROM studies WHERE rel_path = ?", (rel,)
        ).fetchone()
        return StudyRecord(*row)

    def studies(self) -> list[StudyRecord]:
        rows = self._db.execute("SELECT id, rel_path, frames, rows, columns FROM studies ORDER BY id")
        return [StudyRecord(*r) for r in rows]

    def study(self, study_id: int) -> StudyRecord:
        row = self._db.execute(
            "SELECT id, rel_path, frames, rows, columns FROM studies WHERE id = ?", (study_id,)
        ).fetchone()
        if row is None:
            raise ProjectError(self.db_path, f"no study with id {study_id}")
        return StudyRecord(*row)

    # -- DICOM instances ---------------------------------------------------------------------
    def add_instance(
        self, rec: InstanceRecord, *, image: bool, frames: int = 0, rows: int = 0, columns: int = 0
    ) -> InstanceRecord:
        """Record a DICOM instance whose file already lies in the project, in one transaction.

        An ``image`` also becomes a study entry (``frames``, ``rows``, ``columns`` describe it);
        the same SOP Instance UID again replaces its record and never adds a second study.

        Returns:
            The record as stored (with its study id).
        """
        with self.transaction() as db:
            study_id = None
            if image:
                db.execute(
                    "INSERT OR IGNORE INTO studies (rel_path, frames, rows, columns, added_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (rec.rel_path, frames, rows, columns, _now()),
                )
                row = db.execute("SELECT id FROM studies WHERE rel_path = ?", (rec.rel_path,)).fetchone()
                study_id = row[0]
            db.execute(
                "INSERT OR REPLACE INTO dicom_instances (sop_instance_uid, study_uid, series_uid,"
                " sop_class_uid, rel_path, study_id, calling_ae, title, received_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rec.sop_instance_uid, rec.study_uid, rec.series_uid, rec.sop_class_uid, rec.rel_path,
                 study_id, rec.calling_ae, rec.title, _now()),
            )  # fmt: skip
        return InstanceRecord(**{**rec.__dict__, "study_id": study_id})

    def instances(self, study_uid: str | None = None) -> list[InstanceRecord]:
        """The DICOM instances the project holds (of one DICOM study when ``study_uid`` is given)."""
        sql = (
            "SELECT sop_instance_uid, study_uid, series_uid, sop_class_uid, rel_path, study_id, calling_ae,"
            " title FROM dicom_instances"
        )
        rows = (
            self._db.execute(sql + " WHERE study_uid = ? ORDER BY rowid", (study_uid,))
            if study_uid is not None
            else self._db.execute(sql + " ORDER BY rowid")
        )
        return [InstanceRecord(*r) for r in rows]

    def study_groups(self) -> dict[int, tuple[str, str]]:
        """For the studies that are DICOM instances: their (StudyInstanceUID, title), by study id."""
        rows = self._db.execute(
            "SELECT study_id, study_uid, title FROM dicom_instances WHERE study_id IS NOT NULL"
        )
        return {study_id: (uid, title) for study_id, uid, title in rows}

    # -- label schema ------------------------------------------------------------------------
    def labels(self) -> list[LabelRecord]:
        rows = self._db.execute("SELECT id, name, color, opacity FROM labels ORDER BY id")
        return [LabelRecord(i, n, tuple(json.loads(c)), o) for i, n, c, o in rows]

    def set_labels(self, labels: Sequence[LabelRecord]) -> None:
        """Replace the label schema and bump its version when it changed."""
        if list(labels) == self.labels():
            return
        with self.transaction() as db:
            db.execute("DELETE FROM labels")
            db.executemany(
                "INSERT INTO labels (id, name, color, opacity) VALUES (?, ?, ?, ?)",
                [(lab.id, lab.name, json.dumps(list(lab.color)), lab.opacity) for lab in labels],
            )
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('label_schema_version', '1')"
                " ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
            )

    def label_schema_version(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'label_schema_version'").fetchone()
        return int(row[0]) if row else 0

    # -- model versions ----------------------------------------------------------------------
    def _model_id(self, db: sqlite3.Connection, model: ModelRef | None) -> int | None:
        if model is None:
            return None
        db.execute(
            "INSERT OR IGNORE INTO model_versions (name, version, sha256) VALUES (?, ?, ?)",
            (model.name, model.version, model.sha256),
        )
        return db.execute(
            "SELECT id FROM model_versions WHERE name = ? AND version = ? AND sha256 = ?",
            (model.name, model.version, model.sha256),
        ).fetchone()[0]

    def _models_by_id(self) -> dict[int, ModelRef]:
        rows = self._db.execute("SELECT id, name, version, sha256 FROM model_versions")
        return {i: ModelRef(n, v, s) for i, n, v, s in rows}

    def models(self) -> list[ModelRef]:
        """Every model version whose output was ever stored in this project."""
        return list(self._models_by_id().values())

    # -- annotations and masks -------------------------------------------------------------
    def save_study(
        self,
        study_id: int,
        annotations: Sequence[AnnotationRecord],
        masks: Mapping[int, MaskRecord | None] | None = None,
        settings: Mapping[str, str | None] | None = None,
    ) -> int:
        """Write a study's state in one transaction; returns how many rows changed.

        Args:
            study_id: the study.
            annotations: every annotation of the study; stored ones not listed are deleted.
            masks: changed mask planes by frame; None removes a frame's plane.
            settings: study settings by key; None removes a key, keys not listed are kept.
        """
        stored = {a.id: a for a in self.annotations(study_id)}
        wanted = {a.id: a for a in annotations}
        changes = 0
        with self.transaction() as db:
            for rec in wanted.values():
                if stored.get(rec.id) != rec:
                    self._upsert(db, study_id, rec, "update" if rec.id in stored else "insert")
                    changes += 1
            for ann_id in stored.keys() - wanted.keys():
                self._history(
                    db, study_id, stored[ann_id], "delete", self._model_id(db, stored[ann_id].model)
                )
                db.execute("DELETE FROM annotations WHERE id = ?", (ann_id,))
                changes += 1
            for frame, mask in (masks or {}).items():
                self._write_mask(db, study_id, frame, mask)
                changes += 1
            changes += self._write_settings(db, study_id, settings or {})
        return changes

    def _write_settings(
        self, db: sqlite3.Connection, study_id: int, settings: Mapping[str, str | None]
    ) -> int:
        stored = self.study_settings(study_id)
        changes = 0
        for key, value in settings.items():
            if stored.get(key) == value:
                continue
            if value is None:
                db.execute("DELETE FROM study_settings WHERE study_id = ? AND key = ?", (study_id, key))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO study_settings (study_id, key, value, updated_at)"
                    " VALUES (?, ?, ?, ?)",
                    (study_id, key, value, _now()),
                )
            changes += 1
        return changes

    def study_settings(self, study_id: int) -> dict[str, str]:
        """A study's settings (e.g. the exam a person set), by key; empty when it has none."""
        rows = self._db.execute(
            "SELECT key, value FROM study_settings WHERE study_id = ? ORDER BY key", (study_id,)
        )
        return dict(rows.fetchall())

    def _upsert(self, db: sqlite3.Connection, study_id: int, rec: AnnotationRecord, action: str) -> None:
        model_id = self._model_id(db, rec.model)
        db.execute(
            "INSERT INTO annotations (id, study_id, kind, frame, label_id, data, origin, model_id, review,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
            " kind=excluded.kind, frame=excluded.frame, label_id=excluded.label_id, data=excluded.data,"
            " origin=excluded.origin, model_id=excluded.model_id, review=excluded.review,"
            " updated_at=excluded.updated_at",
            (rec.id, study_id, rec.kind, rec.frame, rec.label_id, rec.data_json(), rec.origin.value,
             model_id, rec.review, _now()),
        )  # fmt: skip
        self._history(db, study_id, rec, action, model_id)

    @staticmethod
    def _history(
        db: sqlite3.Connection, study_id: int, rec: AnnotationRecord, action: str, model_id: int | None
    ) -> None:
        db.execute(
            "INSERT INTO annotation_history (annotation_id, study_id, action, kind, frame, label_id, data,"
            " origin, model_id, review, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (rec.id, study_id, action, rec.kind, rec.frame, rec.label_id, rec.data_json(),
             rec.origin.value, model_id, rec.review, _now()),
        )  # fmt: skip

    def _write_mask(self, db: sqlite3.Connection, study_id: int, frame: int, mask: MaskRecord | None) -> None:
        if mask is None:
            db.execute("DELETE FROM masks WHERE study_id = ? AND frame = ?", (study_id, frame))
            return
        rows, columns = mask.plane.shape
        db.execute(
            "INSERT OR REPLACE INTO masks (study_id, frame, rows, columns, data, origin, model_id, review,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (study_id, frame, rows, columns, encode_plane(mask.plane), mask.origin.value,
             self._model_id(db, mask.model), mask.review, _now()),
        )  # fmt: skip

    def annotations(self, study_id: int) -> list[AnnotationRecord]:
        models = self._models_by_id()
        rows = self._db.execute(
            "SELECT id, kind, frame, label_id, data, origin, model_id, review FROM annotations"
            " WHERE study_id = ? ORDER BY rowid",
            (study_id,),
        )
        return [
            AnnotationRecord(i, k, f, lab, json.loads(d), Origin(o), models.get(m), r)
            for i, k, f, lab, d, o, m, r in rows
        ]

    def masks(self, study_id: int) -> dict[int, MaskRecord]:
        models = self._models_by_id()
        rows = self._db.execute(
            "SELECT frame, data, origin, model_id, review FROM masks WHERE study_id = ?", (study_id,)
        )
        return {f: MaskRecord(f, decode_plane(d), Origin(o), models.get(m), r) for f, d, o, m, r in rows}

    def history(self, annotation_id: str) -> list[tuple[str, AnnotationRecord]]:
        """Every stored version of an annotation, oldest first, with its action."""
        models = self._models_by_id()
        rows = self._db.execute(
            "SELECT action, annotation_id, kind, frame, label_id, data, origin, model_id, review"
            " FROM annotation_history WHERE annotation_id = ? ORDER BY seq",
            (annotation_id,),
        )
        return [
            (a, AnnotationRecord(i, k, f, lab, json.loads(d), Origin(o), models.get(m), r))
            for a, i, k, f, lab, d, o, m, r in rows
        ]
