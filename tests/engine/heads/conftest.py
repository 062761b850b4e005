"""Random feature pyramids shaped by FeatureSpec, so heads are tested without an encoder."""

import pytest
import torch

from engine.heads.base import FeatureSpec


@pytest.fixture
def spec():
    return FeatureSpec(channels=(12, 24, 48, 96, 192), input_size=(64, 64))


@pytest.fixture
def feats(spec):
    torch.manual_seed(0)
    h, w = spec.input_size
    pyramid = [torch.randn(2, c, h // s, w // s) for c, s in zip(spec.channels, spec.strides)]
    return pyramid, torch.randn(2, 3, h, w)
