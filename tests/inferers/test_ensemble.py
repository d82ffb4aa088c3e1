"""An ensemble's output, through the usual softmax/sigmoid, is exactly the mean of its members' probabilities."""

from __future__ import annotations

import pytest
import torch

from inferers import EnsembleInferer


def members(k, out_channels):
    torch.manual_seed(0)
    return [torch.nn.Conv2d(2, out_channels, 3, padding=1) for _ in range(k)]


def test_softmax_ensemble_is_the_mean_probability():
    x = torch.randn(2, 2, 6, 6)
    nets = members(3, 4)
    mean = sum(torch.softmax(n(x), 1) for n in nets) / 3
    out = EnsembleInferer(nets, activation="softmax")(x, None)
    torch.testing.assert_close(torch.softmax(out, 1), mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out.argmax(1), mean.argmax(1))


def test_sigmoid_ensemble_is_the_mean_probability():
    x = torch.randn(1, 2, 5, 5)
    nets = members(2, 3)
    mean = sum(torch.sigmoid(n(x)) for n in nets) / 2
    out = EnsembleInferer(nets, activation="sigmoid")(x, None)
    torch.testing.assert_close(torch.sigmoid(out), mean, rtol=1e-5, atol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="at least one network"):
        EnsembleInferer([])
    with pytest.raises(ValueError, match="'softmax' or 'sigmoid'"):
        EnsembleInferer(members(1, 2), activation="relu")
