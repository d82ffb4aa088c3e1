"""The plan on hand-made fingerprints: normalisation per channel name, slice axis, spacing rule, patch size."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from data.plan import (
    PLAN_KEYS,
    conv_kernel_sizes,
    estimate_memory_gb,
    make_plan,
    per_axis_strides,
    read_plan,
    total_strides,
    write_plan,
)


def _stats(mean=0.0, std=1.0, p0=-1.0, p99=1.0):
    return {"mean": mean, "std": std, "min": p0, "max": p99, "median": mean, "percentile_00_5": p0,
            "percentile_99_5": p99, "num_samples": 100}


def _fingerprint(spacings, shapes, cropped=None, channels=("T2",), labels=None, dims=3, intensity=None, **extra):
    cropped = cropped or shapes
    cases = [{"case_id": f"c{i}", "shape": list(s), "spacing": list(sp), "cropped_shape": list(c),
              "axcodes": "RAS" if dims == 3 else None} for i, (sp, s, c) in enumerate(zip(spacings, shapes, cropped))]
    return {"dataset": "hand", "format": "nnunet_v2", "spatial_dims": dims, "channel_names": list(channels),
            "labels": labels or {"background": 0, "a": 1, "b": 2}, "label_values": None, "regions_class_order": None,
            "cases": cases, "intensity": intensity or [_stats() for _ in channels], **extra}


def test_every_contract_key_and_write_read(tmp_path):
    fp = _fingerprint([[1, 1, 1]] * 3, [[64, 64, 64]] * 3)
    plan = make_plan(fp)
    assert set(plan) == set(PLAN_KEYS)
    assert read_plan(write_plan(plan, tmp_path / "run" / "plan.json")) == plan
    (tmp_path / "bad.json").write_text('{"dataset": "x"}')
    with pytest.raises(ValueError, match="bad.json: plan lacks"):
        read_plan(tmp_path / "bad.json")


def test_normalization_from_channel_names(caplog):
    names = ["CT", "noNorm", "rescale_to_0_1", "T1w", "zscore", "DAPI"]
    intensity = [_stats(40.0, 120.0, -900.0, 1500.0)] + [_stats() for _ in names[1:]]
    # cropping to non-zero removes half the voxels -> the z-score uses the non-zero mask
    fp = _fingerprint([[1, 1, 1]] * 2, [[40, 40, 40]] * 2, [[40, 40, 20]] * 2, channels=names, intensity=intensity)
    with caplog.at_level(logging.WARNING, logger="data.plan"):
        plan = make_plan(fp)
    norm = plan["normalization"]
    # the percentiles' window (2400 wide) widened by half of it on each side
    assert plan["ct_clip_margin"] == 0.5
    assert norm[0] == {"scheme": "ct", "clip": [-2100.0, 2700.0], "mean": 40.0, "std": 120.0}
    assert norm[1] == {"scheme": "none"} and norm[2] == {"scheme": "rescale_to_0_1"}
    assert norm[3] == norm[4] == norm[5] == {"scheme": "zscore", "use_nonzero_mask": True}
    assert len(plan["warnings"]) == 1
    assert "'DAPI'" in plan["warnings"][0] and "unknown channel name" in plan["warnings"][0]
    assert any("DAPI" in r.getMessage() for r in caplog.records)  # logged too, never silent
    # cropping shrinks by < 25 %: z-score over the whole image
    fp = _fingerprint([[1, 1, 1]] * 2, [[40, 40, 40]] * 2, [[40, 40, 36]] * 2, channels=["T2"])
    assert make_plan(fp)["normalization"] == [{"scheme": "zscore", "use_nonzero_mask": False}]


def test_ct_clip_margin_override_and_bad_values():
    fp = _fingerprint([[1, 1, 1]] * 2, [[40, 40, 40]] * 2, channels=["CT", "T2"],
                      intensity=[_stats(130.0, 15.0, 94.0, 170.0), _stats()])
    nnunet = make_plan(fp, overrides={"ct_clip_margin": 0})  # nnU-Net's clip at the percentiles
    assert nnunet["ct_clip_margin"] == 0.0 and nnunet["normalization"][0]["clip"] == [94.0, 170.0]
    wide = make_plan(fp, overrides={"ct_clip_margin": 0.25})
    assert wide["normalization"][0]["clip"] == [75.0, 189.0]
    assert wide["normalization"][1] == nnunet["normalization"][1]  # other channels are not clipped
    for bad in (-0.1, float("nan"), "wide"):
        with pytest.raises(ValueError, match=r"ct_clip_margin must be a finite number >= 0.*" + repr(bad)[:4]):
            make_plan(fp, overrides={"ct_clip_margin": bad})


def test_plan_without_ct_clip_margin_reads_as_nnunet_clip(tmp_path):
    plan = make_plan(_fingerprint([[1, 1, 1]] * 3, [[64, 64, 64]] * 3))
    old = {k: v for k, v in plan.items() if k != "ct_clip_margin"}
    (tmp_path / "old.json").write_text(json.dumps(old))
    read = read_plan(tmp_path / "old.json")
    assert read["ct_clip_margin"] == 0.0 and read["normalization"] == plan["normalization"]


def test_spacing_rule_isotropic_median_and_resample_flag():
    fp = _fingerprint([[1, 1, 1], [1.2, 1.2, 1.4], [0.8, 0.8, 1.0]], [[64, 64, 64]] * 3)
    plan = make_plan(fp)
    assert plan["target_spacing"] == [1.0, 1.0, 1.0] and plan["resample"] is True
    assert plan["slice_axis"] == 2  # isotropic: the last axis
    same = make_plan(_fingerprint([[0.7, 0.7, 2.0]] * 3, [[64, 64, 20]] * 3))
    assert same["resample"] is False and same["target_spacing"] == [0.7, 0.7, 2.0] and same["slice_axis"] == 2


def test_spacing_rule_anisotropic_takes_the_10th_percentile():
    z = [3.0, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0, 6.0, 6.0, 6.0, 6.0]
    spacings = [[zz, 0.8, 0.8] for zz in z]  # the coarse axis first this time
    fp = _fingerprint(spacings, [[20, 128, 128]] * len(z))
    plan = make_plan(fp)
    assert plan["target_spacing"][1:] == [0.8, 0.8]
    assert plan["target_spacing"][0] == pytest.approx(np.percentile(z, 10))  # not the median 5.0
    assert plan["slice_axis"] == 0  # the coarsest
    assert len(plan["patch_size"]) == 2
    # not anisotropic (ratio 2.5 <= 3): the median
    assert make_plan(_fingerprint([[2.0, 0.8, 0.8]] * 3, [[20, 128, 128]] * 3))["target_spacing"][0] == 2.0


def test_2d_data_has_no_slice_axis_and_refuses_3d():
    fp = _fingerprint([[1, 1]] * 2, [[300, 200]] * 2, dims=2, channels=["R", "G"])
    plan = make_plan(fp)
    assert plan["slice_axis"] is None and plan["spatial_dims"] == 2 and plan["in_channels"] == 2
    assert plan["patch_size"] == [128, 128]  # capped at 128 for 2D on the CPU
    assert plan["batch_size"] == 4  # at least 4 for 2D on the CPU, above the 5 % of 2 x 300 x 200 voxels
    gpu = make_plan(fp, gpu_memory_gb=24)  # nnU-Net's rule on a GPU: the whole (padded) image, batches of 2 or more
    assert gpu["patch_size"] == [320, 224] and gpu["batch_size"] == 2
    with pytest.raises(ValueError, match="3 only for 3D data"):
        make_plan(fp, spatial_dims=3)


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("budget", [0.05, 0.5, 2.0])
def test_patch_within_budget_and_divisible(spatial_dims, budget):
    fp = _fingerprint([[1, 1, 1]] * 4, [[160, 180, 150]] * 4)
    plan = make_plan(fp, spatial_dims=spatial_dims, memory_budget_gb=budget)
    patch, depth, strides = plan["patch_size"], plan["depth"], plan["strides"]
    assert len(patch) == spatial_dims and plan["batch_size"] >= (4 if spatial_dims == 2 else 2)
    assert (strides is None) == (spatial_dims == 2)  # 3D: per-axis strides; 2D: 2 on every axis
    total = total_strides(strides, depth, spatial_dims)
    assert all(p % t == 0 and p // t >= 4 for p, t in zip(patch, total)) and 1 <= depth <= 5
    assert estimate_memory_gb(patch, plan["batch_size"], depth, plan["features"], strides) <= budget
    assert max(patch) <= (128 if spatial_dims == 2 else 96)
    if spatial_dims == 2:
        assert len(plan["patch_size"]) == 2


def test_patch_shrinks_the_axis_furthest_above_the_median():
    fp = _fingerprint([[1, 1, 1]] * 2, [[96, 48, 48]] * 2)
    roomy = make_plan(fp, spatial_dims=3, memory_budget_gb=10.0)
    assert roomy["patch_size"] == [96, 48, 48] and roomy["median_shape"] == [96, 48, 48]
    tight = make_plan(fp, spatial_dims=3, memory_budget_gb=0.35)
    patch, step = np.array(tight["patch_size"]), 2 ** tight["depth"]
    assert np.prod(patch) < 96 * 48 * 48 and tight["batch_size"] == 2
    ratios = patch / np.array([96, 48, 48])  # shrinking the largest ratio keeps the median's aspect (one step)
    assert ratios.max() <= 1 and ratios.max() - ratios.min() <= step / 48 + 1e-9


def test_gpu_knob_gives_bigger_patches():
    fp = _fingerprint([[1, 1, 1]] * 3, [[200, 200, 200]] * 3)
    cpu, gpu = make_plan(fp, spatial_dims=3), make_plan(fp, spatial_dims=3, gpu_memory_gb=24)
    assert cpu["device"] == "cpu" and gpu["device"] == "gpu" and gpu["memory_budget_gb"] == 24
    assert np.prod(gpu["patch_size"]) > np.prod(cpu["patch_size"]) and gpu["features"] == 32


def test_regions_and_overrides():
    labels = {"background": 0, "whole tumor": [1, 2, 3], "tumor core": [2, 3], "enhancing tumor": [3]}
    fp = _fingerprint([[1, 1, 1]] * 2, [[32, 32, 32]] * 2, labels=labels)
    fp["regions_class_order"] = [1, 2, 3]
    plan = make_plan(fp, overrides={"patch_size": [16, 16], "batch_size": 7})
    assert plan["activation"] == "sigmoid" and plan["out_channels"] == 3 and plan["region_based"]
    assert plan["class_names"] == ["whole tumor", "tumor core", "enhancing tumor"]
    assert plan["label_values"] == [0, 1, 2, 3] and plan["regions_class_order"] == [1, 2, 3]
    assert plan["patch_size"] == [16, 16] and plan["depth"] == 2 and plan["batch_size"] == 7
    soft = make_plan(_fingerprint([[1, 1, 1]] * 2, [[32, 32, 32]] * 2))
    assert soft["activation"] == "softmax" and soft["out_channels"] == 3
    assert soft["class_names"] == ["background", "a", "b"]
    assert make_plan(fp, overrides={"spatial_dims": 3})["spatial_dims"] == 3
    with pytest.raises(ValueError, match="unknown plan key.*valid keys"):
        make_plan(fp, overrides={"patchsize": [8, 8]})


# ---- network depth and per-axis strides (nnU-Net's get_pool_and_conv_props) ----------------------------------
def test_anisotropic_3d_pools_the_fine_axes_first():
    fp = _fingerprint([[0.9, 0.9, 3.0]] * 10, [[24, 26, 12]] * 10)  # twin (a): thick-slice MRI
    plan = make_plan(fp, spatial_dims=3)
    strides = plan["strides"]
    assert plan["depth"] == len(strides) >= 2  # the isotropic rule gave depth 1 (z = 12 voxels)
    assert strides[0] == [2, 2, 1]  # z (3 mm) waits until x, y (0.9 -> 1.8 mm) are within a factor 2 of it
    assert strides == [[2, 2, 1], [2, 2, 2]]
    assert plan["patch_size"] == [24, 28, 12]  # multiples of the total strides [4, 4, 2]
    assert plan["isotropic_depth"] == 1  # for UNet++ / FCN-8s, which pool every axis at every level
    # nnU-Net's kernels: 1 along z at level 0 (3 mm vs 0.9 mm), 3 once z is within 2x (level 1: 1.8 mm), the bottom 3
    assert plan["kernel_sizes"] == [[3, 3, 1], [3, 3, 3], [3, 3, 3]]


def test_isotropic_3d_pools_every_axis():
    plan = make_plan(_fingerprint([[1, 1, 1]] * 3, [[64, 64, 64]] * 3), spatial_dims=3)
    assert plan["strides"] == [[2, 2, 2]] * plan["depth"] and plan["depth"] == 4
    assert plan["isotropic_depth"] == plan["depth"] and plan["patch_size"] == [64, 64, 64]
    assert plan["kernel_sizes"] == [[3, 3, 3]] * (plan["depth"] + 1)


def test_per_axis_rule_single_axis_and_level_cap():
    # 0.5 x 0.5 x 5 mm: z is pooled only once x, y are within a factor 2 of it; a lone axis needs >= 12 voxels
    assert per_axis_strides([0.5, 0.5, 5.0], [96, 96, 32]) == [
        [2, 2, 1], [2, 2, 1], [2, 2, 1], [2, 2, 2], [1, 1, 2]
    ]
    assert per_axis_strides([1.0, 1.0], [8, 8]) == [[2, 2]]
    assert per_axis_strides([1.0, 1.0, 1.0], [4, 4, 4]) == [[2, 2, 2]]  # below the minimum: one level anyway
    assert len(per_axis_strides([1.0] * 3, [1024] * 3)) == 5
    assert conv_kernel_sizes([0.5, 0.5, 5.0], per_axis_strides([0.5, 0.5, 5.0], [96, 96, 32])) == [
        [3, 3, 1], [3, 3, 1], [3, 3, 1], [3, 3, 3], [3, 3, 3], [3, 3, 3]
    ]


def test_2d_plan_keeps_the_isotropic_rule():
    fp = _fingerprint([[0.9, 0.9, 3.0]] * 10, [[24, 26, 12]] * 10)
    plan = make_plan(fp, spatial_dims=2)
    assert plan["strides"] is None and plan["kernel_sizes"] is None and plan["depth"] == plan["isotropic_depth"] == 2
    assert plan["patch_size"] == [24, 28] and plan["slice_axis"] == 2


def test_strides_override_sets_depth_and_is_validated():
    fp = _fingerprint([[0.9, 0.9, 3.0]] * 4, [[32, 32, 16]] * 4)
    plan = make_plan(fp, spatial_dims=3, overrides={"strides": "[[2, 2, 1], [2, 2, 2], [2, 2, 2]]"})
    assert plan["strides"] == [[2, 2, 1], [2, 2, 2], [2, 2, 2]] and plan["depth"] == 3
    assert plan["kernel_sizes"] == [[3, 3, 1], [3, 3, 3], [3, 3, 3], [3, 3, 3]]  # re-planned for the new strides
    flat = make_plan(fp, spatial_dims=3, overrides={"strides": [[2, 2, 1], [2, 2, 2]], "kernel_sizes": [[3, 3, 3]] * 3})
    assert flat["kernel_sizes"] == [[3, 3, 3]] * 3
    with pytest.raises(ValueError, match="kernel_sizes .* must be depth \\+ 1 = 3 levels .* of 3 odd positive ints"):
        make_plan(fp, spatial_dims=3, overrides={"strides": [[2, 2, 1], [2, 2, 2]], "kernel_sizes": [[3, 3, 2]] * 3})
    with pytest.raises(ValueError, match=r"patch_size \[24, 26, 12\] is not a multiple of the total stride \[4, 4, 2\].*"
                                         r"use patch_size \[24, 28, 12\]"):
        make_plan(fp, spatial_dims=3, overrides={"patch_size": [24, 26, 12], "strides": [[2, 2, 1], [2, 2, 2]]})
    with pytest.raises(ValueError, match="must be depth = 2 levels of 3 positive ints"):
        make_plan(fp, spatial_dims=3, overrides={"strides": [[2, 2], [2, 2]]})
    with pytest.raises(ValueError, match="must be depth = 3 levels"):
        make_plan(fp, spatial_dims=3, overrides={"strides": [[2, 2, 1], [2, 2, 2]], "depth": 3})
    with pytest.raises(ValueError, match="not JSON"):
        make_plan(fp, spatial_dims=3, overrides={"strides": "[[2, 2, 1]"})


def test_patch_or_depth_override_replans_the_strides():
    fp = _fingerprint([[0.9, 0.9, 3.0]] * 4, [[32, 32, 16]] * 4)
    plan = make_plan(fp, spatial_dims=3, overrides={"patch_size": [48, 48, 12]})
    assert plan["strides"] == [[2, 2, 1], [2, 2, 2], [2, 2, 1]] and plan["depth"] == 3  # z stops at 6 voxels
    assert plan["isotropic_depth"] == 1
    iso = make_plan(fp, spatial_dims=3, overrides={"depth": 2})  # a depth alone: the isotropic network
    assert iso["strides"] is None and iso["kernel_sizes"] is None and iso["depth"] == 2


def test_plan_without_strides_reads_as_isotropic(tmp_path):
    plan = make_plan(_fingerprint([[1, 1, 1]] * 3, [[64, 64, 64]] * 3))
    old = {k: v for k, v in plan.items() if k not in ("strides", "kernel_sizes", "isotropic_depth")}
    read = read_plan(write_plan({**old, "strides": None, "kernel_sizes": None, "isotropic_depth": 0}, tmp_path / "p.json"))
    assert read["isotropic_depth"] == 0  # written values are kept
    (tmp_path / "old.json").write_text(json.dumps(old))
    read = read_plan(tmp_path / "old.json")
    assert read["strides"] is None and read["kernel_sizes"] is None and read["isotropic_depth"] == plan["depth"]
