"""Networks assembled from the slot registries."""

from networks.nets.modular_unet import ModularUNet, expand_features

__all__ = ["ModularUNet", "expand_features"]
