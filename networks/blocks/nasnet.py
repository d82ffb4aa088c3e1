"""NASNet-A normal and reduction cells (Zoph et al. 2018, "Learning Transferable Architectures for
Scalable Image Recognition", CVPR), dimension-free, as U-Net ConvBlocks and DownOp (seed 000).

A NASNet cell takes two hidden states, ``h_cur`` (the previous layer) and ``h_prev`` (the one before).
A U-Net ConvBlock has a single input, so, as in the reference implementation's ``_cell_base`` (which
projects both inputs with ReLU → 1×1 conv → BN), both states are 1×1 projections of the block input,
by two separate projections. Every combination in the cell is an addition of two operations; the cell
output concatenates the states no block consumed. Because a U-Net fixes the width of each level, a
final 1×1 conv → norm maps the concatenation (``6 F`` normal, ``4 F`` reduction) to ``out_channels``.

Normal cell (blocks b0..b4; ``sep k`` = separable conv k×k applied twice, ``avg``/``max`` = 3×3 pool)::

    b0 = sep5(h_cur)  + sep3(h_prev)        b3 = avg(h_prev) + avg(h_prev)
    b1 = sep5(h_prev) + sep3(h_prev)        b4 = sep3(h_cur)  + h_cur
    b2 = avg(h_cur)   + h_prev
    out = concat(h_prev, b0, b1, b2, b3, b4)

Reduction cell (operations on ``h_cur``/``h_prev`` have stride ``s``: 2 as a DownOp, 1 as a ConvBlock)::

    b0 = sep5(h_cur) + sep7(h_prev)         b3 = b1 + avg(b0)
    b1 = max(h_cur)  + sep7(h_prev)         b4 = sep3(b0) + max(h_cur)
    b2 = avg(h_cur)  + sep5(h_prev)
    out = concat(b1, b2, b3, b4)

Cells use same padding only (their branches have different kernel sizes).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from monai.networks.layers.factories import Pool
from torch import nn

from networks.blocks.common import act_layer, check_padding, norm_layer, per_axis, plain_conv
from networks.registry import CONV_BLOCKS, DOWN_OPS

__all__ = ["SeparableConv", "NASNetNormalCell", "NASNetReductionCell"]


class SeparableConv(nn.Sequential):
    """NASNet's separable branch: ``2 × (act → depthwise k×k → pointwise 1×1 → norm)``; stride (one int or one
    per spatial axis) on the first.

    Shape: ``(N, C, *S)`` → ``(N, C, *ceil(S / stride))``.
    """

    def __init__(
        self,
        spatial_dims: int,
        channels: int,
        kernel_size: int,
        stride: int | Sequence[int] = 1,
        act: str | tuple | None = "relu",
        norm: str | tuple | None = "batch",
    ) -> None:
        layers: list[nn.Module] = []
        for i in range(2):
            layers += [
                act_layer(act),
                plain_conv(
                    spatial_dims, channels, channels, kernel_size, stride=stride if i == 0 else 1,
                    padding=kernel_size // 2, groups=channels, bias=False,
                ),
                plain_conv(spatial_dims, channels, channels, 1, bias=False),
                norm_layer(norm, spatial_dims, channels),
            ]
        super().__init__(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = layer(x)
        return x


def _pool(kind: str, spatial_dims: int, stride: int | Sequence[int]) -> nn.Module:
    if kind == "avg":
        return Pool[Pool.AVG, spatial_dims](kernel_size=3, stride=stride, padding=1, count_include_pad=False)
    return Pool[Pool.MAX, spatial_dims](kernel_size=3, stride=stride, padding=1)


class _CellBase(nn.Module):
    """Input projections (two states from one input) and output projection shared by both cells."""

    def __init__(self, spatial_dims, in_channels, out_channels, cell_channels, n_concat, act, norm, dropout, bias):
        super().__init__()
        self.proj_cur = nn.Sequential(
            act_layer(act), plain_conv(spatial_dims, in_channels, cell_channels, 1, bias=False),
            norm_layer(norm, spatial_dims, cell_channels),
        )
        self.proj_prev = nn.Sequential(
            act_layer(act), plain_conv(spatial_dims, in_channels, cell_channels, 1, bias=False),
            norm_layer(norm, spatial_dims, cell_channels),
        )
        out: list[nn.Module] = [
            act_layer(act),
            plain_conv(spatial_dims, n_concat * cell_channels, out_channels, 1, bias=bias),
            norm_layer(norm, spatial_dims, out_channels),
        ]
        if dropout:
            out.append(nn.Dropout(dropout))
        self.proj_out = nn.Sequential(*out)
        self.shrink = 0


@CONV_BLOCKS.register("nasnet_normal")
class NASNetNormalCell(_CellBase):
    """NASNet-A normal cell as a ConvBlock (graph in the module docstring).

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        out_channels: output channels (after the output 1×1 projection).
        act: activation before every conv (NASNet uses ReLU).
        norm: normalisation after every conv (NASNet uses batch norm).
        dropout: dropout probability on the cell output.
        bias: bias of the output projection.
        padding: only ``"same"``.
        cell_channels: width ``F`` of the cell's inner states (default ``out_channels``).

    Shape: ``(N, in_channels, *S)`` → ``(N, out_channels, *S)``.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        act: str | tuple | None = "relu",
        norm: str | tuple | None = "batch",
        dropout: float = 0.0,
        bias: bool = True,
        padding: str = "same",
        cell_channels: int | None = None,
    ) -> None:
        check_padding(padding, "nasnet_normal", ("same",))
        c = cell_channels or out_channels
        super().__init__(spatial_dims, in_channels, out_channels, c, 6, act, norm, dropout, bias)
        sep = lambda k: SeparableConv(spatial_dims, c, k, 1, act, norm)  # noqa: E731
        self.b0_cur, self.b0_prev = sep(5), sep(3)
        self.b1_a, self.b1_b = sep(5), sep(3)
        self.b2_pool = _pool("avg", spatial_dims, 1)
        self.b3_a, self.b3_b = _pool("avg", spatial_dims, 1), _pool("avg", spatial_dims, 1)
        self.b4_cur = sep(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cur, prev = self.proj_cur(x), self.proj_prev(x)
        b0 = self.b0_cur(cur) + self.b0_prev(prev)
        b1 = self.b1_a(prev) + self.b1_b(prev)
        b2 = self.b2_pool(cur) + prev
        b3 = self.b3_a(prev) + self.b3_b(prev)
        b4 = self.b4_cur(cur) + cur
        return self.proj_out(torch.cat([prev, b0, b1, b2, b3, b4], dim=1))


class NASNetReductionCell(_CellBase):
    """NASNet-A reduction cell (graph in the module docstring); ``stride`` 2 halves the size (ceil); a stride per
    axis (e.g. ``(2, 2, 1)``) reduces only the axes above 1.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        out_channels: output channels (after the output 1×1 projection).
        stride: 2 as a DownOp, 1 as a ConvBlock (same graph, no reduction); or one per spatial axis.
        act: activation before every conv.
        norm: normalisation after every conv.
        dropout: dropout probability on the cell output.
        bias: bias of the output projection.
        cell_channels: width ``F`` of the inner states (default ``out_channels``).

    Shape: ``(N, in_channels, *S)`` → ``(N, out_channels, *ceil(S / stride))``.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        stride: int | Sequence[int] = 2,
        act: str | tuple | None = "relu",
        norm: str | tuple | None = "batch",
        dropout: float = 0.0,
        bias: bool = True,
        cell_channels: int | None = None,
    ) -> None:
        c = cell_channels or out_channels
        super().__init__(spatial_dims, in_channels, out_channels, c, 4, act, norm, dropout, bias)
        sep = lambda k, s: SeparableConv(spatial_dims, c, k, s, act, norm)  # noqa: E731
        self.stride = per_axis(stride, spatial_dims)
        s = self.stride
        self.b0_cur, self.b0_prev = sep(5, s), sep(7, s)
        self.b1_pool, self.b1_prev = _pool("max", spatial_dims, s), sep(7, s)
        self.b2_pool, self.b2_prev = _pool("avg", spatial_dims, s), sep(5, s)
        self.b3_pool = _pool("avg", spatial_dims, 1)
        self.b4_sep, self.b4_pool = sep(3, 1), _pool("max", spatial_dims, s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cur, prev = self.proj_cur(x), self.proj_prev(x)
        b0 = self.b0_cur(cur) + self.b0_prev(prev)
        b1 = self.b1_pool(cur) + self.b1_prev(prev)
        b2 = self.b2_pool(cur) + self.b2_prev(prev)
        b3 = b1 + self.b3_pool(b0)
        b4 = self.b4_sep(b0) + self.b4_pool(cur)
        return self.proj_out(torch.cat([b1, b2, b3, b4], dim=1))

    def out_size(self, n: int, axis: int = 0) -> int:
        """Spatial size along ``axis`` after the cell for input size ``n`` (ceil division by the stride)."""
        return -(-n // self.stride[axis])


@CONV_BLOCKS.register("nasnet_reduction")
def nasnet_reduction_block(
    spatial_dims: int,
    in_channels: int,
    out_channels: int,
    act: str | tuple | None = "relu",
    norm: str | tuple | None = "batch",
    dropout: float = 0.0,
    bias: bool = True,
    padding: str = "same",
    cell_channels: int | None = None,
) -> NASNetReductionCell:
    """The reduction-cell graph at stride 1 as a ConvBlock (NAS Reduction U-Net, seed 000); same padding."""
    check_padding(padding, "nasnet_reduction", ("same",))
    return NASNetReductionCell(
        spatial_dims, in_channels, out_channels, stride=1, act=act, norm=norm, dropout=dropout, bias=bias,
        cell_channels=cell_channels,
    )
