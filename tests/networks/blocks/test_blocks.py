"""Shape contracts and graph properties of the individual slot modules."""

from __future__ import annotations

import unittest

import torch
from parameterized import parameterized

from networks import CONV_BLOCKS, DOWN_OPS, UP_OPS, count_parameters
from networks.blocks import (
    AttentionGateSkip,
    ConcatSkip,
    MBConvLayer,
    NASNetNormalCell,
    NASNetReductionCell,
    NoSkip,
    ResidualBlock,
)
from networks.blocks.common import match_size
from tests.networks.tester import check_network


class TestConvBlocks(unittest.TestCase):
    @parameterized.expand([[name] for name in CONV_BLOCKS.names()])
    def test_shape_2d_3d_and_script(self, name):
        check_network(
            CONV_BLOCKS.get(name), dict(in_channels=3, out_channels=5), {2: (9, 11), 3: (7, 5, 9)}, 3, 5, script=True
        )

    @parameterized.expand([["double_conv"], ["residual"]])
    def test_valid_padding_loses_four_pixels(self, name):
        block = CONV_BLOCKS.build(name, spatial_dims=2, in_channels=2, out_channels=3, padding="valid")
        self.assertEqual(block.shrink, 4)
        self.assertEqual(tuple(block(torch.zeros(1, 2, 13, 10)).shape), (1, 3, 9, 6))

    def test_residual_identity_shortcut_has_no_parameters(self):
        same = ResidualBlock(spatial_dims=2, in_channels=4, out_channels=4, norm=None)
        proj = ResidualBlock(spatial_dims=2, in_channels=3, out_channels=4, norm=None)
        self.assertEqual(count_parameters(same), 2 * (4 * 4 * 9 + 4))
        self.assertEqual(count_parameters(proj), (3 * 4 * 9 + 4) + (4 * 4 * 9 + 4) + (3 * 4 + 4))

    def test_nasnet_normal_concatenates_six_states(self):
        cell = NASNetNormalCell(spatial_dims=2, in_channels=3, out_channels=8, cell_channels=4)
        self.assertEqual(cell.proj_out[1].in_channels, 6 * 4)

    def test_nasnet_reduction_concatenates_four_states_and_halves_with_ceil(self):
        cell = NASNetReductionCell(spatial_dims=2, in_channels=3, out_channels=8, stride=2, cell_channels=4)
        self.assertEqual(cell.proj_out[1].in_channels, 4 * 4)
        self.assertEqual(tuple(cell(torch.zeros(1, 3, 9, 8)).shape), (1, 8, 5, 4))
        self.assertEqual(cell.out_size(9), 5)

    def test_cells_do_not_modify_their_input(self):
        x = torch.randn(1, 3, 8, 8)
        before = x.clone()
        NASNetNormalCell(spatial_dims=2, in_channels=3, out_channels=4, act=("relu", {"inplace": True}))(x)
        NASNetReductionCell(spatial_dims=2, in_channels=3, out_channels=4, act=("relu", {"inplace": True}))(x)
        torch.testing.assert_close(x, before)

    def test_mbconv_residual_only_when_shapes_agree(self):
        self.assertTrue(MBConvLayer(spatial_dims=2, in_channels=4, out_channels=4).residual)
        self.assertFalse(MBConvLayer(spatial_dims=2, in_channels=4, out_channels=5).residual)

    def test_mbconv_expansion_and_se_widths(self):
        layer = MBConvLayer(spatial_dims=2, in_channels=8, out_channels=8, expand_ratio=6, se_ratio=0.25)
        self.assertEqual(layer.depthwise[0].groups, 48)
        self.assertEqual(layer.se.reduce.out_channels, 2)


