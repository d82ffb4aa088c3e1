"""UNet++ family, the improved-skip U-Net and FCN-8s through the shared tester, with exact parameter counts."""

from __future__ import annotations

import unittest

import torch
from parameterized import parameterized

from networks import FCN8s, ModularUNet, UNetPlusPlus, count_parameters, improved_skip_unet
from tests.networks.tester import check_network

SIZES = {2: (35, 33), 3: (17, 19, 15)}
SMALL_VGG = dict(stages=((4, 2), (4, 2), (8, 3), (8, 3), (8, 3)), fc_channels=8, fc_kernel=3)


class TestUNetPlusPlus(unittest.TestCase):
    @parameterized.expand([[v, b] for v in ("nested", "plus", "ensemble") for b in ("double_conv", "residual")])
    def test_shared_tester(self, variant, block):
        kwargs = dict(in_channels=2, out_channels=3, features=4, depth=3, variant=variant, conv_block=block,
                      deep_supervision=True)
        check_network(UNetPlusPlus, kwargs, SIZES, 2, 3, heads=3)

    def test_deep_supervision_stacks_heads_in_training(self):
        net = UNetPlusPlus(in_channels=1, out_channels=2, features=2, depth=3)
        self.assertEqual(tuple(net.train()(torch.zeros(2, 1, 16, 16)).shape), (2, 3, 2, 16, 16))
        self.assertEqual(tuple(net.eval()(torch.zeros(2, 1, 16, 16)).shape), (2, 2, 16, 16))

    @staticmethod
    def _heads(net: UNetPlusPlus, x: torch.Tensor) -> torch.Tensor:
        """All heads from an eval-mode net: only the top-level flag says "training" (batch norm stays in eval)."""
        net.training = True
        try:
            return net(x)
        finally:
            net.training = False

    def test_accurate_mode_is_the_mean_of_the_heads(self):
        torch.manual_seed(0)
        net = UNetPlusPlus(in_channels=1, features=2, depth=3).eval()
        x = torch.randn(1, 1, 16, 16)
        with torch.no_grad():
            heads = self._heads(net, x)
            torch.testing.assert_close(net(x), heads.mean(dim=1))

    @parameterized.expand([[1], [2], [3]])
    def test_fast_mode_equals_that_head_and_skips_deeper_nodes(self, level):
        torch.manual_seed(0)
        net = UNetPlusPlus(in_channels=1, features=2, depth=3).eval()
        x = torch.randn(1, 1, 16, 16)
        calls = []
        with torch.no_grad():
            heads = self._heads(net, x)
            net.set_inference_mode("fast", level)
            hooks = [n.register_forward_hook(lambda *_: calls.append(1)) for n in [*net.nodes, *net.encoder]]
            pruned = net(x)
        for h in hooks:
            h.remove()
        torch.testing.assert_close(pruned, heads[:, level - 1])
        # decoder nodes x^{i,j} with i + j <= level (j >= 1) and encoder levels 1..level
        self.assertEqual(len(calls), level * (level + 1) // 2 + level)

    def test_parameter_count(self):
        # Zhou et al. 2018 (Table 1) report 9.04 M for UNet++ at width 32, depth 4
        self.assertEqual(count_parameters(UNetPlusPlus(in_channels=1, features=32, depth=4)), 9_048_996)
        self.assertEqual(count_parameters(UNetPlusPlus(in_channels=1, features=32, depth=4, variant="plus")), 8_735_652)

    def test_checkpoint_loads_with_and_without_deep_supervision(self):
        a = UNetPlusPlus(in_channels=1, features=2, depth=2, deep_supervision=True)
        b = UNetPlusPlus(in_channels=1, features=2, depth=2, deep_supervision=False)
        b.load_state_dict(a.state_dict())

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "valid names: ensemble, plus, nested"):
            UNetPlusPlus(variant="dense")
        with self.assertRaisesRegex(ValueError, "prune_level must be in 1..2"):
            UNetPlusPlus(depth=2, features=2, mode="fast", prune_level=3)
        with self.assertRaisesRegex(ValueError, "valid names: accurate, fast"):
            UNetPlusPlus(depth=2, features=2).set_inference_mode("pruned")


class TestImprovedSkip(unittest.TestCase):
    def test_exact_counts_of_seed_004(self):
        self.assertEqual(count_parameters(improved_skip_unet("ours2", in_channels=1, features=32, depth=4)), 7_765_409)
        self.assertEqual(count_parameters(improved_skip_unet("ours1", in_channels=1, features=32, depth=4)), 8_289_697)

    @parameterized.expand([["ours1"], ["ours2"]])
    def test_shared_tester(self, variant):
        check_network(improved_skip_unet, dict(variant=variant, in_channels=1, out_channels=2, features=3, depth=2), SIZES, 1, 2)

    def test_skip_is_taken_after_the_first_convolution(self):
        net = improved_skip_unet("ours2", in_channels=1, features=2, depth=1, dropout=0.0).eval()
        seen = {}
        net.decoder[0].skip.register_forward_hook(lambda m, args, out: seen.update(skip=args[1]))
        x = torch.randn(1, 1, 8, 8)
        with torch.no_grad():
            net(x)
            first = net.encoder[0].first(x)
        torch.testing.assert_close(seen["skip"], first)

    def test_valid_padding_with_first_conv_tap(self):
        net = ModularUNet(in_channels=1, features=2, depth=2, padding="valid", skip_tap="first_conv", bottom_concat=True)
        n = net.input_size_for(12)
        self.assertEqual(tuple(net(torch.zeros(1, 1, n, n)).shape[2:]), net.output_size((n, n)))

    def test_needs_a_sequential_block(self):
        with self.assertRaisesRegex(ValueError, "skip_tap='first_conv' needs a ConvBlock made of a sequence.*NASNetNormalCell"):
            ModularUNet(features=2, depth=1, conv_block="nasnet_normal", skip_tap="first_conv")
        with self.assertRaisesRegex(ValueError, "valid names: ours1, ours2"):
            improved_skip_unet("ours3")


class TestFCN8s(unittest.TestCase):
    def test_shared_tester(self):
        check_network(FCN8s, dict(in_channels=1, out_channels=2, **SMALL_VGG), {2: (67, 64), 3: (33, 32, 35)}, 1, 2)

    def test_parameter_counts(self):
        with torch.device("meta"):
            # the paper's FCN-8s (3 channels, 21 PASCAL classes): 134.5 M; seed 004 reports 143,667,240 (see docstring)
            self.assertEqual(count_parameters(FCN8s(in_channels=3, out_channels=21)), 134_489_759)
            self.assertEqual(count_parameters(FCN8s(in_channels=1, out_channels=2)), 134_270_278)

    def test_needs_five_stages(self):
        with self.assertRaisesRegex(ValueError, "five encoder stages"):
            FCN8s(stages=((4, 2),) * 4)


if __name__ == "__main__":
    unittest.main()
