"""DICOM Segmentation (binary) of a study's mask planes, for single- and multi-frame US sources.

highdicom builds the SEG's modules (patient, study, equipment, segment descriptions) but refuses
a multi-frame source without a Frame of Reference, which is how ultrasound cine is stored. The
standard needs no Frame of Reference to reference source frames: each SEG frame's Derivation
Image Sequence names its source frame by Referenced Frame Number. So highdicom builds the SEG
for one frame of a single-frame stand-in of the source, and the frames are then laid out here:
one SEG frame per (annotated source frame, segment), each with its own per-frame functional
group (segment number, source frame number, dimension index values), and the bit-packed pixel
data of all of them. Dimensions: segment number, then the source frame (as the Temporal
Position Index of the Frame Content Sequence).

The General Image module's Patient Orientation (Type 2C: required without a plane
orientation, which a SEG of a US source has none of) is copied from the source, empty when the
source has none, so the SEG is a valid Segmentation object (``dciodvfy`` reports no error).
"""

from __future__ import annotations

import copy

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.codedict import codes
from pydicom.tag import Tag

from engine.interop.codes import label_codes
from engine.interop.dicom_copy import source_dataset, write_dataset
from engine.interop.project_data import ProjectData, StudyData
from engine.interop.registry import ExportContext, ExportSummary, register_exporter
from engine.project import MaskRecord
from engine.provenance import Origin

US_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.6.1"
SEG_SERIES_NUMBER = 900
SOFTWARE = "EchoCare Studio"
PER_FRAME = ("DerivationImageSequence", "SegmentIdentificationSequence", "FrameContentSequence")


def _descriptions(
    data: ProjectData, label_ids: list[int], masks: dict[int, MaskRecord]
) -> list[hd.seg.SegmentDescription]:
    """One coded segment description per label, marked manual or AI-drafted from provenance."""
    model = next((m.model for m in masks.values() if m.origin == Origin.AI_DRAFT and m.model), None)
    algorithm = None
    if model is not None:
        algorithm = hd.AlgorithmIdentificationSequence(
            name=model.name, family=codes.cid7162.ArtificialIntelligence, version=model.version
        )
    out = []
    for number, label_id in enumerate(label_ids, start=1):
        label = data.label(label_id)
        category, kind = label_codes(label.name)
        out.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=label.name,
                segmented_property_category=category,
                segmented_property_type=kind,
                algorithm_type=(
                    hd.seg.SegmentAlgorithmTypeValues.MANUAL
                    if algorithm is None
                    else hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC
                ),
                algorithm_identification=algorithm,
                display_color=hd.color.CIELabColor.from_rgb(*label.color),
            )
        )
    return out


def _stand_in(source: Dataset) -> Dataset:
    """A single-frame view of ``source``'s header for highdicom (the same UIDs, no pixels)."""
    stand_in = Dataset()
    for elem in source:
        if elem.tag < Tag(0x7FE0, 0x0010) and elem.keyword not in ("NumberOfFrames", "FrameIncrementPointer"):
            stand_in.add(copy.deepcopy(elem))
    stand_in.SOPClassUID = US_IMAGE_STORAGE
    stand_in.file_meta = copy.deepcopy(getattr(source, "file_meta", Dataset()))
    return stand_in


