"""Networks of the U-Net family: slot registries, blocks, the modular U-Net and the parameter budget."""

from networks import blocks  # noqa: F401  (registers the built-in modules)
from networks.budget import budgeted_modular_unet, count_parameters, solve_width
from networks.nets import ModularUNet, expand_features
from networks.registry import CONV_BLOCKS, DOWN_OPS, SKIPS, UP_OPS, SlotRegistry

__all__ = [
    "ModularUNet", "expand_features", "budgeted_modular_unet", "count_parameters", "solve_width",
    "SlotRegistry", "CONV_BLOCKS", "SKIPS", "DOWN_OPS", "UP_OPS",
]
