"""FCN-8s (Long, Shelhamer & Darrell 2015, "Fully Convolutional Networks for Semantic Segmentation", CVPR),
the baseline of seed 004, with a VGG16 encoder built from our ConvBlock, dimension-free.

Graph (``n`` = ``out_channels``; every ConvBlock is ``double_conv`` with 2 or 3 convolutions)::

    conv1 (64 ×2) → pool → conv2 (128 ×2) → pool → conv3 (256 ×3) → pool3 (1/8)
    → conv4 (512 ×3) → pool4 (1/16) → conv5 (512 ×3) → pool5 (1/32)
    → fc6: conv 7×7 → 4096, ReLU, dropout → fc7: conv 1×1 → 4096, ReLU, dropout → score_fr: 1×1 → n
    upscore2 (transpose 4×4, stride 2) + score_pool4 (1×1 on pool4) → upscore_pool4 (transpose 4×4, stride 2)
    + score_pool3 (1×1 on pool3) → upscore8 (transpose 16×16, stride 8) → n channels at the input size

Differences from the Caffe original, on purpose: convolutions use same padding instead of the first layer's
100-pixel padding and the final crop (the output is matched to the input size by centre pad/crop), and the
transpose convolutions are learnt from a random start (the original initialises them to bilinear
upsampling and trains from ImageNet VGG16 weights). No pretrained weights are available offline, so the
network trains from scratch.

Parameters: with 3 input channels and 21 classes this is the 134.5 M-parameter FCN-8s of the paper
(VGG16 convolutions 14.7 M, fc6 102.8 M, fc7 16.8 M). Seed 004 reports 143,667,240 parameters for its
FCN-8s (VGG16) on 1-class images; we could not reconstruct the extra ~9.2 M from any standard FCN-8s
definition (it is not the classifier width, the input channels or the upsampling layers, which hold under
0.2 M parameters together), so we state our count (see the tests) beside theirs rather than pad to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.layers.factories import Conv, Pool
from torch import nn

from networks.blocks.common import conv_unit, match_size, plain_conv
from networks.blocks.double_conv import DoubleConv

__all__ = ["FCN8s", "VGG16_STAGES"]

VGG16_STAGES = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


class FCN8s(nn.Module):
    """FCN-8s with a VGG16 encoder (graph and differences from the original in the module docstring).

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        out_channels: classes (logits).
        stages: ``(width, convolutions)`` of the five VGG stages.
        fc_channels: width of fc6/fc7 (4096 in VGG16).
        fc_kernel: kernel of fc6 (7 in VGG16).
        act: activation, ``str | (str, dict)``.
        norm: normalisation of the VGG convolutions (``None`` in VGG16).
        dropout: dropout after fc6 and fc7 (0.5 in the paper).

    Shape: ``(N, in_channels, *S)`` → ``(N, out_channels, *S)``; best with sides divisible by 32. Five poolings by
    2 on every axis, fixed by the graph: no depth and no per-axis ``strides`` (thick-slice 3D data with few slices
    lose their coarse axis by pool5; use :class:`~networks.ModularUNet` with the plan's ``strides`` there).
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 3,
        out_channels: int = 21,
        stages: Sequence[Sequence[int]] = VGG16_STAGES,
        fc_channels: int = 4096,
        fc_kernel: int = 7,
        act: str | tuple | None = ("relu", {"inplace": True}),
        norm: str | tuple | None = None,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if len(stages) != 5:
            raise ValueError(f"FCN-8s needs five encoder stages (pool3, pool4 and pool5 feed the heads), got {len(stages)}.")
        blocks, c = [], in_channels
        for width, n in stages:
            blocks.append(DoubleConv(spatial_dims, c, width, act=act, norm=norm, num_convs=n))
            c = width
        self.stages = nn.ModuleList(blocks)
        self.pool = Pool[Pool.MAX, spatial_dims](kernel_size=2, stride=2)
        self.fc = nn.Sequential(
            conv_unit(spatial_dims, c, fc_channels, fc_kernel, act=act, norm=None, dropout=dropout),
            conv_unit(spatial_dims, fc_channels, fc_channels, 1, act=act, norm=None, dropout=dropout),
            plain_conv(spatial_dims, fc_channels, out_channels, 1),
        )
        self.score_pool4 = plain_conv(spatial_dims, stages[3][0], out_channels, 1)
        self.score_pool3 = plain_conv(spatial_dims, stages[2][0], out_channels, 1)
        up = Conv[Conv.CONVTRANS, spatial_dims]
        self.upscore2 = up(out_channels, out_channels, kernel_size=4, stride=2, padding=1, bias=False)
        self.upscore_pool4 = up(out_channels, out_channels, kernel_size=4, stride=2, padding=1, bias=False)
        self.upscore8 = up(out_channels, out_channels, kernel_size=16, stride=8, padding=4, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = list(x.shape[2:])
        pools: list[torch.Tensor] = []
        h = x
        for stage in self.stages:
            h = self.pool(stage(h))
            pools.append(h)
        score = self.fc(h)
        pool4 = self.score_pool4(pools[3])
        score = match_size(self.upscore2(score), list(pool4.shape[2:])) + pool4
        pool3 = self.score_pool3(pools[2])
        score = match_size(self.upscore_pool4(score), list(pool3.shape[2:])) + pool3
        return match_size(self.upscore8(score), size)
