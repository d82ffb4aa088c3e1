"""Whether to keep only the largest connected component of a class, decided on cross-validation predictions
(nnU-Net's rule: a post-processing step is used only where it raises the mean Dice of the held-out cases)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from monai.transforms import KeepLargestConnectedComponent

__all__ = ["ComponentDecision", "decide_largest_component", "dice_of_class", "keep_largest_component"]


def dice_of_class(pred: np.ndarray, label: np.ndarray, value: int) -> float:
    """Dice of one class in two label maps; 1.0 when the class is absent from both (nothing to find, none found)."""
    p, g = pred == value, label == value
    denom = int(p.sum()) + int(g.sum())
    return 1.0 if denom == 0 else 2.0 * int(np.logical_and(p, g).sum()) / denom


def keep_largest_component(pred: np.ndarray, values: Sequence[int]) -> np.ndarray:
    """``pred`` (a label map, *spatial) with only the largest connected component of each class in ``values``
    (MONAI's KeepLargestConnectedComponent, full connectivity); removed voxels become background (0)."""
    if not values:
        return pred
    keep = KeepLargestConnectedComponent(applied_labels=list(values), is_onehot=False, independent=True)
    # a copy: MONAI changes the tensor in place, and torch.as_tensor would share the caller's array
    return np.asarray(keep(torch.tensor(pred)[None]))[0].astype(pred.dtype)


@dataclass
class ComponentDecision:
    """The decision and the numbers behind it.

    Attributes:
        classes: label values for which keeping the largest component raised the mean Dice (apply these).
        dice_before: mean Dice per class over the cases without post-processing.
        dice_after: mean Dice per class with the largest component of that class kept.
    """

    classes: list[int] = field(default_factory=list)
    dice_before: dict[int, float] = field(default_factory=dict)
    dice_after: dict[int, float] = field(default_factory=dict)

    def table(self) -> str:
        """One line per class: ``class 1: 0.812 -> 0.845 (apply)``."""
        return "\n".join(
            f"class {c}: {self.dice_before[c]:.4f} -> {self.dice_after[c]:.4f} "
            f"({'apply' if c in self.classes else 'keep as is'})"
            for c in sorted(self.dice_before)
        )


def decide_largest_component(
    predictions: Sequence[np.ndarray], labels: Sequence[np.ndarray], classes: Sequence[int], min_gain: float = 0.0
) -> ComponentDecision:
    """For each class, compare the mean Dice over the cases with and without keeping its largest component.

    Args:
        predictions: label maps predicted for held-out cases (e.g. the validation folds of a cross-validation).
        labels: their ground truth, same shapes.
        classes: foreground label values to decide on.
        min_gain: the mean Dice must rise by more than this for the step to be applied (0: any rise).

    Returns:
        A :class:`ComponentDecision`; ``classes`` lists the values to apply it to at inference
        (``KeepLargestConnectedComponentd(applied_labels=...)``).
    """
    if len(predictions) != len(labels) or not predictions:
        raise ValueError(f"need as many predictions as labels (got {len(predictions)} and {len(labels)}), at least one.")
    decision = ComponentDecision()
    for c in classes:
        before = [dice_of_class(p, g, c) for p, g in zip(predictions, labels)]
        after = [dice_of_class(keep_largest_component(p, [c]), g, c) for p, g in zip(predictions, labels)]
        decision.dice_before[c] = float(np.mean(before))
        decision.dice_after[c] = float(np.mean(after))
        if decision.dice_after[c] > decision.dice_before[c] + min_gain:
            decision.classes.append(int(c))
    return decision
