"""ModularUNet: every registered slot combination through the shared tester, with and without deep-supervision
heads; exact 2015 parameter counts; valid-padding size arithmetic; errors that list the valid names."""

from __future__ import annotations

import itertools
import unittest

import torch
from parameterized import parameterized

from networks import CONV_BLOCKS, DOWN_OPS, SKIPS, UP_OPS, ModularUNet, count_parameters
from tests.networks.tester import check_network, check_torchscript, run_forward_backward

SAME_SIZES = {2: (35, 33), 3: (19, 17, 21)}
TINY = dict(in_channels=2, out_channels=3, features=4, depth=2)
DS_SIZES = {2: (21, 19), 3: (13, 15, 13)}  # smaller than SAME_SIZES: the plain run above covers the larger ones
DS = dict(deep_supervision=True)  # depth 2: one extra head (level 1) + the final output

# every registered combination (forward, backward, output shape in 2D and 3D at odd sizes)
ALL_COMBINATIONS = [
    [f"{c}-{s}-{d}-{u}", dict(conv_block=c, skip=s, down=d, up=u)]
    for c, s, d, u in itertools.product(CONV_BLOCKS.names(), SKIPS.names(), DOWN_OPS.names(), UP_OPS.names())
]
# TorchScript for each registered module (one slot varied at a time from the plain U-Net)
ONE_AT_A_TIME = (
    [[f"block-{c}", dict(conv_block=c)] for c in CONV_BLOCKS.names()]
    + [[f"skip-{s}", dict(skip=s)] for s in SKIPS.names()]
    + [[f"down-{d}", dict(down=d)] for d in DOWN_OPS.names()]
    + [[f"up-{u}", dict(up=u)] for u in UP_OPS.names()]
    + [["nas_reduction", dict(down_conv_block="nasnet_reduction", up_conv_block="nasnet_normal", down="reduction_cell")]]
    + [["prelu-instance-dropout", dict(act="prelu", norm="instance", dropout=0.3)]]
    + [["upsample-linear", dict(up="upsample_conv", up_kwargs={"mode": "linear"})]]
)
VALID_BLOCKS = ["double_conv", "residual"]
# per-axis strides (nnU-Net's anisotropic pooling): the third axis pooled only at the second level; inputs are
# multiples of the total strides (4, 4, 2) and (4, 2)
STRIDES = {3: [[2, 2, 1], [2, 2, 2]], 2: [[2, 1], [2, 2]]}
STRIDE_SIZES = {3: (16, 16, 8), 2: (16, 8)}


class TestEveryCombination(unittest.TestCase):
    @parameterized.expand(ALL_COMBINATIONS)
    def test_forward_backward_2d_3d_and_script(self, _, slots):
        # TorchScript of every combination in 2D (3D scripting: one slot at a time below, to keep the suite fast)
        check_network(ModularUNet, {**TINY, **slots}, {2: SAME_SIZES[2]}, 2, 3, script=True)
        check_network(ModularUNet, {**TINY, **slots}, {3: SAME_SIZES[3]}, 2, 3, script=False)

    # the heads read the decoder's outputs, whatever module made them: every registered module once (one slot
    # varied at a time), not every combination
    @parameterized.expand(ONE_AT_A_TIME)
    def test_deep_supervision_2d_3d(self, _, slots):
        # heads stacked in training (every head gets a gradient), one output in eval mode
        check_network(ModularUNet, {**TINY, **DS, **slots}, DS_SIZES, 2, 3, script=False, heads=2)

    @parameterized.expand(ONE_AT_A_TIME)
    def test_torchscript(self, _, slots):
        check_network(ModularUNet, {**TINY, **slots}, {2: (33, 35), 3: (17, 19, 15)}, 2, 3, script=True)

    # the heads' code does not depend on the slots (scripting every module: test_torchscript): two cases
    @parameterized.expand([["plain", {}], *[c for c in ONE_AT_A_TIME if c[0] == "nas_reduction"]])
    def test_torchscript_deep_supervision(self, _, slots):
        # 2D: depth 3, two extra heads (levels 2 and 1); 3D: depth 2, one; odd sizes; scripted = final output
        kwargs = {**TINY, **DS, **slots}
        check_network(ModularUNet, {**kwargs, "depth": 3, "deep_supr_num": 2}, {2: (33, 35)}, 2, 3, script=True, heads=3)
        check_network(ModularUNet, kwargs, {3: (17, 19, 15)}, 2, 3, script=True, heads=2)

    @parameterized.expand([[b, s] for b in VALID_BLOCKS for s in SKIPS.names()])
    def test_valid_padding(self, block, skip):
        def expected(net, size):
            return net.output_size(tuple(size))

        net = ModularUNet(spatial_dims=2, padding="valid", conv_block=block, skip=skip, **TINY)
        sizes = {2: (net.input_size_for(17), net.input_size_for(21)), 3: (net.input_size_for(9),) * 3}
        check_network(ModularUNet, {**TINY, "padding": "valid", "conv_block": block, "skip": skip}, sizes, 2, 3, expected)


