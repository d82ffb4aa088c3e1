"""Networks assembled from the slot registries."""

from networks.nets.fcn import FCN8s
from networks.nets.improved_skip_unet import improved_skip_unet
from networks.nets.modular_unet import ModularUNet, expand_features, supported_kernel_sizes
from networks.nets.unet_plus_plus import UNetPlusPlus

__all__ = ["ModularUNet", "expand_features", "supported_kernel_sizes", "UNetPlusPlus", "FCN8s", "improved_skip_unet"]
