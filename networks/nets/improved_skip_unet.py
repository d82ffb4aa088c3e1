"""The U-Net with improved skip connections of seed 004 (Li et al. 2022) as configurations of ModularUNet.

* ``"ours2"``: every skip leaves its encoder block after the first convolution instead of the second
  (``skip_tap="first_conv"``). With batch norm, width 32, depth 4, 1 → 1 channel: 7,765,409 parameters.
* ``"ours1"``: Ours2 plus the bottom (fifth) block returning the concatenation of its two convolutions
  (``bottom_concat=True``), which doubles the channels into the first up-convolution: 8,289,697 parameters.

Dropout after the convolutions, as the paper adds against over-fitting, is ``dropout`` (rate per block or one
for all).
"""

from __future__ import annotations

from typing import Any

from networks.nets.modular_unet import ModularUNet

__all__ = ["improved_skip_unet", "IMPROVED_SKIP_VARIANTS"]

IMPROVED_SKIP_VARIANTS = {"ours1": {"skip_tap": "first_conv", "bottom_concat": True}, "ours2": {"skip_tap": "first_conv"}}


def improved_skip_unet(variant: str = "ours1", dropout: float = 0.2, **kwargs: Any) -> ModularUNet:
    """Build "Ours1" or "Ours2" of seed 004; other arguments are those of :class:`ModularUNet`.

    Args:
        variant: ``"ours1"`` or ``"ours2"``.
        dropout: dropout rate after every convolution (the paper does not state its rate; 0.2 by default).
    """
    if variant not in IMPROVED_SKIP_VARIANTS:
        raise ValueError(f"unknown improved-skip variant {variant!r}; valid names: {', '.join(IMPROVED_SKIP_VARIANTS)}.")
    return ModularUNet(dropout=dropout, **{**kwargs, **IMPROVED_SKIP_VARIANTS[variant]})
