"""Parameter budget: every seed-000 variant at 8.5 M parameters within 1 %."""

from __future__ import annotations

import unittest

import torch
from parameterized import parameterized

from networks import ModularUNet, budgeted_modular_unet, count_parameters, solve_width

# the variants of the bundles (bundles/<name>/configs/train.yaml declare the same slots)
VARIANTS = {
    "unet": {},
    "attention_unet": {"skip": "attention"},
    "nas_unet": {"conv_block": "nasnet_normal"},
    "nas_reduction_unet": {"down_conv_block": "nasnet_reduction", "up_conv_block": "nasnet_normal", "down": "reduction_cell"},
    "efficient_unet": {"conv_block": "mbconv", "act": "swish"},
    "residual_unet": {"conv_block": "residual"},
}


class TestBudget(unittest.TestCase):
    @parameterized.expand([[k, v] for k, v in VARIANTS.items()])
    def test_variant_at_8_5_million(self, _, slots):
        with torch.device("meta"):
            net = budgeted_modular_unet(target_params=8_500_000, in_channels=4, out_channels=1, **slots)
        self.assertLess(abs(count_parameters(net) - 8_500_000) / 8_500_000, 0.01)

    @parameterized.expand([["unet", {}], ["nas_unet", {"conv_block": "nasnet_normal"}]])
    def test_deep_supervision_heads_inside_the_budget(self, _, slots):
        # the heads are counted: the solved width shrinks a little and the total still hits the target
        with torch.device("meta"):
            net = budgeted_modular_unet(target_params=8_500_000, in_channels=4, out_channels=3, deep_supervision=True, **slots)
        self.assertEqual(len(net.ds_heads), 3)
        self.assertLess(abs(count_parameters(net) - 8_500_000) / 8_500_000, 0.01)
        heads = sum(count_parameters(h) for h in net.ds_heads)
        self.assertEqual(heads, sum((f + 1) * 3 for f in net.features[1:4]))

    def test_none_keeps_the_given_width(self):
        net = budgeted_modular_unet(target_params=None, features=3, depth=2)
        self.assertEqual(net.features, [3, 6, 12])

    def test_small_target_and_tolerance(self):
        width, n = solve_width(lambda w: ModularUNet(features=w, depth=2), 20_000, tolerance=0.01)
        self.assertLess(abs(n - 20_000) / 20_000, 0.01)
        self.assertEqual(count_parameters(ModularUNet(features=width, depth=2)), n)

    def test_unreachable_target(self):
        with self.assertRaisesRegex(ValueError, "outside"):
            solve_width(lambda w: ModularUNet(features=w, depth=1), 10, low=1.0, high=2.0)

    def test_tolerance_too_tight(self):
        with self.assertRaisesRegex(ValueError, "tolerance"):
            solve_width(lambda w: ModularUNet(features=w, depth=1), 1_001, tolerance=1e-9)


if __name__ == "__main__":
    unittest.main()
