"""Ensembles of networks (e.g. the k models of a cross-validation): the mean of their probabilities."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from monai.inferers import Inferer, SimpleInferer

__all__ = ["EnsembleInferer"]

_EPS = 1e-7


class EnsembleInferer(Inferer):
    """Average the class probabilities of several networks and return them as logits of that mean.

    Each network runs through ``inferer``; its output becomes probabilities (softmax over channels, or a sigmoid
    per channel), which are averaged over the networks. The result is returned as ``log(p)`` (softmax) or
    ``logit(p)`` (sigmoid), so the bundle's usual post-processing (softmax/sigmoid, then argmax/threshold) yields
    exactly the mean probability ``p``: an ensemble is a drop-in inferer.

    Args:
        networks: the members (e.g. the best model of each fold), in eval mode on the input's device.
        inferer: how each member is applied (sliding windows, slices, mirroring TTA ...).
        activation: ``"softmax"`` (classes) or ``"sigmoid"`` (one probability per channel / region).

    Shape:
        ``inputs`` (B, C, *spatial) -> (B, K, *spatial) float32.
    """

    def __init__(
        self, networks: Sequence[torch.nn.Module], inferer: Inferer | None = None, activation: str = "softmax"
    ) -> None:
        super().__init__()
        if not networks:
            raise ValueError("EnsembleInferer needs at least one network.")
        if activation not in ("softmax", "sigmoid"):
            raise ValueError(f"activation must be 'softmax' or 'sigmoid', got {activation!r}.")
        self.networks = list(networks)
        self.inferer = inferer if inferer is not None else SimpleInferer()
        self.activation = activation

    def probabilities(self, inputs: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        """The mean probability over the members (B, K, *spatial)."""
        total = None
        for net in self.networks:
            out = self.inferer(inputs, net, *args, **kwargs).float()
            prob = torch.softmax(out, dim=1) if self.activation == "softmax" else torch.sigmoid(out)
            total = prob if total is None else total + prob
        return total / len(self.networks)

    def __call__(self, inputs: torch.Tensor, network: Any = None, *args: Any, **kwargs: Any) -> torch.Tensor:
        """``network`` (the engine's own) is ignored: the members are the ensemble."""
        p = self.probabilities(inputs, *args, **kwargs).clamp(_EPS, 1 - _EPS)
        return torch.log(p) if self.activation == "softmax" else torch.log(p) - torch.log1p(-p)