class TestPerAxisStrides(unittest.TestCase):
    # every registered module of every slot (one slot varied at a time; TorchScript included), 2D and 3D
    @parameterized.expand(ONE_AT_A_TIME)
    def test_output_shape_equals_input_shape(self, _, slots):
        for dims in (2, 3):
            net = check_network(
                ModularUNet, {**TINY, **slots, "strides": STRIDES[dims]}, {dims: STRIDE_SIZES[dims]}, 2, 3,
                script=True,
            )[dims]
            self.assertEqual(net.strides, [tuple(s) for s in STRIDES[dims]])

    # every combination of slots, 3D, forward/backward only (each module's TorchScript: above)
    @parameterized.expand(ALL_COMBINATIONS)
    def test_every_combination_3d(self, _, slots):
        check_network(ModularUNet, {**TINY, **slots, "strides": STRIDES[3]}, {3: STRIDE_SIZES[3]}, 2, 3, script=False)

    def test_feature_maps_follow_the_strides(self):
        net = ModularUNet(spatial_dims=3, strides=STRIDES[3], **TINY)
        shapes = []
        net.encoder[0].down.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[2:])))
        net.encoder[1].down.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[2:])))
        net(torch.zeros(1, 2, 16, 16, 8))
        self.assertEqual(shapes, [(8, 8, 8), (4, 4, 4)])

    def test_deep_supervision_heads(self):
        check_network(ModularUNet, {**TINY, **DS, "strides": STRIDES[3]}, {3: STRIDE_SIZES[3]}, 2, 3, script=False, heads=2)

    @parameterized.expand([["max_pool-transpose"], ["strided_conv-upsample"]])
    def test_none_is_two_everywhere(self, name):
        # the default builds the same modules as explicit 2s: same parameters, same outputs (the seeds' networks)
        slots = dict(down="max_pool", up="transpose_conv") if name.startswith("max") else dict(
            down="strided_conv", up="upsample_conv", skip="attention")
        torch.manual_seed(0)
        default = ModularUNet(spatial_dims=3, **TINY, **slots).eval()
        torch.manual_seed(0)
        explicit = ModularUNet(spatial_dims=3, strides=[2, [2, 2, 2]], **TINY, **slots).eval()
        self.assertEqual(count_parameters(default), count_parameters(explicit))
        x = torch.randn(1, 2, 12, 12, 12)
        with torch.no_grad():
            torch.testing.assert_close(default(x), explicit(x), rtol=0, atol=0)

    def test_valid_padding_arithmetic(self):
        net = ModularUNet(spatial_dims=3, strides=STRIDES[3], padding="valid", **TINY)
        size = net.input_size_for((12, 12, 6))
        self.assertNotEqual(size[0], size[2])  # the third axis is pooled once, not twice
        with torch.no_grad():
            y = net(torch.zeros(1, 2, *size))
        self.assertEqual(tuple(y.shape[2:]), net.output_size(size))
        self.assertTrue(all(o >= w for o, w in zip(net.output_size(size), (12, 12, 6))))

    def test_bad_strides(self):
        with self.assertRaisesRegex(ValueError, "one stride per level \\(depth=2 entries"):
            ModularUNet(spatial_dims=3, strides=[[2, 2, 1]], **TINY)
        with self.assertRaisesRegex(ValueError, "strides\\[0\\] must be a positive int or 3 positive ints"):
            ModularUNet(spatial_dims=3, strides=[[2, 2], [2, 2, 2]], **TINY)

    def test_slot_without_stride_is_refused(self):
        from networks.blocks import MaxPoolDown

        def isotropic_pool(spatial_dims, channels, **_):
            return MaxPoolDown(spatial_dims=spatial_dims, channels=channels)

        with self.assertRaises(ValueError) as ctx:
            ModularUNet(spatial_dims=3, strides=STRIDES[3], down=isotropic_pool, **TINY)
        msg = str(ctx.exception)
        self.assertIn("DownOp 'isotropic_pool' cannot follow per-axis strides", msg)
        self.assertIn("max_pool, reduction_cell, strided_conv", msg)
        # without strides the same custom slot works as before
        ModularUNet(spatial_dims=3, down=isotropic_pool, **TINY)


