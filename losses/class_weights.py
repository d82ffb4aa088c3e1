"""Class weights from the inverse class frequencies of the training masks (seed 002), computed once from YAML."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch

__all__ = ["class_frequency_weights", "count_classes"]


def _label_of(item: Any, key: str) -> torch.Tensor:
    if isinstance(item, Mapping):
        if key not in item:
            raise KeyError(f"a training item has no {key!r} key (keys: {sorted(item)}); set label_key.")
        item = item[key]
    tensor = item if isinstance(item, torch.Tensor) else torch.as_tensor(np.asarray(item))
    return tensor.as_subclass(torch.Tensor)  # a plain tensor, also from MONAI's MetaTensor


def _items(data: Any) -> Iterable:
    """Items of a dataset (``__len__`` + ``__getitem__``, e.g. MONAI ``CacheDataset``), a list, or any iterable."""
    if isinstance(data, (torch.Tensor, np.ndarray)):
        return [data]
    if hasattr(data, "__len__") and hasattr(data, "__getitem__") and not isinstance(data, Mapping):
        return (data[i] for i in range(len(data)))
    return data


def count_classes(data: Any, num_classes: int, label_key: str = "label") -> torch.Tensor:
    """Pixel count of each class ``0 .. num_classes - 1`` over all label maps of ``data``.

    Args:
        data: a dataset or iterable of dicts holding ``label_key`` (e.g. the bundle's cached training volumes
            ``@data#train_volumes``), of label tensors/arrays, or a single label tensor/array. Labels hold class
            indices (binary masks are classes 0 and 1); a list item (``RandCropByPosNegLabeld`` style) is counted
            element by element.
        num_classes: number of classes ``C``.
        label_key: key of the label in dict items.

    Returns:
        ``(C,)`` int64 tensor of pixel counts.

    Raises:
        ValueError: a label value is not an integer in ``[0, C)``.
    """
    counts = torch.zeros(num_classes, dtype=torch.int64)
    for item in _items(data):
        labels = [_label_of(x, label_key) for x in item] if isinstance(item, list) else [_label_of(item, label_key)]
        for label in labels:
            label = label.detach().cpu().flatten()
            if label.is_floating_point():
                if not bool((label == label.round()).all()):
                    raise ValueError("labels must hold class indices; found non-integer values.")
            label = label.long()
            if label.numel() and (int(label.min()) < 0 or int(label.max()) >= num_classes):
                raise ValueError(
                    f"label values must be in [0, {num_classes}) for num_classes={num_classes}, "
                    f"found [{int(label.min())}, {int(label.max())}]."
                )
            counts += torch.bincount(label, minlength=num_classes)
    return counts


def class_frequency_weights(data: Any, num_classes: int = 2, label_key: str = "label") -> torch.Tensor:
    """Inverse class frequencies of the training labels: ``w_c = N / (C * N_c)``.

    ``N_c`` is the pixel count of class ``c`` over all labels of ``data`` and ``N = sum_c N_c``. The weights are
    proportional to ``1 / frequency`` (seed 002: "weights for pixel values 0 and 1 ... inverse frequencies within
    masks from the train set") and scaled so that ``sum_c w_c N_c = N``: each class carries the same total weight
    ``N / C``, and a weighted per-pixel mean stays on the scale of the unweighted one (scikit-learn's "balanced").

    Called once when the config is parsed, e.g. in ``bundles/common/configs/losses.yaml#weighted_bce``::

        class_weights:
          _target_: losses.class_frequency_weights
          data: "@data#train_volumes"
          num_classes: 2

    The bundle's cached training volumes are the pre-processed (cropped, label-mapped), un-augmented masks; the
    cache is filled once and shared with the training loader.

    Args:
        data: see :func:`count_classes`.
        num_classes: number of classes ``C`` (2 for a binary mask: background, foreground).
        label_key: key of the label in dict items.

    Returns:
        ``(C,)`` float32 tensor (for :class:`losses.WeightedBCELoss` with ``C = 2``, or class ``weight`` of
        :class:`losses.CrossEntropyLoss`).

    Raises:
        ValueError: no labels, or a class that never occurs (its weight would be infinite).
    """
    counts = count_classes(data, num_classes, label_key)
    total = int(counts.sum())
    if total == 0:
        raise ValueError("no label pixels found: is the training set empty?")
    missing = [c for c in range(num_classes) if counts[c] == 0]
    if missing:
        raise ValueError(
            f"classes {missing} never occur in the training labels (counts {counts.tolist()}): weight undefined."
        )
    return (total / (num_classes * counts.double())).float()
