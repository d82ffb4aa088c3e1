"""Whether to keep only the largest connected component of a class, decided on cross-validation predictions
(nnU-Net's rule: a post-processing step is used only where it raises the mean Dice of the held-out cases).

Region-based plans (nnU-Net's ``"whole tumour": [1, 2, 3]``) are scored and decided per region, on the label maps
inference writes: the step removes components of a region's channel before the channels are painted into one map
with ``regions_class_order`` (``transforms.largest_component.KeepLargestOfPland`` then the writer), and
:class:`Regions` does the same to a written map, so the decision sees exactly what inference will write."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from monai.transforms import KeepLargestConnectedComponent

__all__ = [
    "ComponentDecision", "Regions", "class_mask", "decide_largest_component", "dice_of_class", "keep_largest_component",
    "mask_dice",
]


def mask_dice(p: np.ndarray, g: np.ndarray, empty: float = 1.0) -> float:
    """Dice of two boolean masks; ``empty`` when both are empty (1.0: nothing to find, none found)."""
    denom = int(p.sum()) + int(g.sum())
    return empty if denom == 0 else 2.0 * int(np.logical_and(p, g).sum()) / denom


def dice_of_class(pred: np.ndarray, label: np.ndarray, value: int) -> float:
    """Dice of one class in two label maps; 1.0 when the class is absent from both (nothing to find, none found)."""
    return mask_dice(pred == value, label == value)


@dataclass(frozen=True)
class Regions:
    """The regions of a region-based plan and how inference writes them as one label map.

    Attributes:
        labels: the label values of each region, channel order (``[[1, 2, 3], [2, 3], [3]]``).
        order: ``regions_class_order``: the value written for each region, painted region after region.
    """

    labels: tuple[tuple[int, ...], ...]
    order: tuple[int, ...]

    @classmethod
    def from_plan(cls, plan: Mapping) -> Regions | None:
        """The plan's regions, or None for a plan of classes."""
        if not plan.get("region_based"):
            return None
        from transforms.labels import regions_from_labels

        labels = regions_from_labels(plan["labels"])
        order = [int(v) for v in plan["regions_class_order"]]
        if len(order) != len(labels):
            raise ValueError(f"regions_class_order {order} must give one value per region, the plan has {len(labels)}.")
        return cls(tuple(tuple(r) for r in labels), tuple(order))

    def channel(self, value: int) -> int:
        """The region channel whose painted value is ``value``."""
        if int(value) not in self.order:
            raise ValueError(f"{value} is not a value of regions_class_order {list(self.order)}.")
        return self.order.index(int(value))

    def mask(self, label_map: np.ndarray, value: int) -> np.ndarray:
        """The region painted as ``value``, read back from a label map (its voxels hold any of the region's labels)."""
        return np.isin(label_map, self.labels[self.channel(value)])

    def paint(self, masks: Sequence[np.ndarray]) -> np.ndarray:
        """Region masks (channel order) -> int64 label map, with inference's own ``transforms.labels.RegionsToLabel``."""
        from transforms.labels import RegionsToLabel

        stacked = torch.from_numpy(np.stack([np.asarray(m, dtype=np.uint8) for m in masks]))
        return RegionsToLabel(self.order)(stacked)[0].numpy().astype(np.int64)


def class_mask(label_map: np.ndarray, value: int, regions: Regions | None = None) -> np.ndarray:
    """Where a label map holds class ``value``; with ``regions``, the region painted as ``value`` (:meth:`Regions.mask`)."""
    return label_map == value if regions is None else regions.mask(label_map, value)


def _largest(mask: np.ndarray) -> np.ndarray:
    keep = KeepLargestConnectedComponent(applied_labels=[1], is_onehot=False, independent=True)
    return np.asarray(keep(torch.tensor(mask.astype(np.uint8))[None]))[0] > 0


def keep_largest_component(pred: np.ndarray, values: Sequence[int], regions: Regions | None = None) -> np.ndarray:
    """``pred`` (a label map, *spatial) with only the largest connected component of each class in ``values``
    (MONAI's KeepLargestConnectedComponent, full connectivity); removed voxels become background (0).

    With ``regions``, ``values`` are values of ``regions_class_order``: the map is split into its region masks, the
    largest component of each chosen region's mask is kept and the masks are painted again, as inference does with
    the region channels (a voxel of an inner region the step left alone keeps its value)."""
    if not values:
        return pred
    if regions is not None:
        masks = [regions.mask(pred, v) for v in regions.order]
        for v in values:
            masks[regions.channel(v)] = _largest(masks[regions.channel(v)])
        return regions.paint(masks).astype(pred.dtype)
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
    predictions: Sequence[np.ndarray], labels: Sequence[np.ndarray], classes: Sequence[int], min_gain: float = 0.0,
    regions: Regions | None = None,
) -> ComponentDecision:
    """For each class, compare the mean Dice over the cases with and without keeping its largest component.

    Args:
        predictions: label maps predicted for held-out cases (e.g. the validation folds of a cross-validation).
        labels: their ground truth, same shapes.
        classes: foreground label values to decide on (with ``regions``: values of ``regions_class_order``).
        min_gain: the mean Dice must rise by more than this for the step to be applied (0: any rise).
        regions: a region-based plan's regions: each region is scored as a whole (its mask read back from the
            label maps) and the step is applied to its mask before the map is painted again, as inference does.

    Returns:
        A :class:`ComponentDecision`; ``classes`` lists the values to apply it to at inference
        (``KeepLargestConnectedComponentd(applied_labels=...)``).
    """
    if len(predictions) != len(labels) or not predictions:
        raise ValueError(f"need as many predictions as labels (got {len(predictions)} and {len(labels)}), at least one.")
    decision = ComponentDecision()
    for c in classes:
        truth = [class_mask(g, c, regions) for g in labels]
        before = [mask_dice(class_mask(p, c, regions), t) for p, t in zip(predictions, truth)]
        after = [mask_dice(class_mask(keep_largest_component(p, [c], regions), c, regions), t)
                 for p, t in zip(predictions, truth)]
        decision.dice_before[c] = float(np.mean(before))
        decision.dice_after[c] = float(np.mean(after))
        if decision.dice_after[c] > decision.dice_before[c] + min_gain:
            decision.classes.append(int(c))
    return decision