KERNELS = [[3, 3, 1], [3, 3, 3], [3, 3, 3]]  # nnU-Net's for 0.9 x 0.9 x 3 mm: 1 along z at level 0


class TestPerLevelKernels(unittest.TestCase):
    @parameterized.expand([[b] for b in CONV_BLOCKS.names_with("kernel_size")])
    def test_kernels_per_level_and_axis(self, block):
        kwargs = {**TINY, "conv_block": block, "strides": STRIDES[3], "kernel_sizes": KERNELS}
        net = check_network(ModularUNet, kwargs, {3: STRIDE_SIZES[3]}, 2, 3, script=True)[3]
        first = [m for m in net.encoder[0].modules() if isinstance(m, torch.nn.Conv3d) and m.kernel_size != (1, 1, 1)]
        bottom = [m for m in net.bottom.modules() if isinstance(m, torch.nn.Conv3d) and m.kernel_size != (1, 1, 1)]
        last = [m for m in net.decoder[-1].block.modules() if isinstance(m, torch.nn.Conv3d) and m.kernel_size != (1, 1, 1)]
        self.assertTrue(first and last and all(m.kernel_size == (3, 3, 1) for m in first + last))
        self.assertTrue(bottom and all(m.kernel_size == (3, 3, 3) for m in bottom))

    def test_supported_kernel_sizes_for_a_bundle(self):
        from networks import supported_kernel_sizes

        self.assertEqual(supported_kernel_sizes(KERNELS, "double_conv", None, "residual"), KERNELS)
        with self.assertLogs("networks.nets.modular_unet", level="INFO") as logs:
            self.assertIsNone(supported_kernel_sizes(KERNELS, "double_conv", "nasnet_reduction", "nasnet_normal"))
        self.assertIn("nasnet_reduction", logs.output[0])
        self.assertIsNone(supported_kernel_sizes(None, "double_conv"))

    def test_threes_are_the_default(self):
        torch.manual_seed(0)
        default = ModularUNet(spatial_dims=3, **TINY).eval()
        torch.manual_seed(0)
        explicit = ModularUNet(spatial_dims=3, kernel_sizes=[3, 3, [3, 3, 3]], **TINY).eval()
        x = torch.randn(1, 2, 8, 8, 8)
        with torch.no_grad():
            torch.testing.assert_close(default(x), explicit(x), rtol=0, atol=0)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "ConvBlock 'nasnet_normal' cannot follow kernel_sizes.*double_conv, mbconv, residual"):
            ModularUNet(spatial_dims=3, conv_block="nasnet_normal", kernel_sizes=KERNELS, **TINY)
        with self.assertRaisesRegex(ValueError, "depth \\+ 1 = 3 entries"):
            ModularUNet(spatial_dims=3, kernel_sizes=KERNELS[:2], **TINY)
        with self.assertRaisesRegex(ValueError, "must be odd"):
            ModularUNet(spatial_dims=3, kernel_sizes=[[3, 3, 2], 3, 3], **TINY)
        with self.assertRaisesRegex(ValueError, "not both"):
            ModularUNet(spatial_dims=3, kernel_sizes=KERNELS, block_kwargs={"kernel_size": 5}, **TINY)
        with self.assertRaisesRegex(ValueError, "a kernel per axis .* needs padding='same'"):
            ModularUNet(spatial_dims=3, kernel_sizes=KERNELS, padding="valid", **TINY)


