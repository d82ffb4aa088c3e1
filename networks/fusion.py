"""An inference copy of a network: batch norm folded into the convolution before it, activations in place.

In evaluation mode a batch norm is a fixed per-channel affine map, so it can be folded into the weights and bias of
the convolution that feeds it (PyTorch's :func:`torch.nn.utils.fusion.fuse_conv_bn_eval`), and an activation whose
input nothing else reads can overwrite that input. Both save memory traffic of full-resolution feature maps: on
the 8.5 M U-Net of bundles/unet (bf16, channels-last, 2-core CPU) the network stage of one BraTS-sized volume took
1.79 s instead of 1.90 s (docs/benchmarks.md, "Inference with the foreground crop"). The training network is never
changed: evaluators run a fused copy (:class:`engines.precision.MixedPrecisionEvaluator`, ``fuse``).

Only the pattern MONAI's :class:`~monai.networks.blocks.Convolution` builds is rewritten (every ConvBlock of
:mod:`networks.blocks` is made of them): ``conv`` followed by an ``adn`` whose first layer is the norm. There the
convolution's output feeds only the norm, and the norm's output only the activation, so the rewrite cannot change
what any other layer reads.
"""

from __future__ import annotations

import copy

import torch
from monai.networks.blocks import ADN, Convolution
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["fuse_for_inference", "INPLACE_ACTIVATIONS", "unwrap_ddp"]

# activations with an ``inplace`` flag that compute the same in place
INPLACE_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.Hardtanh, nn.SiLU, nn.Hardswish, nn.Mish)


def unwrap_ddp(network: nn.Module) -> nn.Module:
    """The module inside a ``DistributedDataParallel`` wrapper, else ``network`` itself."""
    return network.module if isinstance(network, nn.parallel.DistributedDataParallel) else network


def fuse_for_inference(network: nn.Module) -> tuple[nn.Module, dict[str, int]]:
    """A copy of ``network`` in evaluation mode with batch norms folded into their convolutions and the
    activations after them in place; ``network`` itself is not changed.

    Folded: a MONAI ``Convolution`` whose ``adn`` starts with a batch norm that has running statistics (the norm
    becomes ``nn.Identity``; transposed convolutions too). In place: the activation of such an ``adn`` when it comes
    right after the norm (ordering ``"NA..."``, any norm) or first (``"A..."``); instance and group norms are not
    folded (they depend on the input). A ``DistributedDataParallel`` wrapper is dropped (inference needs no gradient
    sync; the caller syncs buffers first if the ranks must agree, as the evaluator does).

    Args:
        network: any module; parts that do not match the pattern are copied unchanged.

    Returns:
        ``(copy, {"folded": n, "inplace": m})``. Outputs equal the original's in evaluation mode up to float rounding.

    Shape:
        as ``network``.
    """
    fused = copy.deepcopy(unwrap_ddp(network)).eval()
    counts = {"folded": 0, "inplace": 0}
    for module in fused.modules():
        if not isinstance(module, Convolution) or not isinstance(getattr(module, "adn", None), ADN):
            continue
        adn, conv = module.adn, module.conv
        layers = list(adn.named_children())
        if not layers:
            continue
        name, first = layers[0]
        foldable = isinstance(first, _BatchNorm) and first.track_running_stats and first.running_mean is not None
        if name == "N" and foldable and isinstance(conv, _ConvNd):
            module.conv = fuse_conv_bn_eval(conv, first, transpose=bool(conv.transposed))
            setattr(adn, "N", nn.Identity())
            counts["folded"] += 1
        if name == "N":  # the norm's output feeds only what follows it in the adn
            layers = layers[1:]
        if layers and layers[0][0] == "A" and isinstance(layers[0][1], INPLACE_ACTIVATIONS):
            layers[0][1].inplace = True
            counts["inplace"] += 1
    return fused, counts
