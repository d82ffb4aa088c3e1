"""DownOp modules: halve the spatial size between encoder levels.

Each DownOp maps ``(N, C, *S)`` to ``(N, C, *S/2)`` (channels kept; the next ConvBlock changes them)
and exposes ``out_size(n)`` for the size arithmetic of valid padding.
"""

from __future__ import annotations

import torch
from monai.networks.layers.factories import Pool
from torch import nn

from networks.blocks.common import conv_unit
from networks.blocks.nasnet import NASNetReductionCell
from networks.registry import DOWN_OPS

__all__ = ["MaxPoolDown", "StridedConvDown", "reduction_cell_down"]


@DOWN_OPS.register("max_pool")
class MaxPoolDown(nn.Module):
    """Max pool 2×2, stride 2 (floor). Shape: ``(N, C, *S)`` → ``(N, C, *floor(S / 2))``."""

    def __init__(self, spatial_dims: int, channels: int, **_: object) -> None:
        super().__init__()
        self.pool = Pool[Pool.MAX, spatial_dims](kernel_size=2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)

    def out_size(self, n: int) -> int:
        return n // 2


@DOWN_OPS.register("strided_conv")
class StridedConvDown(nn.Module):
    """Conv 2×2, stride 2 → norm → act ("Conv skip 2×2" of seed 000). Shape: as max pool (floor)."""

    def __init__(
        self,
        spatial_dims: int,
        channels: int,
        act: str | tuple | None = ("relu", {"inplace": True}),
        norm: str | tuple | None = "batch",
        bias: bool = True,
        **_: object,
    ) -> None:
        super().__init__()
        self.conv = conv_unit(spatial_dims, channels, channels, kernel_size=2, strides=2, act=act, norm=norm,
                              bias=bias, padding="valid")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)

    def out_size(self, n: int) -> int:
        return n // 2


@DOWN_OPS.register("reduction_cell")
def reduction_cell_down(
    spatial_dims: int,
    channels: int,
    act: str | tuple | None = "relu",
    norm: str | tuple | None = "batch",
    bias: bool = True,
    cell_channels: int | None = None,
    **_: object,
) -> NASNetReductionCell:
    """NASNet-A reduction cell with stride 2 as the DownOp. Shape: ``(N, C, *S)`` → ``(N, C, *ceil(S / 2))``."""
    return NASNetReductionCell(
        spatial_dims, channels, channels, stride=2, act=act, norm=norm, bias=bias, cell_channels=cell_channels
    )