class TestDeepSupervision(unittest.TestCase):
    def _train_outputs_with_eval_submodules(self, net, x):
        # top-level training flag on, every submodule in eval (batch norm on running statistics): the stacked
        # heads and the eval output come from the same weights and statistics
        net.eval()
        with torch.no_grad():
            single = net(x)
            net.training = True
            stacked = net(x)
            net.training = False
        return stacked, single

    def test_final_head_is_the_eval_output_and_heads_are_coarse(self):
        torch.manual_seed(0)
        net = ModularUNet(spatial_dims=2, in_channels=1, out_channels=2, features=4, depth=3, deep_supervision=True)
        self.assertEqual(net.deep_supr_num, 2)  # default: every decoder level above the final one (nnU-Net)
        x = torch.randn(1, 1, 32, 24)
        stacked, single = self._train_outputs_with_eval_submodules(net, x)
        self.assertEqual(tuple(stacked.shape), (1, 3, 2, 32, 24))
        torch.testing.assert_close(stacked[:, -1], single)
        # head 0 sits on level 2 (1/4 resolution), head 1 on level 1 (1/2): nearest upsampling repeats blocks
        for head, factor in ((0, 4), (1, 2)):
            coarse = stacked[:, head, :, ::factor, ::factor]
            up = coarse.repeat_interleave(factor, dim=-1).repeat_interleave(factor, dim=-2)
            torch.testing.assert_close(stacked[:, head], up)
            self.assertFalse(torch.equal(stacked[:, head], single))

    def test_off_by_default_adds_no_parameters(self):
        plain = ModularUNet(in_channels=1, out_channels=3, features=4, depth=3)
        heads = ModularUNet(in_channels=1, out_channels=3, features=4, depth=3, deep_supervision=True)
        self.assertEqual(plain.deep_supr_num, 0)
        self.assertNotIn("ds_heads.0.weight", plain.state_dict())
        # one 1x1 conv per head: (F_i + 1) * out_channels, levels 2 and 1 (F = 16, 8)
        self.assertEqual(count_parameters(heads) - count_parameters(plain), (16 + 1) * 3 + (8 + 1) * 3)

    def test_eval_output_is_the_plain_network_with_the_same_weights(self):
        torch.manual_seed(0)
        heads = ModularUNet(in_channels=1, features=4, depth=2, deep_supervision=True).eval()
        plain = ModularUNet(in_channels=1, features=4, depth=2).eval()
        plain.load_state_dict({k: v for k, v in heads.state_dict().items() if not k.startswith("ds_heads.")})
        x = torch.randn(2, 1, 16, 16)
        with torch.no_grad():
            torch.testing.assert_close(heads(x), plain(x))

    def test_checkpoint_with_heads_loads_into_a_network_without(self):
        torch.manual_seed(0)
        heads = ModularUNet(in_channels=1, features=4, depth=3, deep_supervision=True).eval()
        plain = ModularUNet(in_channels=1, features=4, depth=3).eval()
        plain.load_state_dict(heads.state_dict())  # strict: the heads' entries are dropped, nothing else
        x = torch.randn(1, 1, 16, 16)
        with torch.no_grad():
            torch.testing.assert_close(plain(x), heads(x))
        with self.assertRaisesRegex(RuntimeError, "Missing key.*ds_heads.0.weight"):  # the reverse is an error
            ModularUNet(in_channels=1, features=4, depth=3, deep_supervision=True).load_state_dict(plain.state_dict())
        wrapped = torch.nn.Sequential(plain)  # under a prefix too
        wrapped.load_state_dict({f"0.{k}": v for k, v in heads.state_dict().items()})
        with self.assertRaisesRegex(RuntimeError, "Unexpected key.*head.bogus"):  # other unknown keys still fail
            plain.load_state_dict({**heads.state_dict(), "head.bogus": torch.zeros(1)})

    @parameterized.expand([["ours1_bottom_concat", dict(bottom_concat=True)], ["ours2_first_conv_tap", dict(skip_tap="first_conv")]])
    def test_improved_skip_taps_with_heads(self, _, taps):
        check_network(ModularUNet, {**TINY, "depth": 3, **DS, **taps}, {2: (33, 35), 3: (16, 17, 19)}, 2, 3, script=False, heads=3)

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "deep_supr_num must be in 1..depth - 1 = 2"):
            ModularUNet(features=2, depth=3, deep_supervision=True, deep_supr_num=3)
        with self.assertRaisesRegex(ValueError, "depth 1 has no such level"):
            ModularUNet(features=2, depth=1, deep_supervision=True, deep_supr_num=1)
        with self.assertRaisesRegex(ValueError, "needs padding='same'"):
            ModularUNet(features=2, depth=2, padding="valid", deep_supervision=True)

    def test_depth_1_by_default_has_no_head_and_returns_the_plain_output(self):
        # the generic path switches deep supervision on for every plan; a depth-1 plan has no level to supervise
        net = ModularUNet(spatial_dims=3, in_channels=1, out_channels=2, features=2, depth=1, deep_supervision=True)
        self.assertEqual((net.deep_supr_num, len(net.ds_heads)), (0, 0))
        y = run_forward_backward(net, 1, (6, 5, 4))
        self.assertEqual(tuple(y.shape), (2, 2, 6, 5, 4))


