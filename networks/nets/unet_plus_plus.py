"""UNet++ family (Zhou et al. 2018/2019, "UNet++: A Nested U-Net Architecture" / "Redesigning Skip
Connections", seed 003): UNet^e, UNet+ and UNet++ over one grid of nodes ``x^{i,j}``, any depth, 2D and 3D.

Node ``x^{i,j}`` sits at level ``i`` (resolution ``1/2^i``) and column ``j``. Column 0 is the encoder
(``x^{0,0} = ConvBlock(input)``, ``x^{i,0} = ConvBlock(DownOp(x^{i-1,0}))``); every other node is

    x^{i,j} = ConvBlock(concat(same-level inputs, UpOp(x^{i+1,j-1})))

where the same-level inputs are, per ``variant``:

* ``"ensemble"`` (UNet^e): ``x^{i,0}`` only — U-Nets of depths 1..L sharing the encoder, separate decoders;
* ``"plus"`` (UNet+): ``x^{i,j-1}`` — adjacent nodes connected;
* ``"nested"`` (UNet++): ``x^{i,0}, ..., x^{i,j-1}`` — dense nested skips.

Deep supervision heads (1×1 conv) sit on ``x^{0,1} .. x^{0,L}`` and are always built, so a checkpoint loads
whether or not they are used. In training with ``deep_supervision`` the network returns every head stacked on
dim 1 (as MONAI's DynUNet); otherwise ``mode="accurate"`` averages the heads' logits and ``mode="fast"``
computes only the sub-network of head ``prune_level`` (nodes with ``i + j <= prune_level``, encoder levels
``<= prune_level``) — the pruned UNet++ of the paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from networks.blocks.common import match_size, plain_conv
from networks.nets.modular_unet import _expand_dropout, expand_features
from networks.registry import CONV_BLOCKS, DOWN_OPS, UP_OPS

__all__ = ["UNetPlusPlus", "VARIANTS", "MODES"]

VARIANTS = ("ensemble", "plus", "nested")
MODES = ("accurate", "fast")


class NestedNode(nn.Module):
    """One decoder node: ``ConvBlock(concat(same_level..., match(UpOp(coarse))))``."""

    def __init__(self, up: nn.Module, block: nn.Module) -> None:
        super().__init__()
        self.up = up
        self.block = block

    def forward(self, coarse: torch.Tensor, same_level: list[torch.Tensor]) -> torch.Tensor:
        up = match_size(self.up(coarse), list(same_level[0].shape[2:]))
        return self.block(torch.cat(same_level + [up], dim=1))


class UNetPlusPlus(nn.Module):
    """UNet^e / UNet+ / UNet++ with deep supervision and pruning (see the module docstring for the graph).

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        out_channels: output channels of every head (logits).
        features: base width (``F_i = round(features · 2^i)``) or ``depth + 1`` widths; every node of level
            ``i`` has ``F_i`` channels.
        depth: ``L``, the number of DownOps (heads on ``x^{0,1} .. x^{0,L}``). Every DownOp pools every axis by
            2: UNet++ takes no per-axis ``strides`` (:class:`~networks.ModularUNet` does); on anisotropic 3D data
            give it the plan's ``isotropic_depth`` (``data.plan``), which keeps every axis >= 4 voxels.
        variant: ``"nested"`` (UNet++), ``"plus"`` (UNet+) or ``"ensemble"`` (UNet^e).
        conv_block: ConvBlock name (registry ``networks.CONV_BLOCKS``) or callable.
        down: DownOp name or callable.
        up: UpOp name or callable.
        act: activation, ``str | (str, dict)``.
        norm: normalisation name/tuple, or ``None``/``"none"``.
        dropout: one rate, or one per level ``0..L`` (applies to every node of that level).
        bias: convolution bias.
        deep_supervision: in training, return all heads stacked on dim 1.
        mode: inference mode, ``"accurate"`` (mean of the heads) or ``"fast"`` (pruned at ``prune_level``);
            change it on a built network with :meth:`set_inference_mode`.
        prune_level: head used in fast mode, ``1..L`` (default ``L``).
        block_kwargs / down_kwargs / up_kwargs: extra arguments of the slot modules.

    Shape:
        ``(N, in_channels, *S)`` → ``(N, out_channels, *S)``; in training with deep supervision
        ``(N, L, out_channels, *S)``. Any ``S`` with sides ≥ ``2^L`` (same padding).
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        out_channels: int = 1,
        features: int | float | Sequence[int] = 32,
        depth: int = 4,
        variant: str = "nested",
        conv_block: Any = "double_conv",
        down: Any = "max_pool",
        up: Any = "transpose_conv",
        act: str | tuple | None = ("relu", {"inplace": True}),
        norm: str | tuple | None = "batch",
        dropout: float | Sequence[float] = 0.0,
        bias: bool = True,
        deep_supervision: bool = True,
        mode: str = "accurate",
        prune_level: int | None = None,
        block_kwargs: dict | None = None,
        down_kwargs: dict | None = None,
        up_kwargs: dict | None = None,
    ) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown UNet++ variant {variant!r}; valid names: {', '.join(VARIANTS)}.")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}.")
        act, norm = (None if isinstance(v, str) and v.lower() == "none" else v for v in (act, norm))
        self.depth, self.variant, self.deep_supervision = depth, variant, deep_supervision
        self.features = expand_features(features, depth)
        if isinstance(dropout, (int, float)):
            rates = [float(dropout)] * (depth + 1)
        else:
            rates = [float(p) for p in dropout]
            if len(rates) != depth + 1:
                raise ValueError(f"dropout has {len(rates)} entries; give one rate or one per level: depth + 1 = {depth + 1}.")
        block_f, down_f, up_f = CONV_BLOCKS.get(conv_block), DOWN_OPS.get(down), UP_OPS.get(up)
        common = dict(act=act, norm=norm, bias=bias)
        f = self.features

        def block(c_in: int, c_out: int, rate: float) -> nn.Module:
            return block_f(spatial_dims=spatial_dims, in_channels=c_in, out_channels=c_out, dropout=rate,
                           padding="same", **{**common, **(block_kwargs or {})})

        self.stem = block(in_channels, f[0], rates[0])  # x^{0,0}
        self.encoder = nn.ModuleList(  # x^{i,0} = ConvBlock(DownOp(x^{i-1,0})), i = 1..L
            [
                nn.Sequential(
                    down_f(spatial_dims=spatial_dims, channels=f[i - 1], **{**common, **(down_kwargs or {})}),
                    block(f[i - 1], f[i], rates[i]),
                )
                for i in range(1, depth + 1)
            ]
        )
        # decoder nodes in column-major order: every input of a node is computed before it
        self.node_level, self.node_column = [], []
        self.node_inputs = []  # positions, in the flat list of computed tensors, of the same-level inputs
        self.node_coarse = []  # position of x^{i+1,j-1}
        position = {(i, 0): i for i in range(depth + 1)}
        nodes = []
        for j in range(1, depth + 1):
            for i in range(depth + 1 - j):
                same = {"ensemble": [0], "plus": [j - 1], "nested": list(range(j))}[variant]
                self.node_level.append(i)
                self.node_column.append(j)
                self.node_inputs.append([position[(i, k)] for k in same])
                self.node_coarse.append(position[(i + 1, j - 1)])
                position[(i, j)] = len(position)
                up_module = up_f(spatial_dims=spatial_dims, in_channels=f[i + 1], out_channels=f[i],
                                 **{**common, **(up_kwargs or {})})
                nodes.append(NestedNode(up_module, block(f[i] * (len(same) + 1), f[i], rates[i])))
        self.nodes = nn.ModuleList(nodes)
        self.head_positions = [position[(0, j)] for j in range(1, depth + 1)]
        self.heads = nn.ModuleList([plain_conv(spatial_dims, f[0], out_channels, 1, bias=True) for _ in range(depth)])
        self.mode = "accurate"
        self.prune_level = depth
        self.set_inference_mode(mode, prune_level)

    def set_inference_mode(self, mode: str = "accurate", prune_level: int | None = None) -> UNetPlusPlus:
        """Choose accurate (mean of heads) or fast (pruned at ``prune_level`` in ``1..depth``) inference."""
        if mode not in MODES:
            raise ValueError(f"unknown UNet++ inference mode {mode!r}; valid names: {', '.join(MODES)}.")
        level = self.depth if prune_level is None else int(prune_level)
        if not 1 <= level <= self.depth:
            raise ValueError(f"prune_level must be in 1..{self.depth} (the network's depth), got {prune_level}.")
        self.mode, self.prune_level = mode, level
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        supervise = self.training and self.deep_supervision
        fast = (not self.training) and self.mode == "fast"
        last = self.prune_level if fast else self.depth
        xs: list[torch.Tensor] = [self.stem(x)]
        for i, stage in enumerate(self.encoder):
            # placeholders keep the flat positions; the pruned sub-network never reads them
            xs.append(stage(xs[i]) if i + 1 <= last else xs[0])
        for k, node in enumerate(self.nodes):
            if self.node_level[k] + self.node_column[k] <= last:
                xs.append(node(xs[self.node_coarse[k]], [xs[p] for p in self.node_inputs[k]]))
            else:
                xs.append(xs[0])
        if fast:
            pruned = xs[0]
            for j, head in enumerate(self.heads):
                if j + 1 == last:
                    pruned = head(xs[self.head_positions[j]])
            return pruned
        outputs = [head(xs[self.head_positions[j]]) for j, head in enumerate(self.heads)]
        if supervise:
            return torch.stack(outputs, dim=1)
        if not self.deep_supervision:
            return outputs[-1]
        return torch.stack(outputs, dim=0).mean(dim=0)
