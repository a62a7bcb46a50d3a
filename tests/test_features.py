"""extract_features: batching, streams and modes must not change the numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import randomize_

from skeletonzoo.data.streams import to_stream
from skeletonzoo.features import extract_features
from skeletonzoo.models import SkeletonEncoder


@pytest.fixture(scope="module")
def encoder() -> SkeletonEncoder:
    return randomize_(SkeletonEncoder(hidden_channels=4, hidden_dim=16), seed=3).eval()


@pytest.mark.parametrize("stream", ["joint", "motion", "bone"])
def test_equals_one_plain_forward_whatever_the_batch_size(encoder, stream):
    x = torch.randn(7, 3, 12, 25, 2, generator=torch.Generator().manual_seed(0))
    x[2, ..., 1] = 0  # a padded second person
    with torch.no_grad():
        expected = encoder.pool(encoder.forward_maps(to_stream(x, stream, "ntu25")), 2).numpy()
    for batch_size in (1, 3, 7, 100):
        got = extract_features(encoder, x.numpy(), stream=stream, batch_size=batch_size)
        assert got.dtype == np.float32 and got.shape == (7, 16)
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_restores_training_mode_and_handles_empty_input(encoder):
    encoder.train()
    out = extract_features(encoder, np.zeros((0, 3, 12, 25, 2), np.float32))
    assert out.shape == (0, 16) and encoder.training
    encoder.eval()
    with pytest.raises(ValueError, match="batch_size"):
        extract_features(encoder, np.zeros((1, 3, 12, 25, 2), np.float32), batch_size=0)
