"""Plumbing of the generic path: plan resolution (fit / saved), pre-processing of a case and its inversion, errors."""

from __future__ import annotations

import json

import pytest
import torch
from monai.transforms import Compose

from data.errors import DatasetError
from data.loaders import (
    case_preprocessing,
    inference_cases,
    label_transforms,
    open_dataset,
    resolve_plan,
    rotation_degrees,
    split_cases,
    target_pixdim,
)


@pytest.fixture(scope="module")
def mri(tmp_path_factory):
    from formats import FORMATS

    root = FORMATS.get("nnunet_v2").synthesize(tmp_path_factory.mktemp("mri"), kind="mri", num_training=4, num_test=1)
    return open_dataset(root)


def test_target_pixdim_keeps_the_slice_axis_of_a_2d_plan():
    plan = {"target_spacing": [0.9, 0.9, 3.0], "slice_axis": 2}
    assert target_pixdim({**plan, "spatial_dims": 2}) == [0.9, 0.9, -1.0]
    assert target_pixdim({**plan, "spatial_dims": 3}) == [0.9, 0.9, 3.0]
    assert target_pixdim({"target_spacing": [0.5, 0.5], "slice_axis": None, "spatial_dims": 2}) == [0.5, 0.5, -1.0]


def test_2d_images_are_resampled_in_plane_and_back(tmp_path):
    from formats import FORMATS

    root = FORMATS.get("nnunet_v2").synthesize(tmp_path, kind="png2d", num_training=3, num_test=1)
    spec = open_dataset(root)
    plan = resolve_plan(spec, cache_dir=tmp_path / "fp", overrides={"target_spacing": [0.5, 0.5]})
    chain = Compose(case_preprocessing(spec, plan))
    case = chain(dict(spec.training[0]))
    assert case["image"].shape[0] == 2 and case["image"].shape[1:] == case["label"].shape[1:]
    assert case["image"].shape[1] > 48, "0.5 mm from 1 mm pixels: about twice as many"
    assert chain.inverse({"label": case["label"]})["label"].shape[1:] == (48, 48)


def test_fit_writes_the_plan_and_saved_reads_it_back(mri, tmp_path):
    plan = resolve_plan(mri, spatial_dims=3, overrides={"features": 8}, cache_dir=tmp_path / "fp", ckpt_dir=tmp_path)
    assert plan["features"] == 8 and plan["spatial_dims"] == 3
    assert json.loads((tmp_path / "plan.json").read_text()) == plan
    saved = resolve_plan(mri, overrides={"batch_size": 1}, ckpt_dir=tmp_path, source="saved")
    assert saved["features"] == 8 and saved["batch_size"] == 1, "the saved plan, with overrides on top"
    with pytest.raises(FileNotFoundError, match="train first"):
        resolve_plan(mri, ckpt_dir=tmp_path / "nowhere", source="saved")


def test_saved_plan_of_other_channels_is_refused(mri, tmp_path):
    plan = resolve_plan(mri, cache_dir=tmp_path / "fp", ckpt_dir=tmp_path)
    (tmp_path / "plan.json").write_text(json.dumps({**plan, "channel_names": ["CT"]}))
    with pytest.raises(DatasetError, match="channels"):
        resolve_plan(mri, ckpt_dir=tmp_path, source="saved")


def test_preprocessing_crops_normalises_and_inverts_to_the_input_grid(mri, tmp_path):
    plan = resolve_plan(mri, spatial_dims=2, cache_dir=tmp_path / "fp")
    chain = Compose(case_preprocessing(mri, plan))
    case = chain(dict(mri.training[0]))
    image, label = case["image"], case["label"]
    assert image.dtype == torch.float32 and image.shape[1:] == label.shape[1:]
    assert image.shape[1:] != (32, 32, 12), "cropped to the non-zero box"
    assert abs(float(image[image != 0].mean())) < 0.2, "z-score over the body"
    restored = chain.inverse({"image": image, "label": label})
    assert restored["label"].shape[1:] == (32, 32, 12)
    assert torch.allclose(restored["label"].affine, torch.diag(torch.tensor([0.9, 0.9, 3.0, 1.0], dtype=torch.float64)), atol=1e-5)


def test_split_is_by_case_and_test_cases_are_required(mri):
    train, val = split_cases(mri, val_fraction=0.5, seed=0)
    assert len(train) == len(val) == 2 and not {c["case_id"] for c in train} & {c["case_id"] for c in val}
    assert len(inference_cases(mri)) == 1
    mri_no_test = type(mri)(**{**mri.__dict__, "test": []})
    with pytest.raises(DatasetError, match="--infer_files"):
        inference_cases(mri_no_test)


def test_folds_are_disjoint_cover_every_case_and_follow_the_seed(mri):
    ids = sorted(c["case_id"] for c in mri.training)
    folds = [split_cases(mri, fold=k, num_folds=4, seed=0) for k in range(4)]
    held_out = [sorted(c["case_id"] for c in val) for _, val in folds]
    assert sorted(i for part in held_out for i in part) == ids, "every case validated exactly once"
    for (train, val), part in zip(folds, held_out):
        assert sorted(c["case_id"] for c in train + val) == ids and not set(part) & {c["case_id"] for c in train}
    assert [split_cases(mri, fold=1, num_folds=4, seed=0)[1]] == [folds[1][1]], "deterministic"
    with pytest.raises(ValueError, match=f"cannot make {len(ids) + 1} folds"):
        split_cases(mri, fold=0, num_folds=len(ids) + 1)
    with pytest.raises(ValueError, match="fold must be in 0..3"):
        split_cases(mri, fold=4, num_folds=4)


def test_region_plans_get_region_channels():
    assert label_transforms({"region_based": False}) == []
    (t,) = label_transforms({"region_based": True, "labels": {"background": 0, "wt": [1, 2], "tc": [2]}})
    out = t({"label": torch.tensor([[[0.0, 1.0, 2.0]]])})["label"]
    assert out.tolist() == [[[0, 1, 1]], [[0, 0, 1]]]


@pytest.mark.parametrize(
    "plan, expected",
    [
        ({"spatial_dims": 2, "patch_size": [128, 128]}, 180.0),  # nnU-Net: any orientation in the image plane
        ({"spatial_dims": 2, "patch_size": [64, 96]}, 180.0),  # aspect 1.5: still square enough
        ({"spatial_dims": 2, "patch_size": [64, 112]}, 15.0),  # elongated patch
        ({"spatial_dims": 3, "patch_size": [32, 32, 32]}, 30.0),
    ],
)
def test_auto_rotation_is_nnunets_rule(plan, expected):
    assert rotation_degrees(plan, "auto") == expected
    assert rotation_degrees(plan, " AUTO ") == expected


def test_a_given_rotation_is_kept_and_a_bad_one_names_the_key():
    plan = {"spatial_dims": 2, "patch_size": [128, 128]}
    assert rotation_degrees(plan, 30) == 30.0 and rotation_degrees(plan, "0") == 0.0
    for bad in (-1, 181, "sideways", True, None, float("nan")):
        with pytest.raises(ValueError, match=r"--default_recipe#rotation_degrees must be auto or a number in \[0, 180\]"):
            rotation_degrees(plan, bad)
