from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.inferers import Inferer
from parameterized import parameterized

from networks import ModularUNet
from inferers.overlap_tile import OverlapTileInferer, mirror_indices, mirror_pad


def _tiny_valid_net(spatial_dims: int = 2, depth: int = 2, features: int = 4) -> torch.nn.Module:
    torch.manual_seed(0)
    # PReLU keeps the random net's output varied (ReLU nets this small are often constant), so tiles that
    # break the pooling grid would show
    net = ModularUNet(
        spatial_dims=spatial_dims, in_channels=1, out_channels=2, features=features, depth=depth,
        padding="valid", norm=None, act="prelu",
    )  # fmt: skip
    return net.eval()


def _whole_padded_prediction(net: ModularUNet, x: torch.Tensor, mode: str = "reflect") -> torch.Tensor:
    """The reference: numpy-mirror-pad the whole image to input_size_for(size), one forward pass, crop."""
    spatial = x.shape[2:]
    pads = [(0, 0), (0, 0)]
    for n in spatial:
        full_in = net.input_size_for(int(n))
        margin = (full_in - net.output_size(full_in)) // 2
        pads.append((margin, full_in - margin - int(n)))
    padded = torch.as_tensor(np.pad(x.numpy(), pads, mode=mode))
    with torch.no_grad():
        out = net(padded)
    return out[(slice(None), slice(None)) + tuple(slice(0, int(n)) for n in spatial)]


@parameterized.expand(
    [("reflect", 5, 3), ("reflect", 3, 40), ("symmetric", 4, 9), ("reflect", 1, 3), ("symmetric", 1, 2)]
)
def test_mirror_indices_match_numpy_pad_for_any_pad(mode, length, pad):
    expected = np.pad(np.arange(length), (pad, pad + 1), mode=mode)
    np.testing.assert_array_equal(mirror_indices(length, pad, pad + 1, mode).numpy(), expected)


def test_mirror_pad_pads_every_spatial_axis():
    x = torch.rand(2, 3, 5, 7)
    out = mirror_pad(x, [(6, 2), (1, 9)])
    np.testing.assert_array_equal(out.numpy(), np.pad(x.numpy(), [(0, 0), (0, 0), (6, 2), (1, 9)], mode="reflect"))


def test_2015_unet_pads_512_to_700():
    net = ModularUNet(spatial_dims=2, in_channels=1, out_channels=2, features=64, depth=4, padding="valid", norm=None)
    plan = OverlapTileInferer().layout(net, (512, 512))[0]
    assert plan["input"] == 700 and plan["output"] == 516 and plan["margin"] == 92
    assert plan["pad_before"] + 512 + plan["pad_after"] == 700
    tiles = OverlapTileInferer(tile_size=388).layout(net, (512, 512))[0]
    assert tiles["input"] == 572 and tiles["output"] == 388 and tiles["starts"] == [0, 128]
    assert all(s % 16 == 0 for s in tiles["starts"]), "tiles start on the pooling grid (2 ** depth)"


@parameterized.expand([(None, 1), (4, 1), (8, 3), (12, 2), (20, 4), ((8, 16), 5), (100, 1), (36, 1), ((35, 47), 2)])
def test_tiles_give_the_whole_padded_image_prediction(tile_size, tile_batch_size):
    net = _tiny_valid_net()
    x = torch.rand(2, 1, 37, 50)
    reference = _whole_padded_prediction(net, x)
    with torch.no_grad():
        out = OverlapTileInferer(tile_size=tile_size, tile_batch_size=tile_batch_size)(x, net)
    assert out.shape == (2, 2, 37, 50)
    torch.testing.assert_close(out, reference, atol=1e-5, rtol=1e-5)


def test_tiles_off_the_pooling_grid_would_differ():
    """The equality above is not vacuous: tiles that start off the 2 ** depth grid change the output."""
    net = _tiny_valid_net()
    x = torch.rand(1, 1, 37, 50)
    reference = _whole_padded_prediction(net, x)
    with torch.no_grad():
        shifted = OverlapTileInferer(tile_size=8, alignment=1)(x, net)
    assert float((shifted - reference).abs().max()) > 1e-4


def test_symmetric_mode_and_a_three_d_network():
    net = _tiny_valid_net()
    x = torch.rand(1, 1, 21, 30)
    with torch.no_grad():
        out = OverlapTileInferer(tile_size=8, mode="symmetric")(x, net)
    torch.testing.assert_close(out, _whole_padded_prediction(net, x, "symmetric"), atol=1e-5, rtol=1e-5)
    net3d = _tiny_valid_net(spatial_dims=3, depth=1, features=2)
    volume = torch.rand(1, 1, 9, 11, 10)
    with torch.no_grad():
        tiled = OverlapTileInferer(tile_size=4)(volume, net3d)
    torch.testing.assert_close(tiled, _whole_padded_prediction(net3d, volume), atol=1e-5, rtol=1e-5)


def test_real_sized_page_through_a_depth_4_net():
    net = _tiny_valid_net(depth=4, features=2)
    x = torch.rand(1, 1, 512, 512)
    with torch.no_grad():
        whole = OverlapTileInferer()(x, net)
        tiled = OverlapTileInferer(tile_size=388, tile_batch_size=4)(x, net)
    torch.testing.assert_close(whole, _whole_padded_prediction(net, x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=1e-5)


def test_is_a_monai_inferer_finds_wrapped_networks_and_rejects_same_padding_ones():
    net = _tiny_valid_net()

    class Wrapper(torch.nn.Module):  # like DistributedDataParallel: the net is in .module
        def __init__(self, module):
            super().__init__()
            self.module = module

        def forward(self, x):
            return self.module(x)

    inferer = OverlapTileInferer(tile_size=8)
    assert isinstance(inferer, Inferer)
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(inferer(x, Wrapper(net)), inferer(x, net))
    with pytest.raises(TypeError, match="valid-padding"):
        inferer(x, torch.nn.Conv2d(1, 2, 3, padding=1))
    with pytest.raises(ValueError, match="mode"):
        OverlapTileInferer(mode="wrap")