class TestExactParameterCounts(unittest.TestCase):
    def test_classic_2015_unet(self):
        """Seed 004 Table 2 "U-Net": no norm, ReLU, concat, max pool, transpose conv, width 32, depth 4."""
        net = ModularUNet(in_channels=1, out_channels=1, features=32, depth=4, norm=None, act="relu")
        self.assertEqual(count_parameters(net), 7_759_521)

    def test_classic_with_batch_norm(self):
        net = ModularUNet(in_channels=1, out_channels=1, features=32, depth=4, norm="batch")
        self.assertEqual(count_parameters(net), 7_765_409)

    def test_norm_none_string_is_no_normalisation(self):
        net = ModularUNet(in_channels=1, norm="none")
        self.assertEqual(count_parameters(net), 7_759_521)

    def test_prelu_adds_one_parameter_per_activation(self):
        relu = count_parameters(ModularUNet(in_channels=1, norm=None, act="relu"))
        prelu = count_parameters(ModularUNet(in_channels=1, norm=None, act="prelu"))
        self.assertEqual(prelu - relu, 18)  # 9 double convs x 2 convs, one shared slope each


class TestValidPaddingArithmetic(unittest.TestCase):
    def setUp(self):
        self.net = ModularUNet(in_channels=1, norm=None, padding="valid")

    def test_2015_sizes(self):
        self.assertEqual(self.net.output_size(572), 388)
        self.assertEqual(self.net.input_size_for(388), 572)
        self.assertEqual(self.net.output_size((572, 572)), (388, 388))
        # overlap-tile for a 512 x 512 ISBI image needs a 700 x 700 input (seed 002)
        self.assertEqual(self.net.input_size_for(512), 700)
        self.assertGreaterEqual(self.net.output_size(700), 512)

    def test_real_output_matches_arithmetic(self):
        net = ModularUNet(spatial_dims=2, in_channels=1, features=2, depth=2, padding="valid")
        n = net.input_size_for(11)
        with torch.no_grad():
            y = net(torch.zeros(1, 1, n, n + 4))
        self.assertEqual(tuple(y.shape[2:]), net.output_size((n, n + 4)))

    def test_misaligned_size_is_rejected(self):
        with self.assertRaisesRegex(ValueError, "even size.*nearest usable input"):
            self.net.output_size(573)

    def test_same_padding_is_identity(self):
        net = ModularUNet(in_channels=1, features=2)
        self.assertEqual(net.output_size((37, 41)), (37, 41))
        self.assertEqual(net.input_size_for(37), 37)


