"""Crop, resize and pad with exact forward and inverse mapping of images, masks, boxes and points.

A frame goes to the model through three steps: crop to a box of the original frame (the
ultrasound fan, or the whole frame), resize by one uniform scale so the crop fits the model
input, and pad the rest ("letterbox"). ``Geometry`` records those steps and maps anything
between the two spaces.

Coordinates are continuous pixel coordinates in which the centre of pixel (row r, column c)
is the point (x=c, y=r); boxes are (x0, y0, x1, y1) in the same frame. Resizing keeps pixel
areas aligned (OpenCV's convention), so a model pixel centre ``j`` samples the original at
``(j - pad + 0.5) / scale - 0.5 + crop``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np


@dataclass(frozen=True)
class Geometry:
    """How one original frame maps to the model input.

    Attributes:
        original_size: (H, W) of the original frame, pixels.
        crop: (x0, y0, x1, y1) of the kept region, inclusive-exclusive integer pixel bounds.
        scale: model pixels per original pixel (the same along x and y).
        pad: (left, top) padding in model pixels.
        input_size: (H, W) of the model input.
    """

    original_size: tuple[int, int]
    crop: tuple[int, int, int, int]
    scale: float
    pad: tuple[int, int]
    input_size: tuple[int, int]

    @classmethod
    def letterbox(
        cls,
        original_size: tuple[int, int],
        input_size: tuple[int, int],
        crop: tuple[int, int, int, int] | None = None,
    ) -> Geometry:
        """Fit ``crop`` (default: the whole frame) into ``input_size``, centred, aspect kept."""
        h, w = original_size
        x0, y0, x1, y1 = crop if crop is not None else (0, 0, w, h)
        if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
            raise ValueError(f"crop {(x0, y0, x1, y1)} is outside a {w}x{h} frame")
        ih, iw = input_size
        scale = min(ih / (y1 - y0), iw / (x1 - x0))
        rw, rh = cls._resized(x1 - x0, y1 - y0, scale, iw, ih)
        return cls((h, w), (x0, y0, x1, y1), scale, ((iw - rw) // 2, (ih - rh) // 2), (ih, iw))

    @staticmethod
    def _resized(cw: int, ch: int, scale: float, iw: int, ih: int) -> tuple[int, int]:
        return min(iw, max(1, round(cw * scale))), min(ih, max(1, round(ch * scale)))

    @property
    def resized_size(self) -> tuple[int, int]:
        """(H, W) of the resized crop inside the model input, before padding."""
        x0, y0, x1, y1 = self.crop
        rw, rh = self._resized(x1 - x0, y1 - y0, self.scale, self.input_size[1], self.input_size[0])
        return rh, rw

    @property
    def _scales(self) -> tuple[float, float]:
        """Exact (sx, sy) used by the resize: resized size over crop size."""
        x0, y0, x1, y1 = self.crop
        rh, rw = self.resized_size
        return rw / (x1 - x0), rh / (y1 - y0)

    # -- points and boxes ----------------------------------------------------------------
    def points_to_model(self, points: np.ndarray) -> np.ndarray:
        """Map ``[N, 2]`` (x, y) original-frame points to model-input pixels."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        sx, sy = self._scales
        out = np.empty_like(p)
        out[:, 0] = (p[:, 0] + 0.5 - self.crop[0]) * sx - 0.5 + self.pad[0]
        out[:, 1] = (p[:, 1] + 0.5 - self.crop[1]) * sy - 0.5 + self.pad[1]
        return out

    def points_to_original(self, points: np.ndarray) -> np.ndarray:
        """Map ``[N, 2]`` (x, y) model-input points back to original-frame pixels."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        sx, sy = self._scales
        out = np.empty_like(p)
        out[:, 0] = (p[:, 0] + 0.5 - self.pad[0]) / sx - 0.5 + self.crop[0]
        out[:, 1] = (p[:, 1] + 0.5 - self.pad[1]) / sy - 0.5 + self.crop[1]
        return out

    def clip_to_crop(self, points: np.ndarray) -> np.ndarray:
        """Clip ``[N, 2]`` original-frame points to the crop (model padding maps outside it)."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2).copy()
        x0, y0, x1, y1 = self.crop
        p[:, 0] = np.clip(p[:, 0], x0 - 0.5, x1 - 0.5)
        p[:, 1] = np.clip(p[:, 1], y0 - 0.5, y1 - 0.5)
        return p

    def boxes_to_model(self, boxes: np.ndarray) -> np.ndarray:
        """Map ``[N, 4]`` (x0, y0, x1, y1) original boxes to model-input pixels."""
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        return self.points_to_model(b.reshape(-1, 2)).reshape(-1, 4)

    def boxes_to_original(self, boxes: np.ndarray) -> np.ndarray:
        """Map ``[N, 4]`` model-input boxes back to the original frame, clipped to the crop."""
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        corners = self.clip_to_crop(self.points_to_original(b.reshape(-1, 2)))
        return corners.reshape(-1, 4)

    # -- images and masks ----------------------------------------------------------------
    def image_to_model(self, image: np.ndarray, nearest: bool = False, fill: float = 0.0) -> np.ndarray:
        """Crop, resize and pad ``[H, W]`` or ``[H, W, C]`` to the model input size.

        Args:
            image: original-frame pixels.
            nearest: nearest-neighbour resampling (labels) instead of area/linear (intensities).
            fill: value of the padding.
        """
        x0, y0, x1, y1 = self.crop
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        rh, rw = self.resized_size
        if nearest:
            resized = self._nearest(crop, (y1 - y0, x1 - x0), (rh, rw))
        else:
            shrink = rw < (x1 - x0)
            interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
            resized = cv2.resize(crop, (rw, rh), interpolation=interp)
        ih, iw = self.input_size
        out = np.full((ih, iw, *image.shape[2:]), fill, dtype=resized.dtype)
        out[self.pad[1] : self.pad[1] + rh, self.pad[0] : self.pad[0] + rw] = resized.reshape(
            rh, rw, *image.shape[2:]
        )
        return out

    def labels_to_original(self, labels: np.ndarray, fill: int = 0) -> np.ndarray:
        """Map a model-space label map ``[h, w]`` back to ``[H, W]`` original pixels (nearest).

        Each original pixel centre inside the crop takes the label of the model pixel its
        centre falls in, using the same mapping as ``points_to_model``; pixels outside the
        crop get ``fill``. ``labels`` may be at model input size or any integer fraction of
        it (e.g. 1/4-scale heatmaps).
        """
        ih, iw = self.input_size
        fy, fx = labels.shape[0] / ih, labels.shape[1] / iw
        h, w = self.original_size
        out = np.full((h, w), fill, dtype=labels.dtype)
        x0, y0, x1, y1 = self.crop
        xs = np.arange(x0, x1, dtype=np.float64)
        ys = np.arange(y0, y1, dtype=np.float64)
        mx = self.points_to_model(np.stack([xs, np.full_like(xs, y0)], 1))[:, 0]
        my = self.points_to_model(np.stack([np.full_like(ys, x0), ys], 1))[:, 1]
        cols = np.clip(np.floor((mx + 0.5) * fx), 0, labels.shape[1] - 1).astype(np.intp)
        rows = np.clip(np.floor((my + 0.5) * fy), 0, labels.shape[0] - 1).astype(np.intp)
        out[y0:y1, x0:x1] = labels[np.ix_(rows, cols)]
        return out

    def scores_to_original(self, scores: np.ndarray) -> np.ndarray:
        """Map per-class scores ``[K, h, w]`` (model space) to ``[K, H, W]`` over the original crop.

        Bilinear resampling of the unpadded part; pixels outside the crop get 0 for every class.
        """
        x0, y0, x1, y1 = self.crop
        out = np.zeros((scores.shape[0], *self.original_size), dtype=np.float32)
        for i, channel in enumerate(scores):
            out[i, y0:y1, x0:x1] = self._resample_to_crop(channel)
        return out

    def argmax_to_original(self, scores: np.ndarray) -> np.ndarray:
        """``scores_to_original(scores).argmax(axis=0)`` as ``uint8`` (K <= 256), one class at a time.

        Neither the ``[K, H, W]`` stack nor a strided argmax over it is built: each class is
        resampled and compared with the best so far (ties keep the lower class, as argmax
        does). Pixels outside the crop get class 0.
        """
        if scores.shape[0] > 256:
            raise ValueError(f"{scores.shape[0]} classes do not fit a uint8 label map")
        x0, y0, x1, y1 = self.crop
        best = self._resample_to_crop(scores[0])
        labels = np.zeros(best.shape, dtype=np.uint8)
        higher = np.empty(best.shape, dtype=bool)
        step = np.empty(best.shape, dtype=np.uint8)
        for i in range(1, scores.shape[0]):
            channel = self._resample_to_crop(scores[i])
            np.greater(channel, best, out=higher)
            # labels += higher * (i - labels), in wrapping uint8: branch-free, unlike a masked
            # assignment, which costs 30x more on a ragged mask
            np.subtract(np.uint8(i), labels, out=step)
            np.multiply(step, higher, out=step)
            np.add(labels, step, out=labels)
            np.maximum(best, channel, out=best)
        out = np.zeros(self.original_size, dtype=np.uint8)
        out[y0:y1, x0:x1] = labels
        return out

    def image_to_original(self, image: np.ndarray, background: np.ndarray) -> np.ndarray:
        """Map a model-space image ``[h, w]`` back onto a copy of ``background`` ``[H, W]``.

        The crop region is replaced by the bilinear resampling of the model image; the rest of
        the frame keeps the background pixels, so the result has the original geometry.
        """
        out = background.astype(np.float32)  # a new array, even for float32 input
        x0, y0, x1, y1 = self.crop
        out[y0:y1, x0:x1] = self._resample_to_crop(image)
        return out

    def _resample_to_crop(self, channel: np.ndarray) -> np.ndarray:
        """Bilinear samples ``[y1 - y0, x1 - x0]`` of one model-space map at the crop's pixel centres.

        Where the map's unpadded part lies on whole pixels (any map at model input resolution),
        resizing that part samples the same points: both use pixel centres and clamp at the
        edges. ``cv2.resize`` does so with exact weights and no maps, several times faster than
        ``cv2.remap``, which serves the other maps (e.g. a padded quarter-resolution heatmap).
        """
        channel = np.ascontiguousarray(channel, dtype=np.float32)
        x0, y0, x1, y1 = self.crop
        unpadded = self._unpadded_window(channel.shape)
        if unpadded is not None:
            return cv2.resize(channel[unpadded], (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        map_x, map_y = _sample_maps(self, channel.shape)
        return cv2.remap(channel, map_x, map_y, cv2.INTER_LINEAR)

    def _unpadded_window(self, shape: tuple[int, ...]) -> tuple[slice, slice] | None:
        """The rows and columns of a ``shape`` map that hold the resized crop, None where they do
        not fall on whole pixels."""
        (sh, sw), (ih, iw), (rh, rw) = shape[-2:], self.input_size, self.resized_size
        bounds = [
            self.pad[1] * sh / ih,
            (self.pad[1] + rh) * sh / ih,
            self.pad[0] * sw / iw,
            (self.pad[0] + rw) * sw / iw,
        ]
        if any(b != round(b) for b in bounds):
            return None
        top, bottom, left, right = (round(b) for b in bounds)
        return slice(top, bottom), slice(left, right)

    @staticmethod
    def _nearest(crop: np.ndarray, src: tuple[int, int], dst: tuple[int, int]) -> np.ndarray:
        """Nearest resampling consistent with ``labels_to_original`` (pixel-centre sampling)."""
        (sh, sw), (dh, dw) = src, dst
        rows = np.clip(np.floor((np.arange(dh) + 0.5) * sh / dh), 0, sh - 1).astype(np.intp)
        cols = np.clip(np.floor((np.arange(dw) + 0.5) * sw / dw), 0, sw - 1).astype(np.intp)
        return crop[np.ix_(rows, cols)]

    def as_dict(self) -> dict[str, object]:
        return {
            "original_size": list(self.original_size),
            "crop": list(self.crop),
            "scale": self.scale,
            "pad": list(self.pad),
            "input_size": list(self.input_size),
        }


@lru_cache(maxsize=16)
def _sample_maps(geometry: Geometry, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``cv2.remap`` maps sampling a model-space map of ``shape`` at each crop pixel centre.

    A cine's frames share one geometry, so the maps are built once per cine and head
    resolution, not once per frame. The arrays are read-only.
    """
    sh, sw = shape
    ih, iw = geometry.input_size
    fy, fx = sh / ih, sw / iw
    rh, rw = geometry.resized_size
    py0, px0 = geometry.pad[1] * fy, geometry.pad[0] * fx
    x0, y0, x1, y1 = geometry.crop
    xs = np.arange(x0, x1, dtype=np.float64)
    ys = np.arange(y0, y1, dtype=np.float64)
    mx = (geometry.points_to_model(np.stack([xs, np.zeros_like(xs)], 1))[:, 0] + 0.5) * fx - 0.5
    my = (geometry.points_to_model(np.stack([np.zeros_like(ys), ys], 1))[:, 1] + 0.5) * fy - 0.5
    mx = np.clip(mx, px0, px0 + rw * fx - 1)
    my = np.clip(my, py0, py0 + rh * fy - 1)
    map_x, map_y = np.meshgrid(mx.astype(np.float32), my.astype(np.float32))
    map_x.flags.writeable = False
    map_y.flags.writeable = False
    return map_x, map_y
