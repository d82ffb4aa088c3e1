"""Small helpers shared by the blocks: conv-norm-act units and centre pad/crop to a target size."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from monai.networks.blocks import Convolution
from monai.networks.layers.factories import Conv
from monai.networks.layers.utils import get_act_layer, get_norm_layer
from torch import nn

__all__ = ["conv_unit", "norm_layer", "act_layer", "match_size", "check_padding", "per_axis", "valid_shrink"]

PADDINGS = ("same", "valid")


def check_padding(padding: str, block: str, supported: Sequence[str] = PADDINGS) -> str:
    """Validate a padding mode for ``block`` and return it in lower case."""
    mode = str(padding).lower()
    if mode not in supported:
        raise ValueError(f"{block} does not support padding={padding!r}; supported: {', '.join(supported)}.")
    return mode


def per_axis(stride: int | Sequence[int], spatial_dims: int, what: str = "stride") -> tuple[int, ...]:
    """A stride (or scale factor) per spatial axis: an int is the same on every axis; a sequence must have one
    positive integer per axis (1: that axis is not resampled).

    Raises:
        ValueError: a sequence of the wrong length, or an entry below 1.
    """
    values = [int(stride)] * spatial_dims if isinstance(stride, int) else [int(s) for s in stride]
    if len(values) != spatial_dims or min(values) < 1:
        raise ValueError(
            f"{what} must be a positive int or {spatial_dims} positive ints (one per spatial axis), got {stride!r}."
        )
    return tuple(values)


def valid_shrink(kernel_size: int | Sequence[int], padding: str, num_convs: int, block: str) -> int:
    """Voxels a block of ``num_convs`` convolutions loses per axis: 0 with same padding, ``num_convs (k - 1)``
    with valid padding.

    Raises:
        ValueError: a kernel that differs between axes with valid padding (the size arithmetic is per block, not
            per axis).
    """
    if padding == "same":
        return 0
    sizes = {int(kernel_size)} if isinstance(kernel_size, int) else {int(k) for k in kernel_size}
    if len(sizes) != 1:
        raise ValueError(f"{block}: a kernel per axis ({kernel_size!r}) needs padding='same'.")
    return num_convs * (sizes.pop() - 1)


def conv_unit(
    spatial_dims: int,
    in_channels: int,
    out_channels: int,
    kernel_size: int | Sequence[int] = 3,
    strides: int | Sequence[int] = 1,
    act: str | tuple | None = ("relu", {"inplace": True}),
    norm: str | tuple | None = "batch",
    dropout: float = 0.0,
    bias: bool = True,
    padding: str = "same",
    groups: int = 1,
) -> Convolution:
    """Convolution → norm → activation → dropout (MONAI ``Convolution`` with ``adn_ordering="NAD"``).

    ``padding="same"`` pads ``kernel_size // 2`` (size kept at stride 1); ``"valid"`` pads nothing. Kernel size
    and stride: one int, or one per spatial axis.
    """
    if check_padding(padding, "conv_unit") == "same":
        pad: int | list[int] = kernel_size // 2 if isinstance(kernel_size, int) else [k // 2 for k in kernel_size]
    else:
        pad = 0
    return Convolution(
        spatial_dims,
        in_channels,
        out_channels,
        strides=strides,
        kernel_size=kernel_size,
        adn_ordering="NAD",
        act=act,
        norm=norm,
        dropout=dropout if dropout else None,
        bias=bias,
        padding=pad,
        groups=groups,
    )


def plain_conv(spatial_dims: int, in_channels: int, out_channels: int, kernel_size: int = 1, **kwargs) -> nn.Module:
    """A bare convolution from MONAI's factory (no norm, no activation)."""
    return Conv[Conv.CONV, spatial_dims](in_channels, out_channels, kernel_size=kernel_size, **kwargs)


def norm_layer(norm: str | tuple | None, spatial_dims: int, channels: int) -> nn.Module:
    """MONAI norm layer, or identity when ``norm`` is ``None``."""
    return nn.Identity() if norm is None else get_norm_layer(norm, spatial_dims=spatial_dims, channels=channels)


def act_layer(act: str | tuple | None, inplace: bool = False) -> nn.Module:
    """MONAI activation layer, or identity when ``act`` is ``None``.

    Unless ``inplace`` is true, an ``inplace`` option in ``act`` is turned off: pre-activations in cells
    act on tensors that other branches (and skip connections) still read.
    """
    if act is None:
        return nn.Identity()
    if not inplace and isinstance(act, (tuple, list)) and len(act) > 1 and isinstance(act[1], dict):
        act = (act[0], {**act[1], "inplace": False}) if "inplace" in act[1] else act
    return get_act_layer(act)


def match_size(x: torch.Tensor, size: list[int]) -> torch.Tensor:
    """Centre-crop or zero-pad the spatial dimensions of ``x`` (N, C, *spatial) to ``size``.

    Used where an encoder map meets a decoder map of a different size: valid padding (crop the larger
    encoder map, as in the 2015 U-Net) and odd sizes with same padding (pad the upsampled map).
    """
    spatial = x.shape[2:]
    pads: list[int] = []
    # F.pad takes (last_dim_lo, last_dim_hi, previous_dim_lo, ...)
    for d in range(len(size) - 1, -1, -1):
        diff = size[d] - spatial[d]
        lo = diff // 2
        pads.append(lo)
        pads.append(diff - lo)
    changed = False
    for p in pads:
        if p != 0:
            changed = True
    if not changed:
        return x
    return F.pad(x, pads)  # negative pads crop
