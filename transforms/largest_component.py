"""Keep only the largest connected component of chosen classes of a post-processed prediction of the generic path,
the classes named by their label values (as written to disk and as decided on cross-validation predictions by
``experiments.postprocessing.decide_largest_component``)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from monai.config import KeysCollection
from monai.transforms import KeepLargestConnectedComponent, MapTransform

__all__ = ["KeepLargestOfPland", "plan_channels_of_values"]


def plan_channels_of_values(plan: Mapping, values: Sequence[int]) -> list[int]:
    """Where each label value lives in a post-processed prediction of ``plan``: the training index (classes,
    ``label_values``' position) or the region channel (regions, ``regions_class_order``' position).

    Raises:
        ValueError: a value is not a foreground label of the plan (the message lists those it has).
    """
    if plan.get("region_based"):
        known = [int(v) for v in plan["regions_class_order"]]
    else:
        known = [int(v) for v in (plan.get("label_values") or range(int(plan["out_channels"])))]
    out = []
    for v in values:
        if int(v) not in known or (not plan.get("region_based") and known.index(int(v)) == 0):
            raise ValueError(
                f"keep_largest: label value {v} is not a foreground label of the plan (its labels: {known[1:] if not plan.get('region_based') else known}); "
                "give values of dataset.json, e.g. --keep_largest \"[1]\""
            )
        out.append(known.index(int(v)))
    return out


class KeepLargestOfPland(MapTransform):
    """Keep the largest connected component (full connectivity) of each class in ``values``; the removed voxels
    become background. Other classes are untouched.

    Args:
        keys: the prediction key.
        plan: the run's plan (``label_values``, or ``regions_class_order`` for regions).
        values: label values of ``dataset.json`` to apply it to (empty: nothing changes).

    Shape:
        classes: ``(1, *spatial)`` training indices; regions: ``(R, *spatial)`` binary channels (each region's
        channel on its own). Same shape out.
    """

    def __init__(self, keys: KeysCollection, plan: Mapping, values: Sequence[int] = (), allow_missing_keys: bool = False):
        super().__init__(keys, allow_missing_keys)
        self.channels = plan_channels_of_values(plan, values)
        self.region_based = bool(plan.get("region_based"))
        self.keep = (
            KeepLargestConnectedComponent(applied_labels=self.channels, is_onehot=self.region_based, independent=True)
            if self.channels
            else None
        )

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        if self.keep is None:
            return d
        for key in self.key_iterator(d):
            d[key] = self.keep(d[key])
        return d
