"""A short training run on synthetic samples: does a tiny U-Net learn something from the images?"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from networks import ModularUNet


def prior_entropy(labels: torch.Tensor, num_classes: int) -> float:
    """Cross-entropy of the best constant prediction (the label frequencies): what a net ignoring the image gets."""
    counts = torch.bincount(labels.long().flatten(), minlength=num_classes).double()
    p = counts[counts > 0] / counts.sum()
    return float(-(p * p.log()).sum())


def train_tiny_unet(
    images: torch.Tensor, labels: torch.Tensor, num_classes: int, steps: int = 60, lr: float = 0.02, seed: int = 0
) -> list[float]:
    """Train ``ModularUNet(spatial_dims=2, features=4, depth=2)`` with cross-entropy on one full batch.

    Args:
        images: (N, C, H, W) float, roughly normalised.
        labels: (N, 1, H, W) integer class map in [0, num_classes).
        num_classes: output channels.
        steps: Adam steps.

    Returns:
        The loss of every step.
    """
    torch.manual_seed(seed)
    net = ModularUNet(spatial_dims=2, in_channels=images.shape[1], out_channels=num_classes, features=4, depth=2)
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    target = labels[:, 0].long()
    losses = []
    net.train()
    for _ in range(steps):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(images.float()), target)
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    return losses


def assert_learns(images: torch.Tensor, labels: torch.Tensor, num_classes: int, steps: int = 60) -> None:
    """The loss falls, and ends well below the loss of the best constant prediction (so the image is used)."""
    losses = train_tiny_unet(images, labels, num_classes, steps=steps)
    first, last = sum(losses[:3]) / 3, sum(losses[-5:]) / 5
    floor = prior_entropy(labels, num_classes)
    assert math.isfinite(last), losses
    assert last < 0.6 * first, f"loss did not fall enough: {first:.3f} -> {last:.3f}"
    assert last < 0.8 * floor, f"final loss {last:.3f} not below 0.8 x the constant predictor's {floor:.3f}"


def stack(samples: Sequence[dict], key: str) -> torch.Tensor:
    return torch.stack([torch.as_tensor(s[key]) for s in samples])


def run_script_main(script: str, argv: list[str]) -> int:
    """Call ``main(argv)`` of ``scripts/<script>`` in this process (a second subprocess would re-import torch)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / script
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)
