"""DownOp modules: shrink the spatial size between encoder levels by a stride (2 on every axis by default).

Each DownOp maps ``(N, C, *S)`` to ``(N, C, *S / stride)`` (channels kept; the next ConvBlock changes them) and
exposes ``out_size(n, axis)`` for the size arithmetic of valid padding. ``stride`` is one int or one per spatial
axis (nnU-Net's anisotropic pooling: ``(2, 2, 1)`` leaves the third axis alone); a DownOp that can follow
:class:`~networks.ModularUNet`'s ``strides`` names ``stride`` in its signature.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.layers.factories import Pool
from torch import nn

from networks.blocks.common import conv_unit, per_axis
from networks.blocks.nasnet import NASNetReductionCell
from networks.registry import DOWN_OPS

__all__ = ["MaxPoolDown", "StridedConvDown", "reduction_cell_down"]


@DOWN_OPS.register("max_pool")
class MaxPoolDown(nn.Module):
    """Max pool with kernel = stride (2×2, stride 2 by default; floor).

    Args:
        spatial_dims: 1, 2 or 3.
        channels: channels (kept).
        stride: pooling factor, one int or one per spatial axis (1: the axis is not pooled).

    Shape: ``(N, C, *S)`` → ``(N, C, *floor(S / stride))``.
    """

    def __init__(self, spatial_dims: int, channels: int, stride: int | Sequence[int] = 2, **_: object) -> None:
        super().__init__()
        self.stride = per_axis(stride, spatial_dims)
        self.pool = Pool[Pool.MAX, spatial_dims](kernel_size=self.stride, stride=self.stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)

    def out_size(self, n: int, axis: int = 0) -> int:
        """Output size along ``axis`` for input size ``n``."""
        return n // self.stride[axis]


@DOWN_OPS.register("strided_conv")
class StridedConvDown(nn.Module):
    """Conv with kernel = stride (2×2, stride 2 by default) → norm → act ("Conv skip 2×2" of seed 000).

    Args:
        spatial_dims: 1, 2 or 3.
        channels: channels (kept).
        act: activation, ``str | (str, dict)`` or ``None``.
        norm: normalisation or ``None``.
        bias: convolution bias.
        stride: down-sampling factor, one int or one per spatial axis (1: the axis is not down-sampled).

    Shape: as max pool (floor).
    """

    def __init__(
        self,
        spatial_dims: int,
        channels: int,
        act: str | tuple | None = ("relu", {"inplace": True}),
        norm: str | tuple | None = "batch",
        bias: bool = True,
        stride: int | Sequence[int] = 2,
        **_: object,
    ) -> None:
        super().__init__()
        self.stride = per_axis(stride, spatial_dims)
        self.conv = conv_unit(spatial_dims, channels, channels, kernel_size=self.stride, strides=self.stride, act=act, norm=norm,
                              bias=bias, padding="valid")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)

    def out_size(self, n: int, axis: int = 0) -> int:
        """Output size along ``axis`` for input size ``n``."""
        return n // self.stride[axis]


@DOWN_OPS.register("reduction_cell")
def reduction_cell_down(
    spatial_dims: int,
    channels: int,
    act: str | tuple | None = "relu",
    norm: str | tuple | None = "batch",
    bias: bool = True,
    cell_channels: int | None = None,
    stride: int | Sequence[int] = 2,
    **_: object,
) -> NASNetReductionCell:
    """NASNet-A reduction cell with stride 2 (or ``stride`` per axis) as the DownOp.

    Shape: ``(N, C, *S)`` → ``(N, C, *ceil(S / stride))``.
    """
    return NASNetReductionCell(
        spatial_dims, channels, channels, stride=stride, act=act, norm=norm, bias=bias, cell_channels=cell_channels
    )
