"""Mirroring TTA averages the network's outputs over every flip combination, each flipped back, exactly."""

from __future__ import annotations

import pytest
import torch
from monai.inferers import SimpleInferer, SlidingWindowInferer

from inferers import MirrorTTAInferer, mirror_axes_combinations, tta_elements


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


def _dihedral_expected(x, net, axes, plane):
    """The mean over the 8 (2D) symmetries of the plane times the flips of the other axes, each undone, written
    out element by element from the dihedral group's definition (transforms.dihedral)."""
    nd = x.dim()
    others = [a for a in axes if a not in plane]
    outs = []
    for k in range(4):
        for flip_first in (False, True):
            for other in mirror_axes_combinations(others):
                flips = ([plane[0]] if flip_first else []) + list(other)
                t = torch.rot90(x, k, [plane[0] + 2, plane[1] + 2])
                t = torch.flip(t, [a + 2 for a in flips]) if flips else t
                y = net(t)
                y = torch.flip(y, [a + 2 - nd for a in flips]) if flips else y
                outs.append(torch.rot90(y, -k, [plane[0] + 2 - nd, plane[1] + 2 - nd]))
    return torch.stack(outs).mean(0), len(outs)


class Pointwise(torch.nn.Module):
    """Position-dependent through the input's own content only (shape-free), so it runs on turned inputs."""

    def forward(self, x):
        return x * x.roll(1, dims=-1) + x.roll(2, dims=-2)


@pytest.mark.parametrize("shape, axes, plane", [((1, 2, 5, 7), None, (0, 1)), ((1, 1, 4, 6, 3), None, (0, 1)),
                                                ((2, 1, 3, 4, 5), (1, 2), (1, 2))])
def test_dihedral_tta_is_the_mean_over_turned_and_flipped_inputs_each_undone(shape, axes, plane):
    x = torch.randn(shape, generator=torch.Generator().manual_seed(2))
    net = Pointwise()
    all_axes = tuple(axes) if axes is not None else tuple(range(len(shape) - 2))
    expected, count = _dihedral_expected(x, net, all_axes, plane)
    elements = tta_elements(all_axes, plane)
    assert len(elements) == count == 8 * 2 ** (len(all_axes) - 2)
    assert len(set(elements)) == len(elements)
    out = MirrorTTAInferer(SimpleInferer(), spatial_axes=axes, rotation_plane=plane)(x, net)
    assert out.shape == net(x).shape
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-5)
    mirror_only = MirrorTTAInferer(SimpleInferer(), spatial_axes=axes)(x, net)
    assert not torch.allclose(out, mirror_only), "the turns must change the mean of a map that is not turn-equivariant"


def test_dihedral_elements_are_the_8_distinct_symmetries_of_the_square():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    images = set()
    for turns, combo in tta_elements((0, 1), (0, 1)):
        t = torch.rot90(x, turns, [2, 3])
        t = torch.flip(t, [a + 2 for a in combo]) if combo else t
        images.add(tuple(t.flatten().tolist()))
    assert len(images) == 8
    assert tta_elements((0, 1)) == [(0, c) for c in mirror_axes_combinations((0, 1))]


def test_dihedral_tta_with_sliding_windows_on_a_non_square_image_and_errors():
    x = torch.randn(1, 1, 8, 12)
    net = torch.nn.Conv2d(1, 2, 3, padding=1)
    sw = SlidingWindowInferer(roi_size=(4, 6), overlap=0.5, mode="gaussian")
    assert MirrorTTAInferer(sw, rotation_plane=(0, 1))(x, net).shape == (1, 2, 8, 12)
    with pytest.raises(ValueError, match="two different spatial axes"):
        MirrorTTAInferer(rotation_plane=(1, 1))
    with pytest.raises(ValueError, match="two different spatial axes"):
        tta_elements((0, 1), (0, 0))
    with pytest.raises(ValueError, match="outside the input's 2 spatial axes"):
        MirrorTTAInferer(rotation_plane=(0, 2))(x, net)


def test_dihedral_tta_turns_a_deep_supervision_stack_back_on_its_spatial_axes():
    x = torch.randn(1, 1, 4, 6, generator=torch.Generator().manual_seed(3))

    class Stacked(torch.nn.Module):  # (B, L, C, H, W): heads stacked before the channels, shape-free
        def forward(self, t):
            return torch.stack([t * t.roll(1, dims=-1), t + t.roll(1, dims=-2)], dim=1)

    net = Stacked()
    per_head = [
        _dihedral_expected(x, lambda t, h=h: net(t)[:, h], (0, 1), (0, 1))[0] for h in range(2)
    ]
    out = MirrorTTAInferer(rotation_plane=(0, 1))(x, net)
    assert out.shape == (1, 2, 1, 4, 6)
    torch.testing.assert_close(out, torch.stack(per_head, dim=1), rtol=0, atol=1e-5)
