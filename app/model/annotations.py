"""The document's annotations: the schema defined once in ``engine.annotations``, re-exported.

App code imports these names from here; engine code (AI drafts, exports) imports them from
``engine.annotations``. Both get the same classes.
"""

from __future__ import annotations

from engine.annotations import (
    CALIPER_KINDS,
    FRAME_MARKS,
    KINDS,
    STUDY_WIDE,
    Annotation,
    KindSpec,
    MaskMeta,
    Point,
    Review,
    corrected_meta,
    draft,
    new_id,
)

__all__ = [
    "CALIPER_KINDS",
    "FRAME_MARKS",
    "KINDS",
    "STUDY_WIDE",
    "Annotation",
    "KindSpec",
    "MaskMeta",
    "Point",
    "Review",
    "corrected_meta",
    "draft",
    "new_id",
]
