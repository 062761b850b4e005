"""Import COCO JSON and PNG mask folders into a project as human-final labels.

Labels are matched to the project's schema by name; unknown names are added. Annotations keep
their COCO geometry (``segmentation`` as RLE or polygons -> mask planes, ``bbox`` -> boxes,
``keypoints`` -> landmarks); an ``echocare`` object written by our COCO export restores the
annotation exactly (kind, frame, points, value, name, id). Every annotation is checked against
the schema (``engine.annotations``) before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.annotations import Annotation, new_id
from engine.errors import EchoCareError, ProjectError, ReadError
from engine.interop import rle
from engine.interop.project_data import open_store
from engine.project import LabelRecord, MaskRecord, ProjectStore, to_record
from engine.provenance import Origin

MAX_LABEL = 255


@dataclass(frozen=True)
class ImportResult:
    """What an import added: counts and the ids of the studies touched."""

    studies: tuple[int, ...]
    annotations: int
    masks: int
    labels_added: tuple[str, ...] = field(default_factory=tuple)


def rle_from_string(counts: str, size: list[int]) -> dict[str, Any]:
    """Counts of COCO's compressed RLE string (as pycocotools writes it) as a list."""
    out: list[int] = []
    p = 0
    while p < len(counts):
        x, k, more = 0, 0, True
        while more:
            c = ord(counts[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(out) > 2:
            x += out[-2]
        out.append(x)
    return {"size": size, "counts": out}


def _segmentation_mask(seg: Any, h: int, w: int) -> np.ndarray:
    import cv2

    if isinstance(seg, dict):
        if isinstance(seg.get("counts"), str):
            seg = rle_from_string(seg["counts"], seg["size"])
        return rle.decode(seg)
    plane = np.zeros((h, w), np.uint8)
    for poly in seg or []:
        pts = np.round(np.asarray(poly, np.float64).reshape(-1, 2)).astype(np.int32)
        cv2.fillPoly(plane, [pts], 1)
    return plane.astype(bool)


class _Labels:
    """Maps foreign label names to the project's label ids, adding the missing ones."""

    def __init__(self, store: ProjectStore) -> None:
        self.store = store
        self.labels = list(store.labels())
        self.added: list[str] = []

    def id_for(self, name: str, color: Iterable[int] = (160, 160, 160), wanted: int | None = None) -> int:
        for lab in self.labels:
            if lab.name == name:
                return lab.id
        used = {lab.id for lab in self.labels}
        new_id = wanted if wanted and 1 <= wanted <= MAX_LABEL and wanted not in used else None
        new_id = new_id or next((i for i in range(1, MAX_LABEL + 1) if i not in used), None)
        if new_id is None:
            raise ProjectError(self.store.folder, f"no label id left for {name!r}")
        rgb = tuple(int(c) for c in color)[:3]
        self.labels.append(LabelRecord(new_id, name, rgb))  # type: ignore[arg-type]
        self.added.append(name)
        return new_id

    def save(self) -> None:
        self.store.set_labels(sorted(self.labels, key=lambda lab: lab.id))


@dataclass
class _Pending:
    path: Path
    frames: int
    rows: int
    columns: int
    annotations: list[Annotation] = field(default_factory=list)
    masks: dict[int, np.ndarray] = field(default_factory=dict)


def _add_study(path: Path, pending: dict[Path, _Pending]) -> _Pending:
    path = path.resolve()
    if path not in pending:
        from engine.io.open import open_cine

        with open_cine(path) as cine:
            info = cine.info
        pending[path] = _Pending(path, info.frames, info.rows, info.columns)
    return pending[path]


def _commit(store: ProjectStore, pending: dict[Path, _Pending], labels: _Labels) -> ImportResult:
    labels.save()
    n_ann = n_mask = 0
    studies: list[int] = []
    for p in pending.values():
        study = store.add_study(p.path, p.frames, p.rows, p.columns)
        studies.append(study.id)
        existing = store.annotations(study.id)
        taken = {a.id for a in existing}
        fresh = [a if a.id not in taken else _renamed(a) for a in p.annotations]
        masks = {f: MaskRecord(f, plane, Origin.HUMAN_FINAL) for f, plane in p.masks.items()}
        store.save_study(study.id, [*existing, *map(to_record, fresh)], masks)
        n_ann += len(fresh)
        n_mask += len(masks)
    return ImportResult(tuple(studies), n_ann, n_mask, tuple(labels.added))


def _renamed(a: Annotation) -> Annotation:
    return replace(a, id=new_id())


def _image_source(image: dict[str, Any], root: Path) -> tuple[Path, int]:
    ext = image.get("echocare") or {}
    source = ext.get("source")
    if source and Path(source).is_file():
        return Path(source), int(ext.get("frame", 0))
    return root / str(image["file_name"]), 0


def _foreign(entry: dict[str, Any], label_id: int, frame: int) -> list[Annotation]:
    out = []
    if entry.get("keypoints"):
        kp = np.asarray(entry["keypoints"], np.float64).reshape(-1, 3)
        for x, y, v in kp:
            if v > 0:
                out.append(Annotation("landmark", frame, label_id, ((x, y),)))
    elif entry.get("bbox") and not entry.get("segmentation"):
        x, y, w, h = (float(v) for v in entry["bbox"])
        out.append(Annotation("box", frame, label_id, ((x, y), (x + w, y + h))))
    return out


def _restored(ext: dict[str, Any], label_id: int, frame: int) -> Annotation:
    """The annotation an ``echocare`` object of our COCO export describes (a fresh id if none)."""
    kind, points, name = str(ext["kind"]), tuple(ext.get("points", ())), str(ext.get("name", ""))
    ann_id = str(ext.get("id") or new_id())
    return Annotation(kind, frame, label_id, points, ext.get("value"), name, id=ann_id)


def _check_geometry(coco_json: Path, entry: dict, image: dict, target: _Pending, frame: int) -> None:
    """Refuse an annotation whose image size or frame does not match the study it points to
    (frame -1 is a study-wide annotation)."""
    name = target.path.name
    if not -1 <= frame < target.frames:
        raise ReadError(
            coco_json, f"annotation {entry.get('id')}: frame {frame} outside {name}'s {target.frames} frames"
        )
    size = (int(image.get("width", target.columns)), int(image.get("height", target.rows)))
    if size != (target.columns, target.rows):
        raise ReadError(
            coco_json,
            f"image {image.get('id')} is {size[0]}x{size[1]} in the COCO file, "
            f"but {name} is {target.columns}x{target.rows}",
        )


def import_coco(
    project: str | Path, coco_json: str | Path, media_root: str | Path | None = None
) -> ImportResult:
    """Import a COCO JSON file into ``project`` as human-final annotations and masks.

    Args:
        project: an existing project folder.
        coco_json: the COCO file.
        media_root: where ``file_name`` paths are relative to (default: the JSON's folder).

    Raises:
        EchoCareError: unreadable JSON, missing images, an annotation that breaks the schema
            or does not fit its study, or a project that cannot be written; the project is
            left unchanged then.
    """
    coco_json = Path(coco_json)
    try:
        doc = json.loads(coco_json.read_text(encoding="utf-8"))
        images = {int(im["id"]): im for im in doc["images"]}
        categories = {int(c["id"]): c for c in doc.get("categories", [])}
        entries = list(doc["annotations"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ReadError(coco_json, f"not a readable COCO file ({type(err).__name__}: {err})") from None
    root = Path(media_root) if media_root else coco_json.parent
    with open_store(project) as store:
        labels = _Labels(store)
        pending: dict[Path, _Pending] = {}  # nothing is written before every entry is read
        try:
            for entry in entries:
                image = images[int(entry["image_id"])]
                path, frame = _image_source(image, root)
                target = _add_study(path, pending)
                cat = categories.get(int(entry.get("category_id", 0)))
                label_id = 0
                if cat is not None:
                    color = (cat.get("echocare") or {}).get("color", (160, 160, 160))
                    label_id = labels.id_for(str(cat["name"]), color, int(cat["id"]))
                ext = entry.get("echocare") or {}
                if entry.get("segmentation"):
                    h, w = target.rows, target.columns
                    _check_geometry(coco_json, entry, image, target, frame)
                    binary = _segmentation_mask(entry["segmentation"], h, w)
                    if binary.shape != (h, w):
                        raise ReadError(
                            coco_json,
                            f"annotation {entry.get('id')}: mask is {binary.shape[1]}x{binary.shape[0]}, "
                            f"but {path.name} is {w}x{h}",
                        )
                    plane = target.masks.setdefault(frame, np.zeros((h, w), np.uint8))
                    plane[binary] = label_id
                elif ext.get("kind"):
                    ann_frame = int(ext.get("frame", frame))
                    _check_geometry(coco_json, entry, image, target, ann_frame)
                    target.annotations.append(_restored(ext, label_id, ann_frame))
                else:
                    target.annotations.extend(_foreign(entry, label_id, frame))
        except (KeyError, ValueError, TypeError) as err:
            raise ReadError(coco_json, f"bad COCO annotation ({type(err).__name__}: {err})") from None
        except EchoCareError:
            raise
        return _commit(store, pending, labels)


def import_png_masks(
    project: str | Path, masks_dir: str | Path, images_dir: str | Path, labels_json: str | Path | None = None
) -> ImportResult:
    """Import a folder of PNG label masks (pixel value = label id) paired with images by name.

    ``masks_dir/a/b.png`` pairs with the image ``images_dir/a/b.*`` (png, jpg, bmp, tif or dcm).
    Label names come from ``labels_json`` (``{"labels": [{"id", "name"}]}``, as our PNG export
    writes) or, without it, are named ``label N``.

    Raises:
        EchoCareError: a mask without its image, a mask whose size differs from its image,
            or an unreadable file; the project is left unchanged then.
    """
    import cv2

    masks_dir, images_dir = Path(masks_dir), Path(images_dir)
    names: dict[int, str] = {}
    if labels_json is not None:
        try:
            doc = json.loads(Path(labels_json).read_text(encoding="utf-8"))
            names = {int(lab["id"]): str(lab["name"]) for lab in doc["labels"]}
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ReadError(labels_json, f"not a label list ({type(err).__name__}: {err})") from None
    mask_files = sorted(masks_dir.rglob("*.png"))
    if not mask_files:
        raise ReadError(masks_dir, "no PNG masks in this folder")
    with open_store(project) as store:
        labels = _Labels(store)
        pending: dict[Path, _Pending] = {}
        for mask_file in mask_files:
            rel = mask_file.relative_to(masks_dir).with_suffix("")
            image = next(
                (p for ext in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm")
                 if (p := images_dir / rel.with_suffix(ext)).is_file()),
                None,
            )  # fmt: skip
            if image is None:
                raise ReadError(mask_file, f"no image named {rel} in {images_dir}")
            plane = cv2.imread(str(mask_file), cv2.IMREAD_UNCHANGED)
            if plane is None or plane.ndim != 2:
                raise ReadError(mask_file, "not a single-channel PNG label mask")
            target = _add_study(image, pending)
            if plane.shape != (target.rows, target.columns):
                raise ReadError(
                    mask_file, f"mask is {plane.shape}, its image {(target.rows, target.columns)}"
                )
            out = np.zeros(plane.shape, np.uint8)
            for value in (int(v) for v in np.unique(plane) if v):
                out[plane == value] = labels.id_for(names.get(value, f"label {value}"), wanted=value)
            target.masks[0] = out
        return _commit(store, pending, labels)
