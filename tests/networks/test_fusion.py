"""The inference copy of a network: batch norm folded into its convolution, activations in place, same outputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from networks import ModularUNet
from networks.fusion import fuse_for_inference
from tests.networks.tester import check_fusion


def trained(net: nn.Module, in_channels: int, size: tuple[int, ...]) -> nn.Module:
    """A few training steps, so that the batch norms' running statistics are not their initial 0 / 1."""
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(3):
        loss = net.train()(torch.randn(2, in_channels, *size) * 3 + 1).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net


@pytest.mark.parametrize("dims", [2, 3])
def test_batch_norm_is_folded_and_outputs_agree(dims):
    torch.manual_seed(0)
    size = (24,) * dims
    net = trained(ModularUNet(spatial_dims=dims, in_channels=2, out_channels=3, features=4, depth=2, act="relu"), 2, size)
    batch_norms = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())
    counts = check_fusion(net, 2, size)
    fused, _ = fuse_for_inference(net)
    assert counts == {"folded": batch_norms, "inplace": batch_norms}, "every conv-norm-act unit of the U-Net"
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in fused.modules())
    assert all(m.inplace for m in fused.modules() if isinstance(m, nn.ReLU))
    assert not any(m.inplace for m in net.modules() if isinstance(m, nn.ReLU)), "the trained network keeps its layers"
    assert not fused.training and all(p.data_ptr() != q.data_ptr() for p, q in zip(fused.parameters(), net.parameters()))


def test_instance_norm_is_not_folded_but_the_activation_runs_in_place():
    torch.manual_seed(0)
    net = ModularUNet(spatial_dims=2, in_channels=1, out_channels=2, features=4, depth=2, norm="instance", act="leakyrelu")
    counts = check_fusion(net, 1, (20, 20))
    assert counts["folded"] == 0 and counts["inplace"] > 0


def test_transposed_convolution_with_batch_norm_folds_too():
    from monai.networks.blocks import Convolution

    torch.manual_seed(0)
    up = Convolution(2, 3, 5, strides=2, kernel_size=3, is_transposed=True, act="relu", norm="batch", adn_ordering="NA")
    up = trained(up, 3, (8, 8))
    counts = check_fusion(up, 3, (8, 8))
    assert counts == {"folded": 1, "inplace": 1}


def test_a_network_in_training_mode_is_fused_from_its_running_statistics():
    """Fusing reads the running statistics (eval semantics) even when the network was left in training mode."""
    torch.manual_seed(0)
    net = trained(ModularUNet(spatial_dims=2, in_channels=1, out_channels=1, features=4, depth=1), 1, (16, 16))
    assert net.training
    check_fusion(net, 1, (16, 16))
    assert net.training, "the caller's mode is kept"
