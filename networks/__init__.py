"""Networks of the U-Net family: slot registries, blocks, the modular U-Net and the parameter budget."""

from networks import blocks  # noqa: F401  (registers the built-in modules)
from networks.budget import budgeted_modular_unet, count_parameters, solve_width
from networks.nets import FCN8s, ModularUNet, UNetPlusPlus, expand_features, improved_skip_unet, supported_kernel_sizes
from networks.registry import CONV_BLOCKS, DOWN_OPS, SKIPS, UP_OPS, SlotRegistry

__all__ = [
    "ModularUNet", "UNetPlusPlus", "FCN8s", "improved_skip_unet", "expand_features", "supported_kernel_sizes",
    "budgeted_modular_unet", "count_parameters", "solve_width",
    "SlotRegistry", "CONV_BLOCKS", "SKIPS", "DOWN_OPS", "UP_OPS",
]