class TestErrors(unittest.TestCase):
    @parameterized.expand(
        [
            ["conv_block", "ConvBlock", "double_conv, mbconv"],
            ["skip", "SkipConn", "attention, concat, none"],
            ["down", "DownOp", "max_pool, reduction_cell, strided_conv"],
            ["up", "UpOp", "transpose_conv, upsample_conv"],
        ]
    )
    def test_unknown_name_lists_valid_names(self, slot, label, listed):
        with self.assertRaises(ValueError) as ctx:
            ModularUNet(**{slot: "no_such_module"})
        self.assertIn(f"unknown {label} 'no_such_module'", str(ctx.exception))
        self.assertIn(listed, str(ctx.exception))

    @parameterized.expand([["nasnet_normal"], ["nasnet_reduction"], ["mbconv"]])
    def test_valid_padding_unsupported_blocks(self, block):
        with self.assertRaisesRegex(ValueError, f"{block} does not support padding='valid'"):
            ModularUNet(conv_block=block, padding="valid", features=2)

    def test_bad_features_length(self):
        with self.assertRaisesRegex(ValueError, "depth=4 needs depth \\+ 1 = 5"):
            ModularUNet(features=[8, 16, 32])

    def test_bad_dropout_length(self):
        with self.assertRaisesRegex(ValueError, "2 \\* depth \\+ 1 = 5"):
            ModularUNet(depth=2, features=2, dropout=[0.1, 0.2])

    def test_bad_padding(self):
        with self.assertRaisesRegex(ValueError, "supported: same, valid"):
            ModularUNet(padding="reflect")


class TestDropoutLayers(unittest.TestCase):
    def test_per_block_rates_set_the_number_of_dropout_layers(self):
        net = ModularUNet(depth=2, features=2, dropout=[0.0, 0.0, 0.5, 0.2, 0.0])
        rates = [m.p for m in net.modules() if isinstance(m, torch.nn.Dropout)]
        self.assertEqual(sorted(rates), [0.2, 0.2, 0.5, 0.5])  # bottom block 0.5 x2 convs, first decoder 0.2 x2

    def test_no_dropout_layer_when_zero(self):
        net = ModularUNet(depth=2, features=2)
        self.assertFalse(any(isinstance(m, torch.nn.Dropout) for m in net.modules()))


class TestCustomCallable(unittest.TestCase):
    def test_callable_instead_of_name(self):
        from networks.blocks import ResidualBlock

        net = ModularUNet(depth=2, features=3, conv_block=ResidualBlock, in_channels=1)
        y = run_forward_backward(net, 1, (16, 16))
        self.assertEqual(tuple(y.shape), (2, 1, 16, 16))
        check_torchscript(net, 1, (16, 16))


if __name__ == "__main__":
    unittest.main()
