"""Inferers: how a trained network is applied to whole cases (mirroring test-time augmentation, ensembles)."""

from inferers.ensemble import EnsembleInferer
from inferers.mirror_tta import MirrorTTAInferer, mirror_axes_combinations

__all__ = ["EnsembleInferer", "MirrorTTAInferer", "mirror_axes_combinations"]
