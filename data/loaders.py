"""Plumbing of the generic path (any registered data set, planned from its fingerprint): open the data set, make or
read its plan, split it by case, and build the per-case pre-processing (format reader -> crop to non-zero ->
normalisation of the plan -> resampling to the plan's spacing) and the label conversion for training.

The bundle file ``bundles/common/configs/any_dataset.yaml`` declares WHAT runs (transform chains, recipe,
engines) and calls these small factories for the rest.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from monai.transforms import CropForegroundd, EnsureTyped, Spacingd

import formats  # noqa: F401  (registers the data-format plug-ins)
from data.errors import DatasetError
from data.label_grouping import GROUPING_KEY, group_labels, label_grouping_of, same_grouping
from formats.registry import FORMATS, DatasetSpec
from transforms.labels import ConvertToRegionsd, LabelValuesToIndicesd

__all__ = [
    "PLAN_FILE",
    "case_preprocessing",
    "check_plan_against_spec",
    "inference_cases",
    "label_transforms",
    "nonzero",
    "open_dataset",
    "read_saved_plan",
    "resolve_plan",
    "rotation_degrees",
    "split_cases",
    "target_pixdim",
]

PLAN_FILE = "plan.json"
logger = logging.getLogger(__name__)


def open_dataset(dataset_dir: str | os.PathLike, data_format: str = "auto", labels: Any = None) -> DatasetSpec:
    """The data set in ``dataset_dir`` read by its format plug-in (``"auto"``: the one that recognises the folder).

    Args:
        dataset_dir: the data set folder.
        data_format: a registered format name, or ``"auto"``.
        labels: a label grouping replacing the data set's labels (the bundle's ``labels``; nnU-Net's dataset.json
            syntax, ``{"background": 0, "tumour": [1, 2, 3]}``: :func:`data.label_grouping.group_labels`); None:
            the data set's own.

    Raises:
        DatasetError: the folder is no known data set, or its discovery found errors (each names its file), or
            ``labels`` does not fit its label values (the message names its dataset.json and lists them).
    """
    return group_labels(FORMATS.open(dataset_dir, data_format or "auto"), labels)


def read_saved_plan(ckpt_dir: str | os.PathLike) -> dict:
    """The plan a training run wrote as ``<ckpt_dir>/plan.json``.

    Raises:
        FileNotFoundError: there is none; the message says to train first or to point ``--ckpt_dir`` at the run.
    """
    from data.plan import read_plan

    path = Path(ckpt_dir) / PLAN_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no plan; evaluation and inference use the plan saved by training: train first "
            "(any_dataset.yaml) or set --ckpt_dir to the training run's checkpoint folder."
        )
    return read_plan(path)


def resolve_plan(
    spec: DatasetSpec,
    spatial_dims: int = 2,
    overrides: Mapping[str, Any] | None = None,
    cache_dir: str | os.PathLike | None = None,
    ckpt_dir: str | os.PathLike | None = None,
    source: str = "fit",
) -> dict:
    """The plan of a run.

    Args:
        spec: the data set.
        spatial_dims: 2 or 3, the network's (a 2D data set is always planned in 2D).
        overrides: user entries replacing planned ones (the bundle's top-level ``plan`` dict).
        cache_dir: folder of the cached fingerprint (never inside the data set).
        ckpt_dir: the run's checkpoint folder: ``source="fit"`` writes ``plan.json`` there; ``"saved"`` reads it.
        source: ``"fit"`` (training: fingerprint -> plan -> ``<ckpt_dir>/plan.json``) or ``"saved"`` (evaluation,
            inference: the plan saved with the model, so that the settings travel with it; ``overrides`` still
            apply on top).

    Returns:
        The plan (every key of ``data.plan.PLAN_KEYS``).
    """
    overrides = dict(overrides or {})
    if source == "saved":
        if ckpt_dir is None:
            raise ValueError("resolve_plan(source='saved') needs ckpt_dir.")
        plan = read_saved_plan(ckpt_dir)
        check_plan_against_spec(plan, spec, plan_file=Path(ckpt_dir) / PLAN_FILE)
        plan.update(overrides)
        return plan
    if source != "fit":
        raise ValueError(f"source must be 'fit' or 'saved', got {source!r}.")
    from data.plan import plan_dataset, write_plan

    dims = int(spatial_dims)
    if spec.spatial_dims == 2 and dims != 2:
        logger.warning(f"{spec.root}: a 2D data set; planned and trained in 2D (spatial_dims {dims} ignored)")
        dims = 2
    _, _, plan = plan_dataset(
        spec.root, spec.format, spatial_dims=dims, overrides=overrides, cache_dir=cache_dir,
        labels=spec.extra.get(GROUPING_KEY),
    )  # fmt: skip
    logger.info("plan:\n" + json.dumps(plan, indent=1))
    if ckpt_dir is not None:
        path = write_plan(plan, Path(ckpt_dir) / PLAN_FILE)
        logger.info(f"plan written to {path}")
    return plan


def split_cases(
    spec: DatasetSpec, val_fraction: float = 0.2, seed: int = 0, fold: int = -1, num_folds: int = 5
) -> tuple[list[dict], list[dict]]:
    """Training and validation cases of ``spec.training``, split by case (a ``group`` key, e.g. the patient, keeps
    its cases together).

    Args:
        spec: the data set.
        val_fraction: share of the cases held out for validation (one split; ``fold`` -1).
        seed: seed of the split (or of the fold assignment).
        fold: 0..num_folds-1: fold ``fold`` of a k-fold cross-validation by case (nnU-Net's ``--fold``): the
            validation parts of the folds are disjoint and together hold every case once
            (:func:`data.folds.kfold_split`); -1: one split of ``val_fraction`` (:func:`data.splits.split_by_group`).
        num_folds: k of the cross-validation.

    Raises:
        ValueError: ``fold`` outside -1..num_folds-1, or fewer cases than folds.
    """
    from data.folds import kfold_split
    from data.splits import split_by_group

    key = "group" if any("group" in case for case in spec.training) else "case_id"
    fold, num_folds = int(fold), int(num_folds)
    if fold < 0:
        train, val = split_by_group(spec.training, (1.0 - val_fraction, val_fraction), group_key=key, seed=seed)
        return list(train), list(val)
    if len({case.get(key, case.get("case_id")) for case in spec.training}) < num_folds:
        raise ValueError(f"{spec.root}: {len(spec.training)} training cases cannot make {num_folds} folds; "
                         "set --num_folds lower (or --fold -1 for one split)")
    train, val = kfold_split(spec.training, fold, num_folds=num_folds, group_key=key, seed=seed)
    return list(train), list(val)


def nonzero(x: Any) -> Any:
    """Voxels that are not 0 (the non-zero region that nnU-Net crops to; CT values below 0 count)."""
    return x != 0


def target_pixdim(plan: Mapping) -> list[float]:
    """``Spacingd``'s ``pixdim`` of a plan: its target spacing, except along the slice axis of a 2D plan on 3D data
    (``-1``: the case's own spacing; a 2D network resamples in-plane only). 2D data get a third entry ``-1``: their
    readers give a 4 x 4 affine, whose third axis MONAI's resampling must leave alone."""
    pixdim = [float(s) for s in plan["target_spacing"]]
    axis = plan.get("slice_axis")
    if int(plan["spatial_dims"]) == 2 and axis is not None and len(pixdim) == 3:
        pixdim[int(axis)] = -1.0
    if len(pixdim) == 2:
        pixdim.append(-1.0)
    return pixdim


def _normalization(plan: Mapping, key: str) -> Callable:
    from transforms.intensity import NormalizeByPland

    return NormalizeByPland(keys=key, normalization=plan["normalization"])


def case_preprocessing(spec: DatasetSpec, plan: Mapping, keys: Sequence[str] = ("image", "label")) -> list:
    """The deterministic per-case transforms (run once per case, then cached): the format's reader, label values
    -> training indices (classes), crop to the non-zero bounding box, the plan's normalisation, resampling to the
    plan's spacing (:func:`target_pixdim`), float32 image.

    Every spatial step is invertible (MONAI ``Invertd`` puts a prediction back in the input's geometry). A case
    without ``label`` (inference) passes.

    Args:
        spec: the data set (its format reads the files).
        plan: the run's plan.
        keys: image key and label key.

    Returns:
        A list of MONAI dictionary transforms.
    """
    image, label = keys
    chain: list = list(FORMATS.get(spec.format).load_transforms(spec))
    values = [int(v) for v in plan.get("label_values") or []]
    if values and not plan.get("region_based") and values != list(range(len(values))):
        chain.append(LabelValuesToIndicesd(keys=label, label_values=values, allow_missing_keys=True))
    if plan.get("crop_to_nonzero"):
        chain.append(CropForegroundd(keys=[image, label], source_key=image, select_fn=nonzero, allow_missing_keys=True))
    chain.append(_normalization(plan, image))
    # always, also when the plan found every training case at the target spacing (`resample` false): a test case
    # may have another; on the target grid already, MONAI's resampling returns the voxels unchanged
    # (ensure_same_shape off: after NormalizeByPland a 2D image's MetaTensor reports 3 pixdims, its label 2, and
    # MONAI's same-shape check cannot compare them; image and label share the grid anyway)
    chain.append(
        Spacingd(
            keys=[image, label], pixdim=target_pixdim(plan), mode=["bilinear", "nearest"], ensure_same_shape=False,
            allow_missing_keys=True,
        )  # fmt: skip
    )
    chain.append(EnsureTyped(keys=image, dtype=torch.float32))
    return chain


def label_transforms(plan: Mapping, key: str = "label") -> list:
    """The label conversion applied after sampling and augmentation: region channels for a region-based plan
    (sigmoid per region), nothing for classes (the loss one-hot encodes the index map)."""
    if not plan.get("region_based"):
        return []
    return [ConvertToRegionsd(keys=key, regions=plan["labels"], allow_missing_keys=True)]


def rotation_degrees(plan: Mapping, degrees: float | str = "auto") -> float:
    """The range (+-, degrees) of the default recipe's random rotation for a plan.

    ``"auto"`` is nnU-Net v2's rule (``nnUNetTrainer.configure_rotation_dummyDA_mirroring_and_inital_patch_size``): a
    2D network rotates by up to +-180 deg (any orientation in the image plane; +-15 deg when its patch is more than
    1.5 times longer than wide), a 3D network by up to +-30 deg about every axis. A number is taken as given.

    Raises:
        ValueError: ``degrees`` is neither ``"auto"`` nor a number in [0, 180]; the message names
            ``--default_recipe#rotation_degrees``.
    """
    if isinstance(degrees, str) and degrees.strip().lower() == "auto":
        if int(plan["spatial_dims"]) == 3:
            return 30.0
        patch = [float(p) for p in plan["patch_size"]]
        return 15.0 if max(patch) / min(patch) > 1.5 else 180.0
    try:
        value = float("nan") if isinstance(degrees, bool) else float(degrees)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 <= value <= 180.0:
        raise ValueError(f"--default_recipe#rotation_degrees must be auto or a number in [0, 180], got {degrees!r}.")
    return value


def _shown(grouping: Mapping) -> str:
    order = grouping.get("regions_class_order")
    return str(grouping["labels"]) + ("" if order is None else f" (regions written as {order})")


def check_plan_against_spec(
    plan: Mapping, spec: DatasetSpec, plan_file: str | os.PathLike | None = None
) -> DatasetSpec:
    """A saved plan must fit the data set it is applied to (same channels, labels it can group): else the model
    cannot run on it.

    The plan records the labels the model was trained with, a label grouping (``--labels``) included, so evaluation
    and inference use it without the override: a spec opened without ``--labels`` takes the plan's grouping (checked
    against the data set's label values); a spec opened with another ``--labels`` than the plan's is an error.

    Args:
        plan: the saved plan.
        spec: the data set (opened with the command's ``labels``).
        plan_file: the plan's file, named in the messages.

    Returns:
        ``spec`` with the plan's labels (``spec`` itself when they agree).

    Raises:
        DatasetError: naming both channel lists; or the command's ``--labels`` and the plan's (one line); or the
            plan's labels that are not label values of this data set.
    """
    if list(plan.get("channel_names", [])) != list(spec.channel_names):
        raise DatasetError(
            f"{spec.root}: channels {spec.channel_names} differ from the trained model's plan "
            f"{plan.get('channel_names')}; use a data set with the model's channels."
        )
    if "labels" not in plan:
        return spec
    planned = label_grouping_of(plan["labels"], plan.get("label_values"), plan.get("regions_class_order"))
    if same_grouping(planned, label_grouping_of(spec.labels, spec.label_values, spec.regions_class_order)):
        return spec
    where = plan_file or "the trained model's plan"
    given = spec.extra.get(GROUPING_KEY)
    if given is not None:
        raise DatasetError(
            f"--labels {_shown(given)} differs from the labels the model was trained with ({where}: "
            f"{_shown(planned)}); leave --labels out (evaluation and inference use the plan's) or train a model with "
            "these labels."
        )
    try:
        grouped = group_labels(spec, planned)
    except DatasetError as err:
        raise DatasetError(f"{where}: the model's labels do not fit the data set {spec.root}:\n{err}") from None
    logger.info(f"labels of the trained model's plan ({where}): {planned['labels']}")
    return grouped


def inference_cases(spec: DatasetSpec, max_cases: int | None = None) -> list[dict]:
    """The data set's test cases (the first ``max_cases``) to segment.

    Raises:
        DatasetError: the data set has none; the message says how to name files instead.
    """
    cases = list(spec.test)[: None if max_cases is None else int(max_cases)]
    if not cases:
        raise DatasetError(
            f"{spec.root}: no test cases to segment (imagesTs / the test list is empty); name files with "
            "--infer_files \"[{'case_id': 'x', 'image': ['/path/x_0000.nii.gz']}]\"."
        )
    return cases
