"""One shared tester for every network: 2D and 3D, odd sizes, forward/backward, output shape, the inference copy
(batch norm folded), TorchScript.

A network's test file only names the constructor and its arguments (segmentation_models_pytorch's
``BaseModelTester`` idea); all checks live here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from networks import count_parameters


def run_forward_backward(net: nn.Module, in_channels: int, size: Sequence[int], batch: int = 2) -> torch.Tensor:
    """One forward and backward pass in train mode; every trainable parameter must get a finite gradient."""
    net.train()
    x = torch.randn(batch, in_channels, *size)
    y = net(x)
    y.float().pow(2).mean().backward()
    missing = [n for n, p in net.named_parameters() if p.requires_grad and (p.grad is None or not torch.isfinite(p.grad).all())]
    assert not missing, f"parameters without a finite gradient: {missing[:5]}"
    return y


def check_torchscript(net: nn.Module, in_channels: int, size: Sequence[int], atol: float = 1e-5) -> None:
    """Scripted and eager outputs agree in eval mode, also after a save/load round trip."""
    import io

    net.eval()
    x = torch.randn(1, in_channels, *size)
    scripted = torch.jit.script(net)
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    with torch.no_grad():
        expected = net(x)
        torch.testing.assert_close(scripted(x), expected, atol=atol, rtol=1e-4)
        torch.testing.assert_close(loaded(x), expected, atol=atol, rtol=1e-4)


def check_fusion(net: nn.Module, in_channels: int, size: Sequence[int]) -> dict[str, int]:
    """The inference copy (:func:`networks.fusion.fuse_for_inference`) computes the network's eval output, and the
    network itself (weights, buffers, modules, mode) is left exactly as it was."""
    from networks.fusion import fuse_for_inference

    mode = net.training
    before = {k: v.clone() for k, v in net.state_dict().items()}
    kinds = [type(m) for m in net.modules()]
    fused, counts = fuse_for_inference(net)
    x = torch.randn(1, in_channels, *size)
    with torch.no_grad():
        expected = net.eval()(x)
        got = fused(x)
    net.train(mode)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    assert [type(m) for m in net.modules()] == kinds and net.training == mode
    after = net.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    return counts


def check_network(
    build: Callable[..., nn.Module],
    kwargs: dict,
    sizes: dict[int, Sequence[int]],
    in_channels: int,
    out_channels: int,
    expected_size: Callable[[nn.Module, Sequence[int]], Sequence[int]] | None = None,
    script: bool = True,
    expected_params: int | None = None,
    heads: int | None = None,
) -> dict[int, nn.Module]:
    """Build ``build(spatial_dims=d, **kwargs)`` for every ``d`` in ``sizes`` and run every check.

    Args:
        build: network constructor.
        kwargs: constructor arguments other than ``spatial_dims``.
        sizes: input spatial size per number of spatial dimensions (use odd sizes).
        in_channels / out_channels: channel contract of the network.
        expected_size: output spatial size for an input size (default: same size).
        script: also check TorchScript.
        expected_params: exact parameter count of the 2D network, if known.
        heads: deep supervision: in training the output stacks this many heads on dim 1; in eval mode it must
            be one output ``(N, out_channels, *S')`` (validation and inference see no heads).
    """
    nets = {}
    for dims, size in sizes.items():
        torch.manual_seed(0)
        net = build(spatial_dims=dims, **kwargs)
        y = run_forward_backward(net, in_channels, size)
        out_size = list(expected_size(net, size) if expected_size else size)
        want = [2, *([heads] if heads else []), out_channels, *out_size]
        assert list(y.shape) == want, f"{dims}D: got {tuple(y.shape)}, want {want}"
        if heads:
            net.eval()
            with torch.no_grad():
                single = net(torch.randn(1, in_channels, *size))
            assert list(single.shape) == [1, out_channels, *out_size], f"{dims}D eval: got {tuple(single.shape)}"
        check_fusion(net, in_channels, size)
        if script:
            check_torchscript(net, in_channels, size)
        if expected_params is not None and dims == 2:
            assert count_parameters(net) == expected_params
        nets[dims] = net
    return nets
