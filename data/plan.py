"""The plan of a data set, made from its fingerprint (nnU-Net's rules, our implementation): target spacing, 2D
slice axis, normalisation per channel, cropping, patch and batch size for a memory budget, network depth and
output head. The keys are the contract in the module's :data:`PLAN_KEYS` (shared with the training workflow):
every plan holds all of them, each overridable (``make_plan(..., overrides={"patch_size": [96, 96]})``).

Rules:

- target spacing: the median spacing per axis; when the median spacing is anisotropic (coarsest / finest > 3) the
  coarse axis takes the 10th percentile of its spacings (not finer than the finest other axis), so thick-slice data
  are not interpolated into many thin slices; ``resample`` is false when every case already has it (1e-3 rel.);
- slice axis of a 2D network on 3D data: the coarsest axis of the target spacing (ties, e.g. isotropic data: the
  last axis);
- normalisation from the channel name (case-insensitive): ``CT`` -> clip to the foreground 0.5 / 99.5 percentiles
  of the whole data set widened on both sides by ``ct_clip_margin`` (default 0.5) times their distance, and
  z-score with the foreground mean / std of the whole data set (nnU-Net clips at the percentiles themselves,
  ``ct_clip_margin`` 0: the 1 % outermost foreground voxels then take the value of all darker (brighter) tissue;
  on the CT twin that cost 0.006-0.008 Dice: docs/benchmarks.md);
  ``noNorm`` -> none; ``rescale_to_0_1`` (and ``rgb_to_0_1``) -> per-case min-max to [0, 1]; ``zscore`` and MR
  names (T1, T2, FLAIR, ADC, ...) -> per-case z-score; any other name -> per-case z-score with a warning. The
  z-score uses the non-zero mask when cropping to the non-zero bounding box shrinks the cases by 25 % or more on
  average (brain MRI);
- crop to the non-zero bounding box (always);
- patch size: from the median case shape after cropping and resampling (in-plane axes for 2D), at most 128 per
  axis in 2D and 96 in 3D on the CPU (1024 / 256 with ``gpu_memory_gb``), shrunk on the axis with the largest
  patch-to-median ratio until the estimated activation memory of a batch of the minimum size fits the budget;
  batch size = what the budget holds, at most 5 % of the data set's voxels per batch (nnU-Net) or 64 / 16, at least
  2 (nnU-Net), and at least 4 for 2D on the CPU: there a step costs time in proportion to its voxels, and
  more, smaller patches per second train better at a wall-time budget than whole-slice pairs (measured on the real
  nuclei tiles: docs/benchmarks.md);
- network depth: 2D: poolings (2 on both axes) while the smallest axis stays >= 4 voxels (at most 5), each axis
  rounded up to a multiple of 2 ** depth (``strides`` null). 3D: nnU-Net's per-axis pooling
  (``get_pool_and_conv_props``): at each level an axis is pooled (stride 2, else 1) while its feature map stays
  >= 4 voxels and its current spacing is less than twice the smallest current spacing of the axes that can still
  be pooled, so on thick-slice data the coarse axis waits until the fine axes catch up (0.9 x 0.9 x 3 mm:
  ``[[2, 2, 1], [2, 2, 2]]``); a single poolable axis needs >= 12 voxels; at most 5 levels. ``strides`` holds one
  stride per level and axis, ``depth`` the number of levels, and each axis is rounded up to a multiple of its
  total stride; ``kernel_sizes`` (``depth + 1`` entries, the last the bottom's) is 1 along an axis at a level while
  its spacing there is >= 2x the finest (once 3, it stays 3), else 3 (nnU-Net's ``conv_kernel_sizes``; 2D: null). ``isotropic_depth`` is the 2D rule on the patch: the depth for networks that pool every axis at
  every level and ignore ``strides`` (UNet++, FCN-8s);
- head: softmax over the classes (background first), or one sigmoid per region for region-based labels.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from data.fingerprint import fingerprint_hash

__all__ = [
    "PLAN_KEYS",
    "choose_normalization",
    "conv_kernel_sizes",
    "estimate_memory_gb",
    "make_plan",
    "network_depth",
    "per_axis_strides",
    "plan_dataset",
    "plan_patch_and_batch",
    "read_plan",
    "slice_axis_of",
    "target_spacing_of",
    "total_strides",
    "write_plan",
]

logger = logging.getLogger(__name__)

PLAN_KEYS = (
    "dataset", "format", "fingerprint_hash", "spatial_dims", "channel_names", "in_channels", "labels",
    "class_names", "region_based", "out_channels", "activation", "label_values", "regions_class_order",
    "target_spacing", "resample", "slice_axis", "normalization", "ct_clip_margin", "crop_to_nonzero",
    "median_shape", "patch_size", "batch_size", "depth", "strides", "kernel_sizes", "isotropic_depth", "features",
    "memory_budget_gb", "device", "warnings",
)
ANISOTROPY_THRESHOLD = 3.0
NONZERO_SHRINK_FOR_MASK = 0.25
CT_CLIP_MARGIN = 0.5  # the CT clip window widened by this fraction of its width on each side (nnU-Net: 0)
MAX_DEPTH = 5
MIN_FEATURE_MAP = 4
CPU_BUDGET_GB = 2.0
# device -> (max patch side in 2D, in 3D), base features, max batch (2D, 3D), min batch (2D, 3D). On a CPU a step
# costs time in proportion to its voxels: 2D patches of at most 128 in batches of at least 4 see more independent
# regions per second than nnU-Net's whole-slice pairs (real nuclei tiles, docs/benchmarks.md)
_DEVICE = {"cpu": ((128, 96), 16, (64, 16), (4, 2)), "gpu": ((1024, 256), 32, (64, 16), (2, 2))}
_MAX_FEATURES = 320
_TENSORS_PER_LEVEL = 12  # stored per voxel and feature at each level: 2 convs x (conv, norm, act) in encoder + decoder
MR_NAMES = frozenset(
    "t1 t1w t1c t1ce t1gd t1post t1contrast t2 t2w t2star flair adc dwi pd pdw mr mri swi dce hbv".split()
)


def _clean(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def choose_normalization(
    channel_names: list[str], intensity: list[dict], nonzero_shrink: float, crop_to_nonzero: bool = True,
    ct_clip_margin: float = CT_CLIP_MARGIN,
) -> tuple[list[dict], list[str]]:
    """Normalisation entry per channel from its name (see the module docstring).

    Args:
        channel_names: one name per channel.
        intensity: the fingerprint's per-channel foreground statistics (``mean``, ``std``, ``percentile_00_5``,
            ``percentile_99_5``).
        nonzero_shrink: mean fraction of the voxels removed by cropping to the non-zero bounding box.
        crop_to_nonzero: whether the plan crops (the non-zero mask is used only then).
        ct_clip_margin: a CT channel is clipped to ``[p0.5 - m w, p99.5 + m w]`` with ``w = p99.5 - p0.5``
            (0: nnU-Net's clip at the percentiles).

    Returns:
        The entries and the warnings (unknown names, substitutions).

    Raises:
        ValueError: a negative or non-finite ``ct_clip_margin``.
    """
    try:
        margin = float(ct_clip_margin)
    except (TypeError, ValueError):
        margin = math.nan
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"ct_clip_margin must be a finite number >= 0 (0: nnU-Net's clip), got {ct_clip_margin!r}.")
    use_mask = bool(crop_to_nonzero and nonzero_shrink >= NONZERO_SHRINK_FOR_MASK)
    entries, warnings = [], []
    for c, name in enumerate(channel_names):
        key = _clean(name)
        if key == "ct":
            stats = intensity[c]
            lo, hi = float(stats["percentile_00_5"]), float(stats["percentile_99_5"])
            entries.append({
                "scheme": "ct",
                "clip": [lo - margin * (hi - lo), hi + margin * (hi - lo)],
                "mean": float(stats["mean"]),
                "std": float(max(stats["std"], 1e-8)),
            })
            if stats.get("num_samples", 1) == 0:
                warnings.append(f"channel {c} ({name!r}): no foreground voxel to compute the CT statistics from")
        elif key == "nonorm":
            entries.append({"scheme": "none"})
        elif key in ("rescaleto01", "rgbto01"):
            entries.append({"scheme": "rescale_to_0_1"})
            if key == "rgbto01":
                warnings.append(f"channel {c} ({name!r}): rgb_to_0_1 is planned as rescale_to_0_1 (per-case min-max)")
        else:
            entries.append({"scheme": "zscore", "use_nonzero_mask": use_mask})
            if key != "zscore" and key not in MR_NAMES:
                warnings.append(
                    f"channel {c} ({name!r}): unknown channel name, normalised by per-case z-score; name it CT, "
                    "noNorm, rescale_to_0_1 or zscore in dataset.json, or override plan normalization"
                )
    return entries, warnings


def target_spacing_of(spacings: np.ndarray) -> tuple[list[float], bool]:
    """Target spacing from the cases' spacings (N, D) and whether the data are anisotropic (module docstring)."""
    spacings = np.asarray(spacings, dtype=np.float64)
    target = np.median(spacings, axis=0)
    anisotropic = bool(target.max() / target.min() > ANISOTROPY_THRESHOLD)
    if anisotropic:
        coarse = int(np.argmax(target))
        others = np.delete(target, coarse)
        target[coarse] = max(float(np.percentile(spacings[:, coarse], 10)), float(others.max()))
    return [float(v) for v in target], anisotropic


def slice_axis_of(target_spacing: list[float]) -> int:
    """The coarsest axis (ties within 1e-3 relative: the last of them)."""
    t = np.asarray(target_spacing, dtype=np.float64)
    return int(max(i for i in range(len(t)) if t[i] >= t.max() * (1 - 1e-3)))


def network_depth(patch_size: list[int]) -> int:
    """Poolings while every axis stays >= 4 voxels: ``min(floor(log2(min(patch) / 4)), 5)``, at least 1."""
    return int(max(1, min(MAX_DEPTH, math.floor(math.log2(max(min(patch_size), 1) / MIN_FEATURE_MAP)))))


def per_axis_strides(spacing: list[float], patch_size: list[int], max_levels: int = MAX_DEPTH) -> list[list[int]]:
    """nnU-Net's per-axis pooling (``get_pool_and_conv_props``) for a patch at a spacing (module docstring).

    Args:
        spacing: the target spacing of the axes the network sees (mm).
        patch_size: the patch, one size per axis.
        max_levels: at most this many levels (poolings per axis too).

    Returns:
        One stride per level and axis (2: pooled, 1: not), at least one level (2 on every axis when no axis can
        be pooled by the rule: patches this small are below the planner's minimum).
    """
    dims = len(spacing)
    current_spacing = [float(v) for v in spacing]
    current_size = [float(v) for v in patch_size]
    strides: list[list[int]] = []
    while len(strides) < max_levels:
        valid = [a for a in range(dims) if current_size[a] >= 2 * MIN_FEATURE_MAP]
        if not valid:
            break
        finest = min(current_spacing[a] for a in valid)
        valid = [a for a in valid if current_spacing[a] / finest < 2]
        if len(valid) == 1 and current_size[valid[0]] < 3 * MIN_FEATURE_MAP:
            break
        level = [2 if a in valid else 1 for a in range(dims)]
        for a in valid:
            current_spacing[a] *= 2
            current_size[a] = math.ceil(current_size[a] / 2)
        strides.append(level)
    return strides or [[2] * dims]


def conv_kernel_sizes(spacing: list[float], strides: list[list[int]]) -> list[list[int]]:
    """nnU-Net's ConvBlock kernels for per-axis ``strides`` at ``spacing``: per level (before its pooling), 3 along
    an axis once its spacing is less than twice the finest (then it stays 3), else 1; the bottom: 3 everywhere.

    Returns:
        ``len(strides) + 1`` kernels of one int per axis.
    """
    current = [float(v) for v in spacing]
    kernel = [1] * len(current)
    kernels: list[list[int]] = []
    for level in strides:
        finest = min(current)
        kernel = [3 if k == 3 or current[a] / finest < 2 else 1 for a, k in enumerate(kernel)]
        kernels.append(list(kernel))
        current = [c * s for c, s in zip(current, level)]
    return kernels + [[3] * len(current)]


def total_strides(strides: list[list[int]] | None, depth: int, dims: int) -> list[int]:
    """The product of the strides per axis (``2 ** depth`` on every axis when ``strides`` is None)."""
    if strides is None:
        return [2**depth] * dims
    return [int(np.prod([level[a] for level in strides])) for a in range(dims)]


def estimate_memory_gb(
    patch_size: list[int], batch_size: int, depth: int, features: int, strides: list[list[int]] | None = None
) -> float:
    """Rough activation memory (float32, GB) of a U-Net on ``patch_size``: per level, the voxels at that level x
    its features (doubling per level, at most 320) x 12 stored tensors (two conv blocks of conv, norm and
    activation in the encoder and the decoder), times the batch size. The voxels of a level: the patch divided by
    the strides so far (2 on every axis per level when ``strides`` is None). For comparing patch sizes, not exact."""
    voxels = float(np.prod(patch_size))
    per_level = [2 ** len(patch_size)] * depth if strides is None else [int(np.prod(level)) for level in strides]
    shrink = np.cumprod([1, *per_level])
    per_sample = sum(
        voxels / float(shrink[level]) * min(features * 2**level, _MAX_FEATURES) for level in range(depth + 1)
    )
    return per_sample * _TENSORS_PER_LEVEL * 4 * batch_size / 1024**3


def plan_patch_and_batch(
    median_shape: list[int],
    budget_gb: float,
    device: str,
    features: int,
    dataset_voxels: float | None = None,
    spacing: list[float] | None = None,
) -> tuple[list[int], int, int, list[str], list[list[int]] | None]:
    """Patch size, network depth (and per-axis strides) and batch size for ``median_shape`` (the axes the network
    sees) within ``budget_gb``.

    Args:
        median_shape: the median case shape of the axes the network sees (after cropping and resampling).
        budget_gb: activation memory budget.
        device: ``"cpu"`` or ``"gpu"`` (patch caps, batch caps).
        features: base width of the network.
        dataset_voxels: voxels of the whole data set (the batch holds at most 5 % of them).
        spacing: the target spacing of these axes: given, the depth follows nnU-Net's per-axis pooling
            (:func:`per_axis_strides`) and the patch is a multiple of each axis's total stride; ``None``: the
            isotropic rule (:func:`network_depth`, 2 on every axis, ``strides`` returned as ``None``).

    Returns:
        (patch_size, depth, batch_size, warnings, strides).
    """
    caps, _, max_batch, min_batch = _DEVICE[device]
    ndim = len(median_shape)
    cap, max_batch, min_batch = caps[ndim - 2], max_batch[ndim - 2], min_batch[ndim - 2]
    median = np.maximum(np.asarray(median_shape, dtype=np.float64), 1.0)
    patch = [int(max(2 * MIN_FEATURE_MAP, min(int(m), cap))) for m in median]
    warnings: list[str] = []
    strides: list[list[int]] | None = None
    for _ in range(10_000):  # each pass shrinks the patch by one step; the bound only guards the loop
        if spacing is None:
            depth = network_depth(patch)
        else:
            strides = per_axis_strides(spacing, patch)
            depth = len(strides)
        step = total_strides(strides, depth, ndim)
        # round up to a multiple of the total stride (the patch may exceed the image; it is padded), within the cap
        patch = [min(-(-p // st) * st, cap - cap % st) for p, st in zip(patch, step)]
        if estimate_memory_gb(patch, min_batch, depth, features, strides) <= budget_gb:
            break
        shrinkable = [a for a in range(ndim) if patch[a] - step[a] >= 2 * MIN_FEATURE_MAP]
        if not shrinkable:
            need = estimate_memory_gb(patch, min_batch, depth, features, strides)
            warnings.append(
                f"patch {patch} with batch {min_batch} needs ~{need:.2f} GB, "
                f"more than the budget {budget_gb} GB, and cannot shrink further"
            )
            break
        axis = max(shrinkable, key=lambda a: (patch[a] / median[a], patch[a]))
        patch[axis] -= step[axis]
    batch = int(budget_gb // max(estimate_memory_gb(patch, 1, depth, features, strides), 1e-12))
    if dataset_voxels:
        batch = min(batch, int(0.05 * dataset_voxels / float(np.prod(patch))))
    return patch, depth, int(min(max(batch, min_batch), max_batch)), warnings, strides


def make_plan(
    fingerprint: dict,
    spatial_dims: int | None = None,
    overrides: dict[str, Any] | None = None,
    memory_budget_gb: float | None = None,
    gpu_memory_gb: float | None = None,
) -> dict:
    """The plan of a data set from its fingerprint (:func:`data.fingerprint.fingerprint_dataset`).

    Args:
        fingerprint: the fingerprint dict.
        spatial_dims: 2 or 3, the network's (default 2; 3 needs 3D data).
        overrides: plan entries to set after planning (any of :data:`PLAN_KEYS`; ``spatial_dims``,
            ``memory_budget_gb``, ``device`` and ``ct_clip_margin`` are planning inputs and re-plan; ``patch_size``
            without ``depth`` and ``strides`` recomputes them (3D: per-axis strides from the target spacing) and
            ``isotropic_depth``; ``strides`` without ``depth`` sets the depth to its number of levels; ``depth``
            without ``strides`` sets ``strides`` to null, 2 on every axis at every level; new ``strides`` re-plan
            ``kernel_sizes`` unless it is given too).
        memory_budget_gb: memory for activations (default 2 GB on the CPU, ``gpu_memory_gb`` on a GPU).
        gpu_memory_gb: plan for a GPU with this much memory (bigger patch caps, 32 base features).

    Returns:
        The plan dict with every key of :data:`PLAN_KEYS`.

    Raises:
        ValueError: an unknown override key (the message lists the valid ones), 3D networks on 2D data, or
            ``strides`` that are not one stride per level and axis or whose total stride does not divide the
            patch size (one line, with the patch size that would fit).
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(PLAN_KEYS))
    if unknown:
        raise ValueError(f"unknown plan key(s) {unknown}; valid keys: {', '.join(PLAN_KEYS)}.")
    device = overrides.pop("device", "gpu" if gpu_memory_gb else "cpu")
    if device not in _DEVICE:
        raise ValueError(f"plan device must be 'cpu' or 'gpu', got {device!r}.")
    spatial_dims = int(overrides.pop("spatial_dims", spatial_dims or 2))
    budget = float(overrides.pop("memory_budget_gb", memory_budget_gb or gpu_memory_gb or CPU_BUDGET_GB))
    ct_clip_margin = overrides.pop("ct_clip_margin", CT_CLIP_MARGIN)
    data_dims = int(fingerprint["spatial_dims"])
    if spatial_dims not in (2, 3) or spatial_dims > data_dims:
        raise ValueError(
            f"spatial_dims must be 2 or 3 (3 only for 3D data; these are {data_dims}D), got {spatial_dims}."
        )
    cases = fingerprint["cases"]
    warnings: list[str] = []

    spacings = np.array([c["spacing"] for c in cases], dtype=np.float64)
    target, anisotropic = target_spacing_of(spacings)
    resample = bool(np.any(np.abs(spacings - np.asarray(target)) > 1e-3 * np.asarray(target)))
    slice_axis = slice_axis_of(target) if data_dims == 3 else None
    crop = True
    shrink = float(np.mean([1 - np.prod(c["cropped_shape"]) / max(np.prod(c["shape"]), 1) for c in cases]))
    normalization, norm_warnings = choose_normalization(
        fingerprint["channel_names"], fingerprint["intensity"], shrink, crop, ct_clip_margin
    )
    warnings += norm_warnings
    shapes = np.array([c["cropped_shape"] if crop else c["shape"] for c in cases], dtype=np.float64)
    resampled = np.maximum(np.round(shapes * spacings / np.asarray(target)), 1)
    median_shape = [int(v) for v in np.round(np.median(resampled, axis=0))]
    slicing = spatial_dims == 2 and data_dims == 3
    axes = [a for a in range(data_dims) if not (slicing and a == slice_axis)]
    features = _DEVICE[device][1]
    # 3D: nnU-Net's per-axis pooling from the target spacing; 2D (slices or 2D data): the isotropic rule
    net_spacing = [target[a] for a in axes] if spatial_dims == 3 else None
    patch, depth, batch, patch_warnings, strides = plan_patch_and_batch(
        [median_shape[a] for a in axes], budget, device, features, float(np.sum(np.prod(resampled, axis=1))),
        net_spacing,
    )
    warnings += patch_warnings

    labels = fingerprint["labels"]
    region_based = any(isinstance(v, (list, tuple)) for v in labels.values())
    if region_based:
        class_names = [k for k, v in labels.items() if isinstance(v, (list, tuple)) or v != 0]
        label_values = list(fingerprint.get("label_values") or sorted(
            {x for v in labels.values() for x in (v if isinstance(v, (list, tuple)) else [v])}))
    else:
        class_names = [k for k, _ in sorted(labels.items(), key=lambda kv: kv[1])]
        label_values = list(fingerprint.get("label_values") or range(len(class_names)))
    plan: dict[str, Any] = {
        "dataset": fingerprint["dataset"],
        "format": fingerprint["format"],
        "fingerprint_hash": fingerprint_hash(fingerprint),
        "spatial_dims": spatial_dims,
        "channel_names": list(fingerprint["channel_names"]),
        "in_channels": len(fingerprint["channel_names"]),
        "labels": labels,
        "class_names": class_names,
        "region_based": region_based,
        "out_channels": len(class_names),
        "activation": "sigmoid" if region_based else "softmax",
        "label_values": [int(v) for v in label_values],
        "regions_class_order": fingerprint.get("regions_class_order") if region_based else None,
        "target_spacing": target,
        "resample": resample,
        "slice_axis": slice_axis,
        "normalization": normalization,
        "ct_clip_margin": float(ct_clip_margin),
        "crop_to_nonzero": crop,
        "median_shape": median_shape,
        "patch_size": patch,
        "batch_size": batch,
        "depth": depth,
        "strides": strides,
        "kernel_sizes": conv_kernel_sizes(net_spacing, strides) if strides is not None else None,
        "isotropic_depth": network_depth(patch),
        "features": features,
        "memory_budget_gb": budget,
        "device": device,
        "warnings": warnings,
    }
    if anisotropic:
        logger.info("%s: anisotropic spacing, target spacing %s", plan["dataset"], target)
    if "strides" in overrides:
        overrides["strides"] = _parse_strides(overrides["strides"])
    if "patch_size" in overrides:
        new_patch = [int(p) for p in overrides["patch_size"]]
        overrides.setdefault("isotropic_depth", network_depth(new_patch))
        if "depth" not in overrides and "strides" not in overrides:
            if spatial_dims == 3 and len(new_patch) == 3:
                overrides["strides"] = per_axis_strides(
                    [float(t) for t in overrides.get("target_spacing", target)], new_patch
                )
            else:
                overrides["depth"] = network_depth(new_patch)
    if overrides.get("strides") is not None and "depth" not in overrides:
        overrides["depth"] = len(overrides["strides"])
    if "depth" in overrides and "strides" not in overrides:
        overrides["strides"] = None  # a depth alone: 2 on every axis at every level (the isotropic network)
    if "kernel_sizes" in overrides:
        overrides["kernel_sizes"] = _parse_strides(overrides["kernel_sizes"], "kernel_sizes")
    elif "strides" in overrides:  # new strides: nnU-Net's kernels for them (3D), none for the isotropic network
        spacing = [float(t) for t in overrides.get("target_spacing", target)]
        new_strides = overrides["strides"]
        ok = isinstance(new_strides, list) and all(isinstance(v, list) and len(v) == len(axes) for v in new_strides)
        overrides["kernel_sizes"] = (
            conv_kernel_sizes([spacing[a] for a in axes], new_strides) if spatial_dims == 3 and ok else None
        )
    plan.update(overrides)
    if plan["strides"] is not None:
        _check_strides(plan)
    if plan["kernel_sizes"] is not None:
        _check_kernel_sizes(plan)
    elif "patch_size" in overrides:
        step = 2 ** int(plan["depth"])
        if len(plan["patch_size"]) != spatial_dims or any(int(p) % step for p in plan["patch_size"]):
            plan["warnings"] = list(plan["warnings"]) + [
                f"overridden patch_size {list(plan['patch_size'])} is not {spatial_dims} multiples of 2**depth = {step}"
            ]
    for w in plan["warnings"]:
        logger.warning("plan of %s: %s", plan["dataset"], w)
    return plan


def _parse_strides(value: Any, key: str = "strides") -> list[list[int]] | None:
    """A ``strides`` (or ``kernel_sizes``) override as given (a list, or its JSON text from the command line)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"plan {key} {value!r} is not JSON; give one value per level and axis, e.g. [[2, 2, 1], [2, 2, 2]]."
            ) from exc
    return value


def _check_kernel_sizes(plan: dict) -> None:
    """``kernel_sizes`` must hold ``depth + 1`` levels of one odd positive int per axis (one-line error)."""
    kernels, depth, dims = plan["kernel_sizes"], int(plan["depth"]), len(plan["patch_size"])
    ok = isinstance(kernels, (list, tuple)) and len(kernels) == depth + 1 and all(
        isinstance(level, (list, tuple)) and len(level) == dims and all(int(k) >= 1 and int(k) % 2 for k in level)
        for level in kernels
    )
    if not ok:
        raise ValueError(
            f"plan kernel_sizes {kernels!r} must be depth + 1 = {depth + 1} levels (the last: the bottom) of {dims} odd "
            f"positive ints, e.g. {[[3] * dims] * (depth + 1)}; or null (3 everywhere)."
        )
    plan["kernel_sizes"] = [[int(k) for k in level] for level in kernels]


def _check_strides(plan: dict) -> None:
    """``strides`` must hold ``depth`` levels of one positive int per axis, and divide the patch (one-line errors)."""
    strides, depth, patch = plan["strides"], int(plan["depth"]), [int(p) for p in plan["patch_size"]]
    dims = len(patch)
    ok = isinstance(strides, (list, tuple)) and len(strides) == depth and all(
        isinstance(level, (list, tuple)) and len(level) == dims and all(int(v) >= 1 for v in level) for level in strides
    )
    if not ok:
        raise ValueError(
            f"plan strides {strides!r} must be depth = {depth} levels of {dims} positive ints (one per axis of the "
            f"patch), e.g. {[[2] * dims] * depth}."
        )
    plan["strides"] = [[int(v) for v in level] for level in strides]
    total = total_strides(plan["strides"], depth, dims)
    if any(p % t for p, t in zip(patch, total)):
        fits = [-(-p // t) * t for p, t in zip(patch, total)]
        raise ValueError(
            f"plan patch_size {patch} is not a multiple of the total stride {total} of strides {plan['strides']}; "
            f"use patch_size {fits} or other strides."
        )


def write_plan(plan: dict, path: str | os.PathLike) -> Path:
    """Write ``plan`` as indented JSON (parent folders created); returns the path."""
    missing = [k for k in PLAN_KEYS if k not in plan]
    if missing:
        raise ValueError(f"a plan needs every key of the contract; missing {missing}.")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(plan, indent=2) + "\n", encoding="utf-8")
    return out


def read_plan(path: str | os.PathLike) -> dict:
    """Read a plan written by :func:`write_plan`.

    Raises:
        ValueError: naming the file when it is not JSON or lacks a key of the contract (re-plan or add the key).
    """
    p = Path(path)
    try:
        plan = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{p}: not a readable plan JSON ({exc}).") from exc
    if isinstance(plan, dict) and "depth" in plan:
        # plans written before per-axis strides: their networks pooled every axis by 2 at every level
        plan.setdefault("strides", None)
        plan.setdefault("kernel_sizes", None)
        plan.setdefault("isotropic_depth", plan["depth"])
        # plans written before the widened CT clip: their CT entries hold nnU-Net's clip at the percentiles
        plan.setdefault("ct_clip_margin", 0.0)
    missing = [k for k in PLAN_KEYS if k not in plan] if isinstance(plan, dict) else list(PLAN_KEYS)
    if missing:
        raise ValueError(f"{p}: plan lacks {missing}; make the plan again (data.plan.make_plan) or add them.")
    return plan


def plan_dataset(
    dataset_dir: str | os.PathLike,
    data_format: str = "auto",
    spatial_dims: int | None = None,
    overrides: dict[str, Any] | None = None,
    cache_dir: str | os.PathLike | None = None,
    memory_budget_gb: float | None = None,
    gpu_memory_gb: float | None = None,
    check: bool = True,
    progress: bool = True,
    labels: Any = None,
) -> tuple[Any, dict, dict]:
    """Open a data set folder, fingerprint it (cached) and plan it: the one call of a workflow.

    Args:
        dataset_dir: the data set folder.
        data_format: a registered format name, or ``"auto"`` to detect it.
        spatial_dims, overrides, memory_budget_gb, gpu_memory_gb: as :func:`make_plan`.
        cache_dir: fingerprint cache folder (default: ``<repo>/cache/fingerprints``).
        check: run the format's per-case integrity check during the fingerprint pass (its warnings go to the
            plan's ``warnings``).
        progress: show the fingerprint's progress bar.
        labels: a label grouping replacing the data set's labels (:func:`data.label_grouping.group_labels`; the
            fingerprint, measured on the stored label values, is shared by every grouping, the plan is not).

    Returns:
        (the :class:`~formats.DatasetSpec`, the fingerprint, the plan).

    Raises:
        DatasetError: the folder is not a usable data set: every problem of its discovery, or of its cases (a file
            that cannot be decoded, channels on different grids, undeclared label values), listed with its file.
    """
    from data.errors import DatasetError
    from data.fingerprint import fingerprint_dataset
    from formats import FORMATS

    from data.label_grouping import group_labels

    spec = group_labels(FORMATS.open(dataset_dir, data_format), labels)
    fingerprint = fingerprint_dataset(spec, cache_dir=cache_dir, check=check, progress=progress)
    errors = [p for p in fingerprint["problems"] if p["severity"] == "error"]
    if errors:
        lines = [f"ERROR   {p['path']}: {p['message']}" for p in errors]
        raise DatasetError("\n".join(lines + [f"{len(errors)} problem(s) in {spec.root}; fix them and run again."]))
    plan = make_plan(fingerprint, spatial_dims, overrides, memory_budget_gb, gpu_memory_gb)
    plan["warnings"] = list(plan["warnings"]) + [
        f"{p['path']}: {p['message']}" for p in fingerprint["problems"] if p["severity"] != "error"
    ]
    return spec, fingerprint, plan
