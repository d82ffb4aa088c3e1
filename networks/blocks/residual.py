"""Residual ConvBlock: two convolutions with an identity or 1×1 projection shortcut."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from networks.blocks.common import act_layer, check_padding, conv_unit, match_size, norm_layer, plain_conv, valid_shrink
from networks.registry import CONV_BLOCKS

__all__ = ["ResidualBlock"]


@CONV_BLOCKS.register("residual")
class ResidualBlock(nn.Module):
    """He et al. 2016 basic residual block, as used by residual U-Nets (e.g. Zhang et al. 2018, ResUNet).

    Graph: ``y = act(norm(conv(dropout(act(norm(conv(x)))))) + shortcut(x))`` where the shortcut is the
    identity when ``in_channels == out_channels`` and a 1×1 conv + norm otherwise. With valid padding the
    shortcut is centre-cropped to the residual branch.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        out_channels: output channels.
        act: activation, ``str | (str, dict)``.
        norm: normalisation name/tuple or ``None``.
        dropout: dropout probability between the two convolutions.
        bias: convolution bias.
        padding: ``"same"`` or ``"valid"``.
        kernel_size: convolution kernel size, one int or one per spatial axis (same padding only).

    Shape:
        ``(N, in_channels, *S)`` → ``(N, out_channels, *S')``; ``S' = S`` (same) or ``S - 2 (k - 1)`` (valid).
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
    ) -> None:
        super().__init__()
        padding = check_padding(padding, "residual")
        self.shrink = valid_shrink(kernel_size, padding, 2, "residual")
        self.conv1 = conv_unit(
            spatial_dims, in_channels, out_channels, kernel_size, act=act, norm=norm, dropout=dropout, bias=bias,
            padding=padding,
        )
        self.conv2 = conv_unit(
            spatial_dims, out_channels, out_channels, kernel_size, act=None, norm=norm, bias=bias, padding=padding
        )
        if in_channels == out_channels:
            self.shortcut: nn.Module = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                plain_conv(spatial_dims, in_channels, out_channels, 1, bias=bias),
                norm_layer(norm, spatial_dims, out_channels),
            )
        self.act = act_layer(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        shortcut = self.shortcut(x)
        if self.shrink > 0:
            shortcut = match_size(shortcut, list(y.shape[2:]))
        return self.act(y + shortcut)
