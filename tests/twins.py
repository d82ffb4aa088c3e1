"""Tiny synthetic twins of every registered data format, shared by the tests that run a bundle or a recipe decision
on each format (a few cases of 32 x 32 pixels, or 32 x 32 x 8 voxels); the session fixture ``format_twins``
(tests/conftest.py) writes them once."""

from __future__ import annotations

__all__ = ["TINY_TWINS"]

# format name -> options of its synthesize()
TINY_TWINS = {
    "msd": {"num_training": 3, "num_test": 0, "spatial_size": (32, 32, 8)},
    "brats2020": {"num_cases": 3, "spatial_size": (32, 32, 8)},
    "isbi2012": {"num_pages": 3, "size": 32},
    "figshare": {"num_images": 3, "num_patients": 3, "size": 32},
    "png_pairs": {"num_images": 3, "size": 32},
    "nnunet_v2": {"kind": "mri", "num_training": 3, "num_test": 0},
}
