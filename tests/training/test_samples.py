"""Sample preparation: frames and every target share the inference geometry (letterbox)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.tasks.report import build_vocab, encode_report
from training.finetune.samples import InputSpec, LabelledSample, collate, prepare


def test_non_square_frame_targets_stay_aligned():
    frame = np.zeros((40, 80), np.uint8)
    frame[10:20, 50:70] = 200
    mask = (frame > 0).astype(np.uint8)
    sample = LabelledSample(
        frame,
        {
            "segmentation": mask,
            "landmarks": np.array([[59.5, 14.5]]),
            "detection": (np.array([[50.0, 10.0, 69.0, 19.0]]), np.array([0])),
            "report": "A 12 mm hypoechoic lesion.",
        },
        "p",
        spacing_mm=(0.2, 0.2),
    )
    vocab = build_vocab(["A 12 mm hypoechoic lesion."])
    spec = InputSpec((64, 64), vocab=vocab, report_len=8)
    item = prepare(sample, spec, ("segmentation", "landmarks", "detection", "report"))
    image, seg = item["image"], item["targets"]["segmentation"][0].numpy()
    assert image.shape == (3, 64, 64) and seg.shape == (64, 64)
    # the 80-px-wide frame is letterboxed: scale 0.8, 16 px of padding above and below
    assert not seg[:16].any() and not seg[-16:].any()
    np.testing.assert_array_equal(seg > 0, image[0].numpy() > 0.5)
    x, y = item["targets"]["landmarks"][0].tolist()
    assert seg[round(y), round(x)] == 1
    box = item["targets"]["detection"][0][0].tolist()
    assert box[0] <= x <= box[2] and box[1] <= y <= box[3]
    assert item["spacing"].tolist() == pytest.approx([0.25, 0.25])
    words = [vocab[i] for i in item["targets"]["report"].tolist()]
    assert words == ["a", "mm", "hypoechoic", "lesion", ".", "<eos>", "<pad>", "<pad>"]
    batch = collate([item, item])
    assert batch["image"].shape == (2, 3, 64, 64) and len(batch["targets"]["detection"]) == 2
    assert encode_report("x", vocab, 3).tolist() == [3, 2, 0]  # unknown word, <eos>, <pad>
