"""The inferer and post-processing of the generic path, chosen from the plan."""

from __future__ import annotations

import torch
from monai.inferers import SliceInferer, SlidingWindowInferer

from engines.plan_inference import plan_inferer, plan_postprocessing


def test_2d_plan_on_3d_data_infers_slice_by_slice_along_the_slice_axis():
    plan = {"spatial_dims": 2, "patch_size": [8, 8], "slice_axis": 0}
    inferer = plan_inferer(plan, sw_batch_size=2)
    assert isinstance(inferer, SliceInferer) and inferer.spatial_dim == 0 and inferer.mode == "gaussian"
    net = torch.nn.Conv2d(1, 2, 1)
    assert inferer(torch.rand(1, 1, 3, 10, 12), net).shape == (1, 2, 3, 10, 12)


def test_3d_plan_and_2d_images_use_gaussian_sliding_windows():
    three = plan_inferer({"spatial_dims": 3, "patch_size": [8, 8, 4], "slice_axis": 2})
    two = plan_inferer({"spatial_dims": 2, "patch_size": [8, 8], "slice_axis": None})
    for inferer in (three, two):
        assert type(inferer) is SlidingWindowInferer and inferer.mode == "gaussian"
    assert list(three.roi_size) == [8, 8, 4]


def test_postprocessing_one_hot_classes_and_thresholded_regions():
    classes = plan_postprocessing({"activation": "softmax", "out_channels": 3})
    out = classes({"pred": torch.tensor([[[5.0]], [[0.0]], [[9.0]]]), "label": torch.tensor([[[1]]])})
    assert out["pred"].flatten().tolist() == [0, 0, 1] and out["label"].flatten().tolist() == [0, 1, 0]
    regions = plan_postprocessing({"activation": "sigmoid", "out_channels": 2})
    out = regions({"pred": torch.tensor([[[3.0]], [[-3.0]]]), "label": torch.ones(2, 1, 1)})
    assert out["pred"].flatten().tolist() == [1, 0]


def test_mirror_tta_is_the_mean_of_the_flipped_back_predictions():
    torch.manual_seed(0)
    net = torch.nn.Conv2d(1, 2, 3, padding=1)  # not mirror-symmetric
    x = torch.rand(1, 1, 6, 5)
    tta = plan_inferer({"spatial_dims": 2, "patch_size": [8, 8], "slice_axis": None}, tta=True)
    with torch.no_grad():
        expected = sum(torch.flip(net(torch.flip(x, d)), d) if d else net(x) for d in ([], [2], [3], [2, 3])) / 4
        assert torch.allclose(tta(x, net), expected, atol=1e-6)
        assert not torch.allclose(expected, net(x), atol=1e-4), "the flips matter for this network"


def test_tta_of_a_2d_plan_on_3d_data_mirrors_in_plane_only():
    tta = plan_inferer({"spatial_dims": 2, "patch_size": [8, 8], "slice_axis": 1}, tta="true")
    assert tta.spatial_axes == (0, 2) and isinstance(tta.inferer, SliceInferer)


def test_a_plan_that_crops_to_non_zero_infers_on_the_foreground_box_only():
    from inferers import BACKGROUND_LOGIT, ForegroundCropInferer

    plan = {"spatial_dims": 2, "patch_size": [8, 8], "slice_axis": 2, "crop_to_nonzero": True,
            "activation": "softmax", "out_channels": 2}  # fmt: skip
    inferer = plan_inferer(plan, sw_batch_size=8)
    assert isinstance(inferer, ForegroundCropInferer) and isinstance(inferer.inferer, SliceInferer)
    assert not isinstance(plan_inferer(dict(plan, crop_to_nonzero=False)), ForegroundCropInferer)
    assert not isinstance(plan_inferer(plan, crop_foreground="false"), ForegroundCropInferer)
    calls = []

    def net(x):
        calls.append(x.shape[0])
        return torch.cat([x, -x], dim=1)

    x = torch.zeros(1, 1, 6, 6, 5)
    x[0, 0, 1:4, 2:5, 1:3] = 1.0
    out = inferer(x, net)
    assert sum(calls) == 2 and out.shape == (1, 2, 6, 6, 5)  # 2 of the 5 slices
    assert (out[0, 1, ..., 0] == -BACKGROUND_LOGIT).all() and (out[0, 0, ..., 0] == 0).all()
    assert torch.equal(out[..., 1:3], torch.cat([x, -x], dim=1)[..., 1:3])
    calls.clear()
    assert (inferer(torch.zeros(1, 1, 6, 6, 5), net).argmax(1) == 0).all() and calls == []


