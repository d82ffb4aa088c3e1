"""UpOp modules: double the spatial size between decoder levels, ``(N, C_in, *S)`` → ``(N, C_out, *2S)``."""

from __future__ import annotations

import torch
from torch import nn

from networks.blocks.common import conv_unit
from networks.registry import UP_OPS

from monai.networks.layers.factories import Conv

__all__ = ["TransposeConvUp", "UpsampleConvUp"]


@UP_OPS.register("transpose_conv")
class TransposeConvUp(nn.Module):
    """Transpose conv 2×2, stride 2 ("up-convolution" of the 2015 U-Net), no norm or activation."""

    def __init__(self, spatial_dims: int, in_channels: int, out_channels: int, bias: bool = True, **_: object):
        super().__init__()
        self.conv = Conv[Conv.CONVTRANS, spatial_dims](in_channels, out_channels, kernel_size=2, stride=2, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


@UP_OPS.register("upsample_conv")
class UpsampleConvUp(nn.Module):
    """Upsample ×2 (``mode`` nearest or linear) then conv k×k (same padding) → norm → act.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        out_channels: output channels.
        mode: ``"nearest"`` or ``"linear"`` (bilinear/trilinear by dimension).
        kernel_size: kernel of the convolution after upsampling.
        act: activation, ``str | (str, dict)`` or ``None``.
        norm: normalisation or ``None``.
        bias: convolution bias.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        mode: str = "nearest",
        kernel_size: int = 3,
        act: str | tuple | None = ("relu", {"inplace": True}),
        norm: str | tuple | None = "batch",
        bias: bool = True,
        **_: object,
    ) -> None:
        super().__init__()
        modes = {"nearest": "nearest", "linear": "bilinear" if spatial_dims == 2 else "trilinear"}
        if mode not in modes:
            raise ValueError(f"upsample_conv mode must be one of {', '.join(modes)}, got {mode!r}.")
        self.up = nn.Upsample(scale_factor=2, mode=modes[mode], align_corners=None if mode == "nearest" else False)
        self.conv = conv_unit(spatial_dims, in_channels, out_channels, kernel_size, act=act, norm=norm, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.up(x))
