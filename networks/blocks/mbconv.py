"""MBConv ConvBlock: EfficientNet's inverted bottleneck (Tan & Le 2019, "EfficientNet", ICML; after
Sandler et al. 2018, MobileNetV2), dimension-free.

One MBConv layer::

    x ─ 1×1 expand (C_in → e·C_in) → norm → act            (skipped when e = 1)
      → depthwise k×k (stride 1) → norm → act
      → squeeze-excitation (global avg pool → 1×1 → act → 1×1 → sigmoid, scales channels;
        squeeze width max(1, se_ratio · C_in))
      → 1×1 project (→ C_out) → norm                       (no activation: linear bottleneck)
      → + x when C_in == C_out                             (identity residual)

The U-Net ConvBlock stacks ``num_layers`` of them (first C_in → C_out, then C_out → C_out with residual),
as the plain block stacks two convolutions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from networks.blocks.common import act_layer, check_padding, norm_layer, plain_conv
from networks.registry import CONV_BLOCKS

__all__ = ["SqueezeExcitation", "MBConvLayer", "MBConvBlock"]


class SqueezeExcitation(nn.Module):
    """Hu et al. 2018 channel attention with convolutional squeeze/excite layers (as in EfficientNet).

    Shape: ``(N, C, *S)`` → ``(N, C, *S)``.
    """

    def __init__(self, spatial_dims: int, channels: int, squeeze_channels: int, act: str | tuple | None) -> None:
        super().__init__()
        self.reduce = plain_conv(spatial_dims, channels, squeeze_channels, 1)
        self.act = act_layer(act)
        self.expand = plain_conv(spatial_dims, squeeze_channels, channels, 1)
        self.spatial_axes = list(range(2, 2 + spatial_dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=self.spatial_axes, keepdim=True)
        return x * torch.sigmoid(self.expand(self.act(self.reduce(s))))


class MBConvLayer(nn.Module):
    """One MBConv layer (graph in the module docstring).

    Shape: ``(N, in_channels, *S)`` → ``(N, out_channels, *S)``.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Sequence[int] = 3,
        expand_ratio: int = 6,
        se_ratio: float = 0.25,
        act: str | tuple | None = "swish",
        norm: str | tuple | None = "batch",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        mid = in_channels * expand_ratio
        pad = kernel_size // 2 if isinstance(kernel_size, int) else tuple(k // 2 for k in kernel_size)
        if expand_ratio != 1:
            self.expand: nn.Module = nn.Sequential(
                plain_conv(spatial_dims, in_channels, mid, 1, bias=False),
                norm_layer(norm, spatial_dims, mid),
                act_layer(act),
            )
        else:
            self.expand = nn.Identity()
        self.depthwise = nn.Sequential(
            plain_conv(spatial_dims, mid, mid, kernel_size, padding=pad, groups=mid, bias=False),
            norm_layer(norm, spatial_dims, mid),
            act_layer(act),
        )
        self.se = (
            SqueezeExcitation(spatial_dims, mid, max(1, int(in_channels * se_ratio)), act) if se_ratio > 0 else nn.Identity()
        )
        self.project = nn.Sequential(
            plain_conv(spatial_dims, mid, out_channels, 1, bias=False), norm_layer(norm, spatial_dims, out_channels)
        )
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()
        self.residual = in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.se(self.depthwise(self.expand(x))))
        y = self.dropout(y)
        if self.residual:
            y = y + x
        return y


@CONV_BLOCKS.register("mbconv")
class MBConvBlock(nn.Sequential):
    """``num_layers`` MBConv layers as a U-Net ConvBlock (Efficient U-Net of seed 000).

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        out_channels: output channels.
        act: activation (EfficientNet uses ``"swish"``; the net's act is passed unless overridden).
        norm: normalisation name/tuple or ``None``.
        dropout: dropout probability before each residual addition.
        bias: unused (MBConv convolutions are bias-free, followed by norm); kept for the slot signature.
        padding: only ``"same"``.
        kernel_size: depthwise kernel size, one int or one per spatial axis.
        expand_ratio: expansion factor ``e`` of the inverted bottleneck.
        se_ratio: squeeze width relative to the layer's input channels (0 disables SE).
        num_layers: MBConv layers in the block.

    Shape: ``(N, in_channels, *S)`` → ``(N, out_channels, *S)``.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        act: str | tuple | None = "swish",
        norm: str | tuple | None = "batch",
        dropout: float = 0.0,
        bias: bool = False,
        padding: str = "same",
        kernel_size: int | Sequence[int] = 3,
        expand_ratio: int = 6,
        se_ratio: float = 0.25,
        num_layers: int = 2,
    ) -> None:
        check_padding(padding, "mbconv", ("same",))
        if num_layers < 1:
            raise ValueError(f"mbconv needs num_layers >= 1, got {num_layers}.")
        layers = [
            MBConvLayer(
                spatial_dims, in_channels if i == 0 else out_channels, out_channels, kernel_size, expand_ratio,
                se_ratio, act, norm, dropout,
            )
            for i in range(num_layers)
        ]
        super().__init__(*layers)
        self.shrink = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = layer(x)
        return x
