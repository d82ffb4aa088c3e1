"""The plain U-Net ConvBlock: two 3×3 convolutions, each followed by norm, activation and dropout."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from networks.blocks.common import check_padding, conv_unit, valid_shrink
from networks.registry import CONV_BLOCKS

__all__ = ["DoubleConv"]


@CONV_BLOCKS.register("double_conv")
class DoubleConv(nn.Sequential):
    """``num_convs × (Conv k×k → norm → act → dropout)``: Ronneberger et al. 2015, "U-Net" (MICCAI).

    With ``norm=None``, ReLU and ``padding="valid"`` this is the 2015 block; seed 000 adds batch norm.
    ``num_convs=3`` gives the deeper stages of VGG16 (FCN-8s reuses this block).

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        out_channels: output channels of both convolutions.
        act: activation, ``str | (str, dict)`` (MONAI ``Act`` names, e.g. ``"relu"``, ``"prelu"``).
        norm: ``None``, ``"batch"``, ``"instance"`` or any MONAI ``Norm`` name/tuple.
        dropout: dropout probability after each activation (0 disables).
        bias: convolution bias.
        padding: ``"same"`` keeps the size; ``"valid"`` loses ``kernel_size - 1`` pixels per conv.
        kernel_size: convolution kernel size, one int or one per spatial axis (e.g. ``(3, 3, 1)`` on thick slices;
            same padding only).
        num_convs: number of convolutions (2 for U-Net).

    Shape:
        ``(N, in_channels, *S)`` → ``(N, out_channels, *S')`` with ``S' = S`` (same) or
        ``S - num_convs (kernel_size - 1)`` (valid).
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        act: str | tuple | None = ("relu", {"inplace": True}),
        norm: str | tuple | None = "batch",
        dropout: float = 0.0,
        bias: bool = True,
        padding: str = "same",
        kernel_size: int | Sequence[int] = 3,
        num_convs: int = 2,
    ) -> None:
        padding = check_padding(padding, "double_conv")
        if num_convs < 1:
            raise ValueError(f"double_conv needs num_convs >= 1, got {num_convs}.")
        common = dict(kernel_size=kernel_size, act=act, norm=norm, dropout=dropout, bias=bias, padding=padding)
        super().__init__(
            *[conv_unit(spatial_dims, in_channels if i == 0 else out_channels, out_channels, **common) for i in range(num_convs)]
        )
        self.shrink = valid_shrink(kernel_size, padding, num_convs, "double_conv")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = layer(x)
        return x
