"""Label encodings for training and back: region labels (nnU-Net's ``"whole tumor": [1, 2, 3]``) to one binary
channel per region and back with ``regions_class_order``; label values as on disk to consecutive training
indices and back (BraTS' 0, 1, 2, 4 -> 0, 1, 2, 3)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform, Transform

__all__ = [
    "ConvertToRegions",
    "ConvertToRegionsd",
    "IndicesToLabelValuesd",
    "LabelValuesToIndicesd",
    "RegionsToLabel",
    "RegionsToLabeld",
    "indices_to_label_values",
    "label_values_to_indices",
    "regions_from_labels",
]


def _like(out: torch.Tensor, ref: Any) -> torch.Tensor:
    if isinstance(ref, MetaTensor):
        return MetaTensor(out, meta=ref.meta, applied_operations=ref.applied_operations)
    return out


def regions_from_labels(labels: Mapping[str, int | Sequence[int]]) -> list[list[int]]:
    """The label values of each region, in declaration order, background (0) excluded.

    ``{"background": 0, "whole tumor": [1, 2, 3], "tumor core": [2, 3], "enhancing tumor": 3}`` ->
    ``[[1, 2, 3], [2, 3], [3]]``.
    """
    regions = []
    for value in labels.values():
        vals = [int(v) for v in value] if isinstance(value, (list, tuple)) else [int(value)]
        if vals != [0]:
            regions.append(vals)
    return regions


class ConvertToRegions(Transform):
    """Label map (1, *spatial) of on-disk values -> one binary channel per region (R, *spatial), float32.

    Args:
        regions: label values of each region (:func:`regions_from_labels`), or the plan's ``labels`` dict.
    """

    def __init__(self, regions: Sequence[Sequence[int]] | Mapping[str, Any]) -> None:
        self.regions = regions_from_labels(regions) if isinstance(regions, Mapping) else [list(r) for r in regions]

    def __call__(self, label: torch.Tensor) -> torch.Tensor:
        lab = torch.as_tensor(label)
        if lab.shape[0] != 1:
            raise ValueError(f"a label map has one channel, got shape {tuple(lab.shape)}.")
        values = torch.round(lab[0]).long()
        out = torch.stack([torch.isin(values, torch.tensor(r, device=values.device)) for r in self.regions]).float()
        return _like(out, label)


class ConvertToRegionsd(MapTransform):
    """Dictionary form of :class:`ConvertToRegions` (keys: the label key(s))."""

    def __init__(self, keys: KeysCollection, regions: Sequence[Sequence[int]] | Mapping[str, Any],
                 allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.converter = ConvertToRegions(regions)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.converter(d[key])
        return d


class RegionsToLabel(Transform):
    """Region predictions (R, *spatial) -> label map (1, *spatial) of on-disk values, as nnU-Net: start from 0 and
    write ``regions_class_order[r]`` where region ``r``'s probability exceeds ``threshold``, region after region
    (so nested regions, listed outer first, leave the innermost value).

    Args:
        regions_class_order: one label value per region.
        threshold: on probabilities (sigmoid outputs) or binary masks.
    """

    def __init__(self, regions_class_order: Sequence[int], threshold: float = 0.5) -> None:
        self.order = [int(v) for v in regions_class_order]
        self.threshold = float(threshold)

    def __call__(self, pred: torch.Tensor) -> torch.Tensor:
        p = torch.as_tensor(pred)
        if p.shape[0] != len(self.order):
            raise ValueError(f"{p.shape[0]} region channel(s) but regions_class_order has {len(self.order)} entries.")
        out = torch.zeros((1, *p.shape[1:]), dtype=torch.float32, device=p.device)
        for r, value in enumerate(self.order):
            out[0][p[r] > self.threshold] = float(value)
        return _like(out, pred)


class RegionsToLabeld(MapTransform):
    """Dictionary form of :class:`RegionsToLabel` (keys: the prediction key(s))."""

    def __init__(self, keys: KeysCollection, regions_class_order: Sequence[int], threshold: float = 0.5,
                 allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.converter = RegionsToLabel(regions_class_order, threshold)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.converter(d[key])
        return d


def label_values_to_indices(label: torch.Tensor, label_values: Sequence[int]) -> torch.Tensor:
    """On-disk values -> training indices (``label_values[i]`` -> ``i``), float32, same shape.

    Raises:
        ValueError: the label holds values not in ``label_values`` (named, with the file when the meta has it).
    """
    lab = torch.as_tensor(label)
    values = torch.round(lab).long()
    table = torch.tensor([int(v) for v in label_values], device=values.device)
    found = torch.unique(values)
    unknown = [int(v) for v in found if not bool((table == v).any())]
    if unknown:
        name = getattr(label, "meta", {}).get("filename_or_obj", "label")
        raise ValueError(
            f"{name}: label value(s) {unknown} are not among {list(label_values)}; fix the file or the plan."
        )
    out = torch.zeros_like(values)
    for i, v in enumerate(table):
        out[values == v] = i
    return _like(out.float(), label)


def indices_to_label_values(index: torch.Tensor, label_values: Sequence[int]) -> torch.Tensor:
    """Training indices -> on-disk values (``i`` -> ``label_values[i]``), float32, same shape."""
    idx = torch.round(torch.as_tensor(index)).long()
    table = torch.tensor([int(v) for v in label_values], device=idx.device)
    if idx.numel() and (idx.min() < 0 or idx.max() >= len(table)):
        raise ValueError(f"indices must be in 0..{len(table) - 1}, found {int(idx.min())}..{int(idx.max())}.")
    return _like(table[idx].float(), index)


class LabelValuesToIndicesd(MapTransform):
    """Dictionary form of :func:`label_values_to_indices` (the plan's ``label_values``)."""

    def __init__(self, keys: KeysCollection, label_values: Sequence[int], allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.label_values = [int(v) for v in label_values]

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = label_values_to_indices(d[key], self.label_values)
        return d


class IndicesToLabelValuesd(MapTransform):
    """Dictionary form of :func:`indices_to_label_values` (predictions back to the values of dataset.json)."""

    def __init__(self, keys: KeysCollection, label_values: Sequence[int], allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.label_values = [int(v) for v in label_values]

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = indices_to_label_values(d[key], self.label_values)
        return d
