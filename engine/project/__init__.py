"""The project store: studies, label schema, annotations with provenance, masks (Qt-free)."""

from engine.project.records import (
    AnnotationRecord,
    InstanceRecord,
    LabelRecord,
    MaskRecord,
    StudyRecord,
    from_record,
    to_record,
)
from engine.project.store import ProjectStore

__all__ = [
    "AnnotationRecord",
    "InstanceRecord",
    "LabelRecord",
    "MaskRecord",
    "ProjectStore",
    "StudyRecord",
    "from_record",
    "to_record",
]
