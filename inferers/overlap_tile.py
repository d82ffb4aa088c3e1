"""Overlap-tile inference for valid-padding networks (the 2015 U-Net; seed 002), as a MONAI ``Inferer``.

A valid-padding U-Net maps an input of size ``n`` to a smaller output of size ``m = output_size(n)``, the
output being the centre of the input (a margin of ``(n - m) / 2`` on each side). To predict every pixel of an
image with full context, the input is extended by mirroring (the U-Net paper, Figure 2): a 512 x 512 ISBI page
becomes 700 x 700 for the 2015 U-Net (``input_size_for(512) == 700``, output 516, cropped to 512). Images too
large for one pass are cut into tiles of ``tile_size`` output pixels; each tile is predicted from its
``input_size_for(tile_size)`` input window of the mirror-padded image and written into its place.

Tiles start at multiples of the network's *alignment*, the spacing of its valid input sizes (``2 ** depth``
for max pooling): a valid-padding U-Net is translation-equivariant only for shifts that keep the pooling grid,
so aligned tiles give exactly (up to float rounding) what one pass over the whole mirror-padded image gives.
Where tiles overlap (the last tile of a row is moved back to end at the image border), the later tile's values
are kept; aligned, they are the same values.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from monai.inferers import Inferer
from monai.utils import ensure_tuple_rep

__all__ = ["OverlapTileInferer", "mirror_pad", "mirror_indices"]


def mirror_indices(length: int, before: int, after: int, mode: str = "reflect", device: Any = None) -> torch.Tensor:
    """Source indices of a mirror-padded axis: ``before`` + ``length`` + ``after`` entries.

    ``"reflect"`` mirrors about the edge pixel (``3 2 1 | 0 1 2 3 | 2 1 0``, as ``numpy.pad(mode="reflect")``);
    ``"symmetric"`` repeats it (``2 1 0 | 0 1 2 3 | 3 2 1``). Pads longer than the axis keep reflecting
    (the axis is tiled by its mirror images), unlike ``torch.nn.functional.pad`` which allows pads < length.
    """
    if length < 1:
        raise ValueError(f"cannot mirror an axis of length {length}.")
    positions = torch.arange(-before, length + after, device=device)
    if mode == "reflect":
        if length == 1:
            return torch.zeros_like(positions)
        period = 2 * (length - 1)
        folded = positions.remainder(period)
        return torch.where(folded < length, folded, period - folded)
    if mode == "symmetric":
        period = 2 * length
        folded = positions.remainder(period)
        return torch.where(folded < length, folded, period - 1 - folded)
    raise ValueError(f"mode must be 'reflect' or 'symmetric', got {mode!r}.")


def mirror_pad(x: torch.Tensor, pads: Sequence[tuple[int, int]], mode: str = "reflect") -> torch.Tensor:
    """Mirror-pad the spatial axes of ``x`` (B, C, *spatial) by ``pads[i] = (before, after)`` per axis.

    Any pad size (see :func:`mirror_indices`); differentiable (an index gather).
    """
    spatial = x.ndim - 2
    if len(pads) != spatial:
        raise ValueError(f"need one (before, after) pad per spatial axis ({spatial}), got {list(pads)}.")
    for axis, (before, after) in enumerate(pads):
        if before or after:
            index = mirror_indices(x.shape[axis + 2], int(before), int(after), mode, device=x.device)
            x = x.index_select(axis + 2, index)
    return x


def _unwrap(network: Any) -> Any:
    """The module holding ``output_size``/``input_size_for`` (DataParallel/DDP keep it in ``.module``)."""
    while not hasattr(network, "input_size_for") and hasattr(network, "module"):
        network = network.module
    return network


class OverlapTileInferer(Inferer):
    """Predict every pixel of ``inputs`` with full context through a valid-padding network (see module docstring).

    Usable wherever MONAI takes an ``Inferer`` (``SupervisedEvaluator(inferer=...)``, bundle ``inferer``):
    ``inferer(inputs, network)`` returns an output with the spatial size of ``inputs``.

    The network's size arithmetic comes from its ``output_size(n)`` and ``input_size_for(n)`` methods
    (:class:`networks.ModularUNet` with ``padding="valid"``; a wrapper's ``.module`` is searched too).

    Args:
        tile_size: output pixels per tile along each spatial axis (int or one per axis); it is rounded down to
            a multiple of the network's alignment (at least one alignment step). ``None``: one tile per image,
            i.e. the whole mirror-padded image in one pass (512 -> 700 for the 2015 U-Net).
        mode: mirroring, ``"reflect"`` (about the edge pixel; default) or ``"symmetric"`` (edge repeated).
        tile_batch_size: tiles passed through the network at once.
        alignment: tile start step in input pixels (int or per axis); ``None`` infers it as the spacing of
            the network's valid input sizes (``2 ** depth`` for a max-pooling U-Net).

    Shape contract: ``inputs`` (B, C_in, *spatial) with 1-3 spatial axes -> (B, C_out, *spatial), on the
    device and with the dtype the network returns.
    """

    def __init__(
        self,
        tile_size: int | Sequence[int] | None = None,
        mode: str = "reflect",
        tile_batch_size: int = 1,
        alignment: int | Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if mode not in ("reflect", "symmetric"):
            raise ValueError(f"mode must be 'reflect' or 'symmetric', got {mode!r}.")
        if tile_batch_size < 1:
            raise ValueError(f"tile_batch_size must be >= 1, got {tile_batch_size}.")
        self.tile_size = tile_size
        self.mode = mode
        self.tile_batch_size = int(tile_batch_size)
        self.alignment = alignment

    @staticmethod
    def _valid_step(sizes: Any, n: int) -> int:
        """Spacing of valid input sizes above ``n``: the smallest ``p > 0`` with ``n + p`` valid."""
        for p in range(1, 4 * n + 2):
            try:
                sizes.output_size(n + p)
                return p
            except ValueError:
                continue
        raise ValueError(f"no valid input size found above {n}.")

    def layout(self, network: Any, spatial_shape: Sequence[int]) -> list[dict[str, int]]:
        """Per spatial axis: ``input`` (tile input size), ``output`` (tile output size), ``margin`` (context on
        the low side), ``step`` (tile start spacing), ``starts`` (tile output starts), ``pad_before``,
        ``pad_after`` (mirror padding of the image). Exposed for tests and for logging."""
        sizes = _unwrap(network)
        if not (hasattr(sizes, "input_size_for") and hasattr(sizes, "output_size")):
            raise TypeError(
                f"{type(network).__name__} has no input_size_for()/output_size(); OverlapTileInferer needs a "
                "valid-padding network such as networks.ModularUNet(padding='valid')."
            )
        dims = len(spatial_shape)
        wanted = ensure_tuple_rep(self.tile_size, dims) if self.tile_size is not None else tuple(spatial_shape)
        aligns = ensure_tuple_rep(self.alignment, dims) if self.alignment is not None else (None,) * dims
        plan = []
        for length, want, align in zip(spatial_shape, wanted, aligns):
            length, want = int(length), int(want)
            full_in = int(sizes.input_size_for(length))
            full_out = int(sizes.output_size(full_in))
            margin = (full_in - full_out) // 2
            if align is None:
                align = self._valid_step(sizes, full_in)
            tile_in, tile_out, starts = full_in, full_out, [0]
            if self.tile_size is not None and want < length:
                want = max(int(align), (want // int(align)) * int(align))
                tile_in = int(sizes.input_size_for(want))
                tile_out = int(sizes.output_size(tile_in))
            if tile_out >= length:  # one tile covers the axis: the whole mirror-padded image in one pass
                tile_in, tile_out, starts = full_in, full_out, [0]
            else:
                step = max(int(align), (tile_out // int(align)) * int(align))
                last = length - tile_out  # the last tile ends at the border, moved back to the alignment grid
                last = (last + int(align) - 1) // int(align) * int(align)
                starts = list(range(0, last, step)) + [last]
                starts = sorted(set(starts))
            if (tile_in - tile_out) // 2 != margin:
                raise ValueError(f"the network's margin differs between input sizes {full_in} and {tile_in}.")
            extent = starts[-1] + tile_in  # padded length the tiles read
            plan.append(
                {
                    "input": tile_in, "output": tile_out, "margin": margin, "starts": starts,
                    "step": starts[1] - starts[0] if len(starts) > 1 else tile_out,
                    "pad_before": margin, "pad_after": extent - margin - length,
                }
            )  # fmt: skip
        return plan

    def __call__(self, inputs: torch.Tensor, network: Callable[..., Any], *args: Any, **kwargs: Any) -> torch.Tensor:
        """Run ``network`` over mirror-padded tiles of ``inputs``; extra ``args``/``kwargs`` go to ``network``."""
        spatial_shape = tuple(int(s) for s in inputs.shape[2:])
        if not 1 <= len(spatial_shape) <= 3:
            raise ValueError(f"inputs must be (B, C, *spatial) with 1-3 spatial axes, got {tuple(inputs.shape)}.")
        plan = self.layout(network, spatial_shape)
        padded = mirror_pad(inputs, [(p["pad_before"], p["pad_after"]) for p in plan], self.mode)
        batch = inputs.shape[0]
        origins = list(itertools.product(*[p["starts"] for p in plan]))
        output: torch.Tensor | None = None
        per_pass = max(1, self.tile_batch_size // max(batch, 1))  # tiles per network call (each tile: B samples)
        for first in range(0, len(origins), per_pass):
            group = origins[first : first + per_pass]
            tiles = [
                padded[(slice(None), slice(None)) + tuple(slice(o, o + p["input"]) for o, p in zip(origin, plan))]
                for origin in group
            ]
            result = network(torch.cat(tiles, dim=0), *args, **kwargs)
            if not isinstance(result, torch.Tensor):
                raise TypeError(f"the network returned {type(result).__name__}; OverlapTileInferer needs one tensor.")
            if output is None:
                output = result.new_zeros((batch, result.shape[1], *spatial_shape))
            for i, origin in enumerate(group):
                tile = result[i * batch : (i + 1) * batch]
                src, dst = [slice(None), slice(None)], [slice(None), slice(None)]
                for o, p, length in zip(origin, plan, spatial_shape):
                    if tile.shape[len(src)] != p["output"]:
                        raise ValueError(
                            f"the network returned a tile of shape {tuple(tile.shape)}; its output_size() said "
                            f"{p['output']} along axis {len(src) - 2}."
                        )
                    end = min(o + p["output"], length)
                    src.append(slice(0, end - o))
                    dst.append(slice(o, end))
                output[tuple(dst)] = tile[tuple(src)]
        assert output is not None
        return output

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(tile_size={self.tile_size}, mode={self.mode!r}, "
            f"tile_batch_size={self.tile_batch_size}, alignment={self.alignment})"
        )
