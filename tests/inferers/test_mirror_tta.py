"""Mirroring TTA averages the network's outputs over every flip combination, each flipped back, exactly."""

from __future__ import annotations

import pytest
import torch
from monai.inferers import SimpleInferer, SlidingWindowInferer

from inferers import MirrorTTAInferer, mirror_axes_combinations


class Linear(torch.nn.Module):
    """A position-dependent map (not flip-equivariant), so a wrong flip-back changes the result."""

    def __init__(self, shape):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(shape, generator=torch.Generator().manual_seed(0)))

    def forward(self, x):
        return x * self.weight + x.roll(1, dims=-1)


def test_combinations():
    assert mirror_axes_combinations((0, 1)) == [(), (0,), (1,), (0, 1)]
    assert len(mirror_axes_combinations((0, 1, 2))) == 8


@pytest.mark.parametrize("shape, axes", [((1, 2, 5, 7), None), ((2, 1, 4, 5, 3), None), ((1, 2, 5, 7), (1,))])
def test_tta_is_the_mean_of_the_flipped_back_outputs(shape, axes):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    net = Linear(shape[1:])
    nspatial = len(shape) - 2
    combos = mirror_axes_combinations(axes if axes is not None else range(nspatial))
    expected = sum(
        torch.flip(net(torch.flip(x, [a + 2 for a in c])), [a + 2 for a in c]) if c else net(x) for c in combos
    ) / len(combos)
    out = MirrorTTAInferer(SimpleInferer(), spatial_axes=axes)(x, net)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)
    assert not torch.allclose(out, net(x)), "the map is not flip-equivariant: TTA must differ from one pass"


def test_disabled_and_sliding_window_and_errors():
    x = torch.randn(1, 1, 8, 8)
    net = torch.nn.Conv2d(1, 2, 3, padding=1)
    once = SimpleInferer()(x, net)
    torch.testing.assert_close(MirrorTTAInferer(enabled="false")(x, net), once)
    sw = SlidingWindowInferer(roi_size=(4, 4), overlap=0.5, mode="gaussian")
    out = MirrorTTAInferer(sw)(x, net)
    assert out.shape == (1, 2, 8, 8)
    with pytest.raises(ValueError, match="outside the input's 2 spatial axes"):
        MirrorTTAInferer(spatial_axes=(2,))(x, net)


def test_deep_supervision_stack_is_flipped_on_its_spatial_axes():
    x = torch.randn(1, 1, 4, 6)

    class Stacked(torch.nn.Module):  # (B, L, C, H, W): heads stacked before the channels
        def forward(self, t):
            return torch.stack([t * torch.arange(6.0), t + torch.arange(4.0)[:, None]], dim=1)

    net = Stacked()
    combos = mirror_axes_combinations((0, 1))
    expected = sum(torch.flip(net(torch.flip(x, [a + 2 for a in c])), [a + 3 for a in c]) for c in combos) / 4
    torch.testing.assert_close(MirrorTTAInferer()(x, net), expected)
