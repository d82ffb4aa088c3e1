"""The modular U-Net of seed 000: four swappable slots (ConvBlock, SkipConn, DownOp, UpOp) filled by name.

    h_{i+1}^D = DownOp(ConvBlock(h_i^D; F_i))
    h_{i+1}^U = UpOp(ConvBlock(SkipConn(h_i^U, h_{2(L-1)-i}^D); F_{2(L-1)-i}))

Optional deep supervision (nnU-Net, MONAI's DynUNet): 1×1 conv heads on the outputs of the decoder levels
``deep_supr_num .. 1`` above the final one; in training the network returns them, upsampled (nearest) to the
output size, stacked on dim 1 with the final output last, ``(N, 1 + deep_supr_num, C, *S)``, the layout of our
UNet++ (``losses.DeepSupervisionLoss`` unbinds it, the train postprocessing takes ``[-1]``). In eval mode only
the final output is returned, so validation and inference are unchanged.

Per-axis strides (nnU-Net's anisotropic pooling, ``data.plan`` plans them from the spacing): ``strides[i]`` is the
factor of level ``i``'s DownOp and of the matching UpOp (and attention gate), one int or one per spatial axis; on
thick-slice MRI ``[[2, 2, 1], [2, 2, 2]]`` pools the fine axes first and the coarse axis once they have caught up.
``kernel_sizes`` sets the ConvBlock kernel per level and axis (nnU-Net's ``(3, 3, 1)`` while an axis is still much
coarser than the others).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from networks.blocks.common import check_padding, match_size, per_axis, plain_conv
from networks.registry import CONV_BLOCKS, DOWN_OPS, SKIPS, UP_OPS, SlotRegistry, takes_argument

__all__ = ["ModularUNet", "expand_features", "expand_kernel_sizes", "expand_strides", "supported_kernel_sizes"]

logger = logging.getLogger(__name__)


def expand_features(features: int | float | Sequence[int], depth: int) -> list[int]:
    """Per-level widths: ``F_i = round(features · 2^i)`` for a scalar, else the sequence (length ``depth + 1``)."""
    if isinstance(features, (int, float)):
        widths = [int(round(features * 2**i)) for i in range(depth + 1)]
    else:
        widths = [int(f) for f in features]
        if len(widths) != depth + 1:
            raise ValueError(f"features has {len(widths)} entries; depth={depth} needs depth + 1 = {depth + 1}.")
    if min(widths) < 1:
        raise ValueError(f"every level needs at least one feature map, got features={widths}.")
    return widths


def expand_strides(
    strides: Sequence[int | Sequence[int]] | None, depth: int, spatial_dims: int
) -> list[tuple[int, ...]]:
    """Per-level, per-axis strides: ``depth`` tuples of ``spatial_dims`` ints; ``None``: 2 on every axis.

    Raises:
        ValueError: not one entry per level, or an entry that is not a positive int or one per axis.
    """
    if strides is None:
        return [(2,) * spatial_dims for _ in range(depth)]
    if isinstance(strides, (int, str)) or len(strides) != depth:
        raise ValueError(
            f"strides must give one stride per level (depth={depth} entries, each an int or {spatial_dims} ints), "
            f"got {strides!r}."
        )
    return [per_axis(s, spatial_dims, f"strides[{i}]") for i, s in enumerate(strides)]


def expand_kernel_sizes(
    kernel_sizes: Sequence[int | Sequence[int]] | None, depth: int, spatial_dims: int
) -> list[tuple[int, ...]] | None:
    """ConvBlock kernels per level: ``depth + 1`` tuples (levels ``0 .. depth - 1``, each used by the encoder and
    the decoder block of that level, then the bottom); ``None`` stays ``None`` (the blocks' own kernel).

    Raises:
        ValueError: not ``depth + 1`` entries, or an entry that is not a positive int or one per axis.
    """
    if kernel_sizes is None:
        return None
    if isinstance(kernel_sizes, (int, str)) or len(kernel_sizes) != depth + 1:
        raise ValueError(
            f"kernel_sizes must give one kernel per level and the bottom (depth + 1 = {depth + 1} entries, each an int "
            f"or {spatial_dims} ints), got {kernel_sizes!r}."
        )
    kernels = [per_axis(k, spatial_dims, f"kernel_sizes[{i}]") for i, k in enumerate(kernel_sizes)]
    if any(k % 2 == 0 for level in kernels for k in level):
        raise ValueError(f"kernel_sizes must be odd (same padding keeps the size only then), got {kernel_sizes!r}.")
    return kernels


def supported_kernel_sizes(kernel_sizes: Sequence[Any] | None, *conv_blocks: Any) -> Sequence[Any] | None:
    """``kernel_sizes`` when every given ConvBlock (names or callables; ``None`` entries skipped) takes
    ``kernel_size``, else ``None`` with a logged note: a planned kernel list (``data.plan``) is an optimisation the
    NASNet cells, whose kernels are fixed, cannot follow, so a bundle that plans it for any variant passes it through
    here (:class:`ModularUNet` itself raises when given kernels a block cannot take).

    Example (YAML): ``kernel_sizes: "$networks.supported_kernel_sizes(@data#plan.get('kernel_sizes'), @conv_block,
    @down_conv_block, @up_conv_block)"``.
    """
    if kernel_sizes is None:
        return None
    refused = [b for b in conv_blocks if b is not None and not takes_argument(CONV_BLOCKS.get(b), "kernel_size")]
    if refused:
        logger.info(
            "ConvBlock(s) %s have fixed kernels: the planned kernel_sizes %s are not used (ConvBlocks that take them: "
            "%s).", refused, list(kernel_sizes), ", ".join(CONV_BLOCKS.names_with("kernel_size")),
        )
        return None
    return kernel_sizes


def _check_takes_stride(registry: SlotRegistry, name: Any, factory: Any) -> None:
    """A slot given per-axis strides must name ``stride`` in its signature, else it would silently pool by 2."""
    if not takes_argument(factory, "stride"):
        label = name if isinstance(name, str) else getattr(name, "__name__", repr(name))
        raise ValueError(
            f"{registry.slot} {label!r} cannot follow per-axis strides (its factory takes no `stride` argument); "
            f"{registry.slot}s that can: {', '.join(registry.names_with('stride'))}; or use strides=None."
        )


def _expand_dropout(dropout: float | Sequence[float], depth: int) -> list[float]:
    n = 2 * depth + 1
    if isinstance(dropout, (int, float)):
        return [float(dropout)] * n
    rates = [float(p) for p in dropout]
    if len(rates) != n:
        raise ValueError(
            f"dropout has {len(rates)} entries; give one rate, or one per ConvBlock: 2 * depth + 1 = {n} "
            "(encoder levels 0..depth, then decoder levels depth-1..0)."
        )
    return rates


class EncoderStage(nn.Module):
    """ConvBlock then DownOp; returns ``(skip, down)``."""

    def __init__(self, block: nn.Module, down: nn.Module) -> None:
        super().__init__()
        self.block = block
        self.down = down
        self.shrink = getattr(block, "shrink", 0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skip = self.block(x)
        return skip, self.down(skip)


def _split_first(block: nn.Module, what: str) -> tuple[nn.Module, nn.Module]:
    """First layer and the rest of a sequential ConvBlock (double conv, MBConv), for taps after the first conv."""
    if not isinstance(block, nn.Sequential) or len(block) < 2:
        raise ValueError(f"{what} needs a ConvBlock made of a sequence of at least two layers, got {type(block).__name__}.")
    return block[0], nn.Sequential(*list(block)[1:])


class FirstConvTapStage(nn.Module):
    """Encoder stage whose skip leaves after the block's first convolution (seed 004, "Ours2")."""

    def __init__(self, block: nn.Module, down: nn.Module) -> None:
        super().__init__()
        self.first, self.rest = _split_first(block, "skip_tap='first_conv'")
        self.down = down
        self.shrink = getattr(block, "shrink", 0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        first = self.first(x)
        return first, self.down(self.rest(first))


class ConcatBottom(nn.Module):
    """Bottom block returning ``concat(first conv, second conv)``: twice the channels (seed 004, "Ours1")."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.first, self.rest = _split_first(block, "bottom_concat=True")
        self.shrink = getattr(block, "shrink", 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = self.first(x)
        last = self.rest(first)
        return torch.cat([match_size(first, list(last.shape[2:])), last], dim=1)


class DecoderStage(nn.Module):
    """UpOp, SkipConn, ConvBlock. With same padding the upsampled map is padded/cropped to the skip's size."""

    def __init__(self, up: nn.Module, skip: nn.Module, block: nn.Module, same: bool) -> None:
        super().__init__()
        self.up = up
        self.skip = skip
        self.block = block
        self.same = same

    def forward(self, coarse: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.up(coarse)
        if self.same:
            up = match_size(up, list(skip.shape[2:]))
        return self.block(self.skip(up, skip, coarse))


class ModularUNet(nn.Module):
    """U-Net with ConvBlock, SkipConn, DownOp and UpOp chosen by registered name (seed 000, Figure 2).

    Registered names: see ``networks.CONV_BLOCKS``, ``SKIPS``, ``DOWN_OPS``, ``UP_OPS`` (an unknown name
    raises with the list). A callable may be given instead of a name for a custom module.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels (4 MRI modalities for MSD Task01).
        out_channels: output channels (logits; no final activation).
        features: base width (``F_i = round(features · 2^i)``; a float allows fine budget control) or
            one width per level (``depth + 1`` values).
        depth: number of DownOps (4 in the 2015 U-Net: 5 levels).
        strides: the factor of each level's DownOp and matching UpOp (and attention gate): ``depth`` entries,
            each an int or one int per spatial axis (1: that axis is not pooled at that level), e.g.
            ``[[2, 2, 1], [2, 2, 2]]``. ``None`` (default): 2 on every axis at every level, the seeds' networks.
            Every slot must name ``stride`` in its signature (all registered ones do; a custom one that does not
            raises).
        kernel_sizes: ConvBlock kernel per level, ``depth + 1`` entries (levels ``0 .. depth - 1``: the encoder
            and decoder blocks of that level; then the bottom), each an int or one per spatial axis, e.g.
            ``[[3, 3, 1], [3, 3, 3], [3, 3, 3]]`` (nnU-Net's). ``None`` (default): the blocks' own (3, or
            ``block_kwargs["kernel_size"]``). The ConvBlocks must take ``kernel_size`` (double_conv, residual,
            mbconv; the NASNet cells have fixed kernels and raise); a kernel per axis needs same padding.
        conv_block: ConvBlock of every level unless overridden below.
        down_conv_block: ConvBlock of the encoder levels and the bottom (default ``conv_block``).
        up_conv_block: ConvBlock of the decoder levels (default ``conv_block``).
        skip: SkipConn (``concat``, ``attention``, ``none``).
        down: DownOp (``max_pool``, ``strided_conv``, ``reduction_cell``).
        up: UpOp (``transpose_conv``, ``upsample_conv``).
        act: activation, ``str | (str, dict)``: ``"relu"``, ``"prelu"``, any MONAI ``Act``.
        norm: ``None`` (or ``"none"``) | ``"batch"`` | ``"instance"`` | any MONAI ``Norm`` name/tuple.
        dropout: one rate for every ConvBlock, or ``2 · depth + 1`` rates (encoder levels 0..depth, then
            decoder levels depth-1..0; 0 means no dropout layer), to vary the number of dropout layers.
        bias: convolution bias.
        padding: ``"same"`` (output size = input size, any input size) or ``"valid"`` (no padding; the
            output is smaller, see :meth:`output_size` and :meth:`input_size_for`).
        block_kwargs: extra keyword arguments for every ConvBlock (e.g. ``{"expand_ratio": 4}``).
        skip_kwargs: extra keyword arguments for the SkipConn (e.g. ``{"inter_channels": 16}``).
        down_kwargs: extra keyword arguments for the DownOp.
        up_kwargs: extra keyword arguments for the UpOp (e.g. ``{"mode": "linear"}``).
        skip_tap: where the skip leaves an encoder ConvBlock: ``"output"`` (U-Net) or ``"first_conv"``
            (after its first convolution: the improved skip of Li et al. 2022, seed 004 "Ours2").
        bottom_concat: the bottom ConvBlock outputs the concatenation of its two convolutions (seed 004
            "Ours1"), doubling the channels into the first UpOp.
        deep_supervision: build 1×1 conv heads on ``deep_supr_num`` decoder levels above the final output and
            return them in training (see Shape). Same padding only. The heads are built only when true (they cost
            ``(F_i + 1) · out_channels`` parameters each); a network without heads ignores the ``ds_heads.*``
            entries of a checkpoint trained with them, so evaluation and inference need not repeat the option.
        deep_supr_num: number of extra heads, ``1 .. depth - 1``, on decoder levels ``1 .. deep_supr_num``
            (resolutions ``1/2 .. 1/2^deep_supr_num``). Default (``None``): ``depth - 1``, every decoder level
            (nnU-Net's choice; its loss gives the lowest one weight 0, ``losses.DeepSupervisionLoss`` with
            ``weight_mode="nnunet"``); at depth 1 that is no head, and training returns the plain output.

    Shape:
        ``(N, in_channels, *S)`` → ``(N, out_channels, *S')``: ``S' = S`` with same padding (any ``S``
        with every side ≥ its total stride, ``2^depth`` by default; a multiple of it avoids padding inside),
        ``S' = output_size(S)`` with valid padding. In training with
        ``deep_supervision``: ``(N, 1 + deep_supr_num, out_channels, *S)``, heads from the coarsest (level
        ``deep_supr_num``, upsampled by nearest neighbour) to the final output (last).

    Raises:
        ValueError: an unknown slot name (the message lists the valid ones), a bad depth, features, dropout,
            padding or skip tap, strides that do not give one stride per level (or a slot that cannot follow
            them), or deep supervision with valid padding or ``deep_supr_num`` outside ``1 .. depth - 1``.
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 4,
        out_channels: int = 1,
        features: int | float | Sequence[int] = 32,
        depth: int = 4,
        strides: Sequence[int | Sequence[int]] | None = None,
        kernel_sizes: Sequence[int | Sequence[int]] | None = None,
        conv_block: Any = "double_conv",
        down_conv_block: Any = None,
        up_conv_block: Any = None,
        skip: Any = "concat",
        down: Any = "max_pool",
        up: Any = "transpose_conv",
        act: str | tuple | None = ("relu", {"inplace": True}),
        norm: str | tuple | None = "batch",
        dropout: float | Sequence[float] = 0.0,
        bias: bool = True,
        padding: str = "same",
        block_kwargs: dict | None = None,
        skip_kwargs: dict | None = None,
        down_kwargs: dict | None = None,
        up_kwargs: dict | None = None,
        skip_tap: str = "output",
        bottom_concat: bool = False,
        deep_supervision: bool = False,
        deep_supr_num: int | None = None,
    ) -> None:
        super().__init__()
        if skip_tap not in ("output", "first_conv"):
            raise ValueError(f"skip_tap must be 'output' or 'first_conv', got {skip_tap!r}.")
        if spatial_dims not in (1, 2, 3):
            raise ValueError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims}.")
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}.")
        # "none" is accepted for configs and the command line, where MONAI's CLI drops a None override
        act, norm = (None if isinstance(v, str) and v.lower() == "none" else v for v in (act, norm))
        self.spatial_dims, self.depth = spatial_dims, depth
        self.padding = check_padding(padding, "ModularUNet")
        self.features = expand_features(features, depth)
        rates = _expand_dropout(dropout, depth)
        enc_block = CONV_BLOCKS.get(down_conv_block or conv_block)
        dec_block = CONV_BLOCKS.get(up_conv_block or conv_block)
        down_op, up_op, skip_op = DOWN_OPS.get(down), UP_OPS.get(up), SKIPS.get(skip)
        self.strides = expand_strides(strides, depth, spatial_dims)
        if strides is not None:
            for registry, name, factory in ((DOWN_OPS, down, down_op), (UP_OPS, up, up_op), (SKIPS, skip, skip_op)):
                _check_takes_stride(registry, name, factory)

        kernels = expand_kernel_sizes(kernel_sizes, depth, spatial_dims)
        if kernels is not None:
            if "kernel_size" in (block_kwargs or {}):
                raise ValueError("give the ConvBlock kernel in kernel_sizes or in block_kwargs['kernel_size'], not both.")
            for name, factory in ((down_conv_block or conv_block, enc_block), (up_conv_block or conv_block, dec_block)):
                if not takes_argument(factory, "kernel_size"):
                    label = name if isinstance(name, str) else getattr(name, "__name__", repr(name))
                    raise ValueError(
                        f"ConvBlock {label!r} cannot follow kernel_sizes (its factory takes no `kernel_size` argument); "
                        f"ConvBlocks that can: {', '.join(CONV_BLOCKS.names_with('kernel_size'))}; or use kernel_sizes=None."
                    )

        def kernel_of(level: int) -> dict:
            # no `kernel_size` keyword by default: the blocks keep their own
            return {} if kernels is None else {"kernel_size": kernels[level]}

        def stride_of(level: int) -> dict:
            # no `stride` keyword by default: a custom slot without it keeps working as before
            return {} if strides is None else {"stride": self.strides[level]}
        common = dict(act=act, norm=norm, bias=bias)
        block_kwargs = dict(block_kwargs or {})

        def block(factory, c_in, c_out, rate, level):
            return factory(
                spatial_dims=spatial_dims, in_channels=c_in, out_channels=c_out, dropout=rate, padding=self.padding,
                **{**common, **block_kwargs, **kernel_of(level)},
            )

        f = self.features
        self.encoder = nn.ModuleList()
        c_in = in_channels
        stage_type = FirstConvTapStage if skip_tap == "first_conv" else EncoderStage
        for i in range(depth):
            self.encoder.append(
                stage_type(
                    block(enc_block, c_in, f[i], rates[i], i),
                    down_op(
                        spatial_dims=spatial_dims, channels=f[i], **{**common, **(down_kwargs or {}), **stride_of(i)}
                    ),
                )
            )
            c_in = f[i]
        bottom = block(enc_block, f[depth - 1], f[depth], rates[depth], depth)
        self.bottom = ConcatBottom(bottom) if bottom_concat else bottom
        coarse = [*f[:depth], 2 * f[depth] if bottom_concat else f[depth]]  # channels leaving each level upwards
        self.decoder = nn.ModuleList()
        for j, i in enumerate(range(depth - 1, -1, -1)):
            up_module = up_op(
                spatial_dims=spatial_dims, in_channels=coarse[i + 1], out_channels=f[i],
                **{**common, **(up_kwargs or {}), **stride_of(i)},
            )
            skip_module = skip_op(
                spatial_dims=spatial_dims, skip_channels=f[i], up_channels=f[i], coarse_channels=coarse[i + 1],
                **{**common, **(skip_kwargs or {}), **stride_of(i)},
            )
            self.decoder.append(
                DecoderStage(
                    up_module, skip_module, block(dec_block, skip_module.out_channels, f[i], rates[depth + 1 + j], i),
                    same=self.padding == "same",
                )
            )
        self.head = plain_conv(spatial_dims, f[0], out_channels, 1, bias=True)
        self.deep_supervision = bool(deep_supervision)
        n_heads = 0
        if self.deep_supervision:
            if self.padding != "same":
                raise ValueError(
                    "deep_supervision=True needs padding='same' (heads of a valid-padding U-Net do not align with "
                    "its output); use padding='same' or deep_supervision=False."
                )
            n_heads = depth - 1 if deep_supr_num is None else int(deep_supr_num)
            if deep_supr_num is not None and not 1 <= n_heads <= depth - 1:
                raise ValueError(
                    f"deep_supr_num must be in 1..depth - 1 = {depth - 1} (one head per decoder level above the "
                    f"final output), got {deep_supr_num}" + (" (depth 1 has no such level)." if depth == 1 else ".")
                )
        self.deep_supr_num = n_heads
        # heads on decoder levels n_heads .. 1, coarsest first; decoder stage j outputs level depth - 1 - j
        self.ds_first_stage = depth - 1 - n_heads
        self.ds_heads = nn.ModuleList(
            [plain_conv(spatial_dims, f[i], out_channels, 1, bias=True) for i in range(n_heads, 0, -1)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips: list[torch.Tensor] = []
        for stage in self.encoder:
            skip, x = stage(x)
            skips.append(skip)
        x = self.bottom(x)
        n = len(skips)
        supervise = self.training and self.deep_supr_num > 0
        levels: list[torch.Tensor] = []  # decoder outputs under a head (kept only when they are used)
        for j, stage in enumerate(self.decoder):
            x = stage(x, skips[n - 1 - j])
            if supervise and j >= self.ds_first_stage:
                levels.append(x)
        out = self.head(x)
        if not supervise:
            return out
        size = list(out.shape[2:])
        outputs: list[torch.Tensor] = []
        for k, head in enumerate(self.ds_heads):
            outputs.append(F.interpolate(head(levels[k]), size=size, mode="nearest"))
        outputs.append(out)
        return torch.stack(outputs, dim=1)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        """A network without heads drops the heads of a deeply supervised checkpoint (they serve training only), so
        evaluation and inference load it whether or not they repeat ``deep_supervision``."""
        if len(self.ds_heads) == 0:
            for key in [k for k in state_dict if k.startswith(prefix + "ds_heads.")]:
                del state_dict[key]
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)

    # ---- size arithmetic (valid padding; overlap-tile inference uses it) -------------------------------
    def _trace(self, n: int, axis: int = 0) -> tuple[int, bool]:
        """Output size for input size ``n`` along ``axis`` and whether every DownOp saw a multiple of its stride."""
        aligned = True
        for level, stage in enumerate(self.encoder):
            stride = self.strides[level][axis]
            n -= stage.shrink
            if n < stride:
                return 0, False
            aligned = aligned and n % stride == 0
            n = stage.down.out_size(n, axis) if hasattr(stage.down, "out_size") else n // stride
        n -= getattr(self.bottom, "shrink", 0)
        for j, stage in enumerate(self.decoder):
            if n < 1:
                return 0, False
            n = self.strides[self.depth - 1 - j][axis] * n - getattr(stage.block, "shrink", 0)
        return n, aligned and n > 0

    def _sizes(self, size: int | Sequence[int]) -> list[int]:
        """One size per spatial axis (an int: the same on every axis)."""
        return [int(size)] * self.spatial_dims if isinstance(size, int) else [int(v) for v in size]

    def output_size(self, input_size: int | Sequence[int]) -> int | tuple[int, ...]:
        """Spatial output size for an input size (per axis; an int: the size of every axis, the first's returned).

        Raises:
            ValueError: with valid padding, when a DownOp would see a size that is not a multiple of its stride
                (the crop would be off by one) or the input is too small; :meth:`input_size_for` gives usable sizes.
        """
        if self.padding == "same":
            return input_size
        out = []
        for axis, n in enumerate(self._sizes(input_size)):
            m, ok = self._trace(n, axis)
            if not ok:
                nearest = self._next_valid(max(n, 1), axis)
                raise ValueError(
                    f"input size {n} (axis {axis}) does not fit this valid-padding U-Net (every DownOp needs an even "
                    f"size, a multiple of its stride); the nearest usable input is {nearest}."
                )
            out.append(m)
        return out[0] if isinstance(input_size, int) else tuple(out)

    def _next_valid(self, n: int, axis: int = 0) -> int:
        while not self._trace(n, axis)[1]:
            n += 1
        return n

    def input_size_for(self, output_size: int | Sequence[int]) -> int | tuple[int, ...]:
        """Smallest input size whose output covers ``output_size`` (per axis; an int: the first axis's strides);
        identity with same padding.

        For the 2015 U-Net (valid, depth 4, 3×3 convs) an output of 388 needs an input of 572.
        """
        if self.padding == "same":
            return output_size
        sizes = [int(output_size)] if isinstance(output_size, int) else [int(v) for v in output_size]
        res = []
        for axis, want in enumerate(sizes):
            n = want
            while True:
                m, ok = self._trace(n, axis)
                if ok and m >= want:
                    break
                n += 1
            res.append(n)
        return res[0] if isinstance(output_size, int) else tuple(res)
