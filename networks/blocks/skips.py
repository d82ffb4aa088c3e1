"""SkipConn modules: how an encoder map joins the upsampled decoder map.

Every SkipConn has the signature ``forward(up, skip, coarse)``: ``up`` is the UpOp output, ``skip`` the
encoder map of the same level (larger than ``up`` with valid padding: it is centre-cropped), ``coarse``
the decoder map of the next coarser level before the UpOp (the attention gate's gating signal). Each
module exposes ``out_channels``, the channels it hands to the decoder ConvBlock, and takes ``stride``, the factor
(one int or one per spatial axis) between the skip's level and the coarser one: a SkipConn that resamples (the
attention gate) follows it, the others ignore it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from networks.blocks.common import act_layer, match_size, norm_layer, per_axis, plain_conv
from networks.registry import SKIPS

__all__ = ["ConcatSkip", "AttentionGateSkip", "NoSkip"]


@SKIPS.register("concat")
class ConcatSkip(nn.Module):
    """Concatenate ``[skip, up]`` on channels, centre-cropping ``skip`` to ``up`` (Ronneberger et al. 2015).

    Shape: ``up (N, Cu, *S)``, ``skip (N, Cs, *S')`` with ``S' >= S`` → ``(N, Cs + Cu, *S)``. ``stride`` is
    unused (no resampling).
    """

    def __init__(
        self,
        spatial_dims: int,
        skip_channels: int,
        up_channels: int,
        coarse_channels: int,
        stride: int | Sequence[int] = 2,
        **_: object,
    ) -> None:
        super().__init__()
        self.out_channels = skip_channels + up_channels

    def forward(self, up: torch.Tensor, skip: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        return torch.cat([match_size(skip, list(up.shape[2:])), up], dim=1)


@SKIPS.register("none")
class NoSkip(nn.Module):
    """No skip connection (ablation): the decoder sees only ``up``.

    Shape: ``up (N, Cu, *S)`` → ``(N, Cu, *S)``. ``stride`` is unused (no resampling).
    """

    def __init__(
        self,
        spatial_dims: int,
        skip_channels: int,
        up_channels: int,
        coarse_channels: int,
        stride: int | Sequence[int] = 2,
        **_: object,
    ) -> None:
        super().__init__()
        self.out_channels = up_channels

    def forward(self, up: torch.Tensor, skip: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        return up


@SKIPS.register("attention")
class AttentionGateSkip(nn.Module):
    """Additive attention gate of Oktay et al. 2018 ("Attention U-Net", MIDL), then concatenation.

    ``theta = W_x * skip`` (2×2 conv, stride 2, or kernel = stride per axis: down to the gating resolution), ``phi = W_g * coarse``
    (1×1 conv); ``alpha = sigmoid(psi * relu(theta + phi))`` (psi: 1×1 conv to one channel); ``alpha`` is
    resampled (linear) to the skip's size; the gated map ``W * (alpha · skip)`` (1×1 conv + norm) is
    centre-cropped to ``up`` and concatenated: ``[gated, up]``.

    Args:
        spatial_dims: 2 or 3.
        skip_channels: channels of the encoder map.
        up_channels: channels of the upsampled decoder map.
        coarse_channels: channels of the gating signal (coarser decoder map).
        inter_channels: width of the attention space (default ``skip_channels // 2``, as Oktay et al.).
        act: activation of the additive attention (ReLU in the paper).
        norm: normalisation of the output transform ``W``.
        stride: factor between the skip's level and the gating signal's, one int or one per spatial axis.

    Shape: ``up (N, Cu, *S)``, ``skip (N, Cs, *S')``, ``coarse (N, Cg, *~S'/stride)`` → ``(N, Cs + Cu, *S)``.
    """

    def __init__(
        self,
        spatial_dims: int,
        skip_channels: int,
        up_channels: int,
        coarse_channels: int,
        inter_channels: int | None = None,
        act: str | tuple | None = "relu",
        norm: str | tuple | None = "batch",
        stride: int | Sequence[int] = 2,
        **_: object,
    ) -> None:
        super().__init__()
        inter = inter_channels or max(1, skip_channels // 2)
        self.stride = per_axis(stride, spatial_dims)
        self.theta = plain_conv(spatial_dims, skip_channels, inter, self.stride, stride=self.stride, bias=False)
        self.phi = plain_conv(spatial_dims, coarse_channels, inter, 1, bias=True)
        self.act = act_layer(act)
        self.psi = plain_conv(spatial_dims, inter, 1, 1, bias=True)
        self.out_transform = nn.Sequential(
            plain_conv(spatial_dims, skip_channels, skip_channels, 1, bias=True),
            norm_layer(norm, spatial_dims, skip_channels),
        )
        self.mode = "bilinear" if spatial_dims == 2 else "trilinear"
        self.out_channels = skip_channels + up_channels

    def attention(self, skip: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        """Attention coefficients ``alpha`` in (0, 1), shape ``(N, 1, *skip spatial)``."""
        theta = self.theta(skip)
        phi = self.phi(coarse)
        if phi.shape[2:] != theta.shape[2:]:
            phi = F.interpolate(phi, size=theta.shape[2:], mode=self.mode, align_corners=False)
        alpha = torch.sigmoid(self.psi(self.act(theta + phi)))
        return F.interpolate(alpha, size=skip.shape[2:], mode=self.mode, align_corners=False)

    def forward(self, up: torch.Tensor, skip: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        gated = self.out_transform(skip * self.attention(skip, coarse))
        return torch.cat([match_size(gated, list(up.shape[2:])), up], dim=1)