def test_tta_runs_inside_the_crop_of_a_region_plan():
    plan = {"spatial_dims": 2, "patch_size": [8, 8], "slice_axis": None, "crop_to_nonzero": True,
            "activation": "sigmoid", "out_channels": 3}  # fmt: skip
    inferer = plan_inferer(plan, tta=True)
    assert inferer.background == "sigmoid" and inferer.inferer.spatial_axes == (0, 1)


def test_dihedral_tta_turns_in_the_plane_with_equal_spacing():
    plan2d = {"spatial_dims": 2, "patch_size": [8, 8], "slice_axis": None, "target_spacing": [0.5, 0.5]}
    tta = plan_inferer(plan2d, tta="dihedral")
    assert tta.rotation_plane == (0, 1) and tta.spatial_axes == (0, 1)
    x = torch.randn(1, 1, 8, 8)
    net = torch.nn.Conv2d(1, 2, 3, padding=1)
    expected = torch.stack(
        [torch.rot90(net(torch.rot90(x, k, [2, 3])), -k, [2, 3]) for k in range(4)]
        + [torch.rot90(torch.flip(net(torch.flip(torch.rot90(x, k, [2, 3]), [2])), [2]), -k, [2, 3]) for k in range(4)]
    ).mean(0)
    with torch.no_grad():
        torch.testing.assert_close(tta(x, net), expected, rtol=0, atol=1e-5)
    # a 2D network on 3D data (slice axis 2, anisotropic): the in-plane axes; a 3D plan: the equally spaced pair
    on3d = plan_inferer({"spatial_dims": 2, "patch_size": [8, 8], "slice_axis": 2, "target_spacing": [0.8, 0.8, 5.0]},
                        tta="dihedral")
    assert on3d.rotation_plane == (0, 1)
    plan3d = {"spatial_dims": 3, "patch_size": [8, 8, 8], "slice_axis": None, "target_spacing": [3.0, 0.7, 0.7]}
    assert plan_inferer(plan3d, data_dims=3, tta="dihedral").rotation_plane == (1, 2)
    assert plan_inferer(plan2d, tta="mirror").rotation_plane is None
    assert not isinstance(plan_inferer(plan2d, tta="false"), type(tta))


def test_dihedral_tta_without_an_equally_spaced_plane_and_a_bad_value_are_errors():
    import pytest

    anisotropic = {"spatial_dims": 2, "patch_size": [8, 8], "slice_axis": None, "target_spacing": [0.5, 2.0]}
    with pytest.raises(ValueError, match=r"target spacing \[0.5, 2.0\].*--tta true"):
        plan_inferer(anisotropic, tta="dihedral")
    with pytest.raises(ValueError, match="auto, true, false, mirror or dihedral, got 'sometimes'"):
        plan_inferer(anisotropic, tta="sometimes")


def test_auto_tta_is_dihedral_on_square_pixel_2d_images_trained_on_every_orientation():
    square = {"spatial_dims": 2, "patch_size": [8, 8], "slice_axis": None, "target_spacing": [0.5, 0.5]}
    assert plan_inferer(square, tta="auto", rotation_degrees=180.0).rotation_plane == (0, 1)
    # trained on small rotations only, no rotation known, non-square pixels: mirroring
    assert plan_inferer(square, tta="auto", rotation_degrees=30.0).rotation_plane is None
    assert plan_inferer(square, tta="auto").rotation_plane is None
    oblong = dict(square, target_spacing=[0.5, 0.7])
    assert plan_inferer(oblong, tta="auto", rotation_degrees=180.0).rotation_plane is None
    # 3D data (a 2D network on slices, or a 3D network): mirroring on every axis of the network
    on3d = {"spatial_dims": 2, "patch_size": [8, 8], "slice_axis": 2, "target_spacing": [0.8, 0.8, 5.0]}
    inferer = plan_inferer(on3d, tta="auto", rotation_degrees=180.0)
    assert inferer.rotation_plane is None and inferer.spatial_axes == (0, 1)
    cube = {"spatial_dims": 3, "patch_size": [8, 8, 8], "slice_axis": None, "target_spacing": [1.0, 1.0, 1.0]}
    assert plan_inferer(cube, data_dims=3, tta="auto", rotation_degrees=180.0).rotation_plane is None