def build_seg(data: ProjectData, study: StudyData, source: Dataset) -> Dataset:
    """The SEG dataset of ``study``'s mask planes, referencing the frames of ``source``."""
    frames = sorted(study.masks)
    label_ids = sorted({int(v) for f in frames for v in np.unique(study.masks[f].plane) if v})
    multiframe = "NumberOfFrames" in source
    rows, cols = int(source.Rows), int(source.Columns)
    first = np.stack([study.masks[frames[0]].plane == lab for lab in label_ids], axis=-1)[None]
    seg = hd.seg.Segmentation(
        source_images=[_stand_in(source)],
        pixel_array=first,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=_descriptions(data, label_ids, study.masks),
        series_instance_uid=hd.UID(),
        series_number=SEG_SERIES_NUMBER,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="EchoCare",
        manufacturer_model_name=SOFTWARE,
        software_versions="1",
        device_serial_number="0",
        omit_empty_frames=False,
        series_description="EchoCare segmentation",
    )
    template = _per_frame_template(seg)
    items, planes = [], []
    for f in frames:
        plane = study.masks[f].plane
        if plane.shape != (rows, cols):
            raise ValueError(f"mask of frame {f} is {plane.shape}, the source is {(rows, cols)}")
        for number, label_id in enumerate(label_ids, start=1):
            item = copy.deepcopy(template)
            ref = item.DerivationImageSequence[0].SourceImageSequence[0]
            ref.ReferencedSOPClassUID = source.SOPClassUID
            if multiframe:
                ref.ReferencedFrameNumber = f + 1
            item.SegmentIdentificationSequence[0].ReferencedSegmentNumber = number
            content = item.FrameContentSequence[0]
            content.DimensionIndexValues = [number, f + 1] if multiframe else [number]
            if multiframe:
                content.TemporalPositionIndex = f + 1
            items.append(item)
            planes.append(plane == label_id)
    seg.PerFrameFunctionalGroupsSequence = DicomSequence(items)
    seg.NumberOfFrames = len(items)
    packed = np.packbits(np.stack(planes).ravel(), bitorder="little").tobytes()
    seg.PixelData = packed + (b"\0" if len(packed) % 2 else b"")
    if multiframe:
        _add_frame_dimension(seg)
    _fix_references(seg, source, [f + 1 for f in frames] if multiframe else None)
    seg.PatientOrientation = copy.deepcopy(source.get("PatientOrientation", ""))
    return seg


def _per_frame_template(seg: Dataset) -> Dataset:
    """The first per-frame group with the groups highdicom shared (for one frame) moved in."""
    template = copy.deepcopy(seg.PerFrameFunctionalGroupsSequence[0])
    shared = seg.SharedFunctionalGroupsSequence[0]
    for keyword in PER_FRAME:
        if keyword in shared:
            setattr(template, keyword, copy.deepcopy(shared[keyword].value))
            delattr(shared, keyword)
    return template


def _add_frame_dimension(seg: Dataset) -> None:
    dim = Dataset()
    dim.DimensionOrganizationUID = seg.DimensionIndexSequence[0].DimensionOrganizationUID
    dim.DimensionIndexPointer = Tag(0x0020, 0x9128)  # TemporalPositionIndex
    dim.FunctionalGroupPointer = Tag(0x0020, 0x9111)  # FrameContentSequence
    dim.DimensionDescriptionLabel = "Source Frame Number"
    seg.DimensionIndexSequence.append(dim)


def _fix_references(seg: Dataset, source: Dataset, frame_numbers: list[int] | None) -> None:
    """Reference the real source SOP class and, for multi-frame sources, its frame numbers.

    Frame numbers go in the Source Image Sequence (an Image SOP Instance Reference); the
    Referenced Instance Sequence of the Common Instance Reference module has no place for them.
    """
    for series in seg.ReferencedSeriesSequence:
        instances = []
        for inst in series.ReferencedInstanceSequence:  # items highdicom may share with others
            item = Dataset()
            item.ReferencedSOPClassUID = source.SOPClassUID
            item.ReferencedSOPInstanceUID = inst.ReferencedSOPInstanceUID
            instances.append(item)
        series.ReferencedInstanceSequence = DicomSequence(instances)
    for ref in seg.get("SourceImageSequence", []):
        ref.ReferencedSOPClassUID = source.SOPClassUID
        if frame_numbers:
            ref.ReferencedFrameNumber = frame_numbers


@register_exporter("dicom-seg", "DICOM Segmentation per study (binary, frames referenced by number)")
def export_seg(data: ProjectData, ctx: ExportContext) -> ExportSummary:
    """Write ``seg/<study>_seg.dcm`` for every study with masks."""
    files: list[str] = []
    notes: list[str] = []
    for study in data.studies:
        if not any(m.plane.any() for m in study.masks.values()):
            notes.append(f"{ctx.study_name(study)}: no masks, no SEG written")
            continue
        source, copied = source_dataset(study, ctx)
        seg = build_seg(data, study, source)
        rel = f"seg/{ctx.study_name(study)}_seg.dcm"
        write_dataset(ctx.staging / rel, seg)
        files += [*([copied] if copied else []), rel]
    return ExportSummary(tuple(files), tuple(notes))