class TestSkips(unittest.TestCase):
    def test_concat_crops_larger_skip(self):
        up, skip, coarse = torch.zeros(1, 2, 6, 6), torch.arange(100.0).reshape(1, 1, 10, 10), torch.zeros(1, 4, 5, 5)
        out = ConcatSkip(2, 1, 2, 4)(up, skip, coarse)
        self.assertEqual(tuple(out.shape), (1, 3, 6, 6))
        torch.testing.assert_close(out[0, 0], skip[0, 0, 2:8, 2:8])

    def test_none_ignores_skip(self):
        up = torch.randn(1, 2, 4, 4)
        self.assertIs(NoSkip(2, 1, 2, 4)(up, torch.zeros(1, 1, 4, 4), torch.zeros(1, 4, 2, 2)), up)

    @parameterized.expand([[2, (9, 11)], [3, (7, 9, 5)]])
    def test_attention_coefficients(self, dims, size):
        gate = AttentionGateSkip(dims, skip_channels=4, up_channels=3, coarse_channels=6)
        skip = torch.randn(2, 4, *size)
        coarse = torch.randn(2, 6, *[(s + 1) // 2 for s in size])
        alpha = gate.attention(skip, coarse)
        self.assertEqual(tuple(alpha.shape), (2, 1, *size))
        self.assertTrue(bool(((alpha > 0) & (alpha < 1)).all()))
        out = gate(torch.randn(2, 3, *size), skip, coarse)
        self.assertEqual(tuple(out.shape), (2, 7, *size))

    def test_attention_gate_suppresses_when_psi_is_negative(self):
        gate = AttentionGateSkip(2, skip_channels=2, up_channels=2, coarse_channels=2, norm=None)
        with torch.no_grad():
            gate.psi.weight.zero_()
            gate.psi.bias.fill_(-20.0)
        with torch.no_grad():
            alpha = gate.attention(torch.randn(1, 2, 8, 8), torch.randn(1, 2, 4, 4))
        self.assertLess(float(alpha.max()), 1e-6)


class TestDownUp(unittest.TestCase):
    @parameterized.expand([[name] for name in DOWN_OPS.names()])
    def test_down_halves(self, name):
        op = DOWN_OPS.build(name, spatial_dims=3, channels=4)
        y = op(torch.zeros(1, 4, 8, 6, 10))
        self.assertEqual(tuple(y.shape), (1, 4, 4, 3, 5))
        self.assertEqual(op.out_size(8), 4)

    @parameterized.expand([[name] for name in DOWN_OPS.names()])
    def test_down_per_axis_stride(self, name):
        op = DOWN_OPS.build(name, spatial_dims=3, channels=4, stride=(2, 2, 1))
        self.assertEqual(tuple(op(torch.zeros(1, 4, 8, 6, 10)).shape), (1, 4, 4, 3, 10))
        self.assertEqual([op.out_size(8, 0), op.out_size(10, 2)], [4, 10])

    @parameterized.expand([[name] for name in UP_OPS.names()])
    def test_up_per_axis_stride(self, name):
        op = UP_OPS.build(name, spatial_dims=3, in_channels=4, out_channels=2, stride=[1, 2, 2])
        self.assertEqual(tuple(op(torch.zeros(1, 4, 5, 3, 2)).shape), (1, 2, 5, 6, 4))

    @parameterized.expand([[name] for name in UP_OPS.names()])
    def test_up_doubles(self, name):
        op = UP_OPS.build(name, spatial_dims=2, in_channels=4, out_channels=2)
        self.assertEqual(tuple(op(torch.zeros(1, 4, 5, 3)).shape), (1, 2, 10, 6))

    def test_bad_upsample_mode(self):
        with self.assertRaisesRegex(ValueError, "nearest, linear"):
            UP_OPS.build("upsample_conv", spatial_dims=2, in_channels=4, out_channels=2, mode="cubic")


class TestMatchSize(unittest.TestCase):
    def test_pad_and_crop_per_axis(self):
        x = torch.ones(1, 1, 5, 8)
        y = match_size(x, [7, 6])
        self.assertEqual(tuple(y.shape), (1, 1, 7, 6))
        self.assertEqual(float(y[0, 0, 0].sum()), 0.0)  # padded row
        self.assertEqual(float(y[0, 0, 1].sum()), 6.0)


if __name__ == "__main__":
    unittest.main()
