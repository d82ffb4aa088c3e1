"""UpOp modules: enlarge the spatial size between decoder levels by a stride (2 on every axis by default),
``(N, C_in, *S)`` → ``(N, C_out, *(stride · S))``. ``stride`` is one int or one per spatial axis, the factor of the
matching DownOp (an UpOp that can follow :class:`~networks.ModularUNet`'s ``strides`` names ``stride`` in its
signature)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from networks.blocks.common import conv_unit, per_axis
from networks.registry import UP_OPS

from monai.networks.layers.factories import Conv

__all__ = ["TransposeConvUp", "UpsampleConvUp"]


@UP_OPS.register("transpose_conv")
class TransposeConvUp(nn.Module):
    """Transpose conv with kernel = stride (2×2, stride 2: "up-convolution" of the 2015 U-Net), no norm or activation.

    Args:
        spatial_dims: 1, 2 or 3.
        in_channels: input channels.
        out_channels: output channels.
        bias: convolution bias.
        stride: up-sampling factor, one int or one per spatial axis (1: the axis keeps its size).

    Shape: ``(N, in_channels, *S)`` → ``(N, out_channels, *(stride · S))``.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        bias: bool = True,
        stride: int | Sequence[int] = 2,
        **_: object,
    ) -> None:
        super().__init__()
        self.stride = per_axis(stride, spatial_dims)
        self.conv = Conv[Conv.CONVTRANS, spatial_dims](
            in_channels, out_channels, kernel_size=self.stride, stride=self.stride, bias=bias
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


@UP_OPS.register("upsample_conv")
class UpsampleConvUp(nn.Module):
    """Upsample ×stride (2 by default; ``mode`` nearest or linear) then conv k×k (same padding) → norm → act.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        out_channels: output channels.
        mode: ``"nearest"`` or ``"linear"`` (bilinear/trilinear by dimension).
        kernel_size: kernel of the convolution after upsampling.
        act: activation, ``str | (str, dict)`` or ``None``.
        norm: normalisation or ``None``.
        bias: convolution bias.
        stride: up-sampling factor, one int or one per spatial axis (1: the axis keeps its size).

    Shape: ``(N, in_channels, *S)`` → ``(N, out_channels, *(stride · S))``.
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
        stride: int | Sequence[int] = 2,
        **_: object,
    ) -> None:
        super().__init__()
        self.stride = per_axis(stride, spatial_dims)
        # an int factor when isotropic (the seeds' modules unchanged), else one float per axis
        scale = float(self.stride[0]) if len(set(self.stride)) == 1 else tuple(float(f) for f in self.stride)
        modes = {"nearest": "nearest", "linear": "bilinear" if spatial_dims == 2 else "trilinear"}
        if mode not in modes:
            raise ValueError(f"upsample_conv mode must be one of {', '.join(modes)}, got {mode!r}.")
        self.up = nn.Upsample(scale_factor=scale, mode=modes[mode], align_corners=None if mode == "nearest" else False)
        self.conv = conv_unit(spatial_dims, in_channels, out_channels, kernel_size, act=act, norm=norm, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.up(x))
