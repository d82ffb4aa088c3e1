"""ForegroundCropInferer: the network runs on the non-zero bounding box only, the output is pasted back."""

from __future__ import annotations

import pytest
import torch
from monai.data import MetaTensor
from monai.inferers import SimpleInferer, SliceInferer, SlidingWindowInferer

from inferers import BACKGROUND_LOGIT, AdaptiveSliceInferer, ForegroundCropInferer, foreground_box


class Counting(torch.nn.Module):
    """A 1x1 convolution (each output voxel depends on that input voxel only) that records its input shapes."""

    def __init__(self, dims: int = 2, in_channels: int = 2, out_channels: int = 3) -> None:
        super().__init__()
        torch.manual_seed(0)
        conv = torch.nn.Conv2d if dims == 2 else torch.nn.Conv3d
        self.conv = conv(in_channels, out_channels, 1)
        self.shapes: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.shapes.append(tuple(x.shape))
        return self.conv(x)


def _volume(shape=(2, 12, 10, 9), box=((3, 8), (2, 7), (4, 6))) -> torch.Tensor:
    x = torch.zeros(1, *shape)
    region = (0, slice(None), *(slice(a, b) for a, b in box))
    x[region] = torch.rand(x[region].shape) + 0.5
    x[0, 1, box[0][0], box[1][0], box[2][0]] = -2.0  # negative voxels count (standardised images): not positive
    return x


def test_box_is_the_union_of_the_non_zero_voxels_of_every_channel_and_item():
    x = torch.zeros(2, 2, 8, 8)
    x[0, 0, 1, 2] = 1.0
    x[1, 1, 5, 6] = -1.0
    assert foreground_box(x) == ([1, 2], [6, 7])
    assert foreground_box(x, margin=2) == ([0, 0], [8, 8])  # clipped to the image
    assert foreground_box(torch.zeros(1, 3, 4, 4)) is None


def test_pointwise_network_on_the_crop_equals_the_full_volume_inside_and_background_outside():
    x = _volume()
    net = Counting(dims=3, in_channels=2, out_channels=3)
    with torch.no_grad():
        full = net(x)
        net.shapes.clear()
        cropped = ForegroundCropInferer(inferer=SimpleInferer(), background="sigmoid")(x, net)
    assert cropped.shape == full.shape == (1, 3, 12, 10, 9) and net.shapes == [(1, 2, 5, 5, 2)]
    inside = (slice(None), slice(None), slice(3, 8), slice(2, 7), slice(4, 6))
    torch.testing.assert_close(cropped[inside], full[inside])
    outside = torch.ones_like(cropped, dtype=torch.bool)
    outside[inside] = False
    assert (cropped[outside] == -BACKGROUND_LOGIT).all()


def test_slice_inferer_skips_the_slices_outside_the_box_and_keeps_the_roi_in_plane():
    x = _volume()
    net = Counting(in_channels=2, out_channels=3)
    inner = SliceInferer(spatial_dim=2, roi_size=(16, 16), sw_batch_size=2)
    with torch.no_grad():
        full = inner(x, net)
        net.shapes.clear()
        cropped = ForegroundCropInferer(inferer=inner, background="sigmoid")(x, net)
    # slices 4, 5 of 0..8 reach the network, in one call, whole in-plane (the 12 x 10 image is within the roi)
    assert net.shapes == [(2, 2, 16, 16)]
    torch.testing.assert_close(cropped[..., 4:6], full[..., 4:6])
    assert (cropped[..., :4] == -BACKGROUND_LOGIT).all() and (cropped[..., 6:] == -BACKGROUND_LOGIT).all()


def test_a_shift_variant_network_gives_the_logits_of_the_whole_volume_inside_the_box():
    torch.manual_seed(0)
    net = torch.nn.Sequential(  # 3x3 context and 2x2 pooling: a shifted input would change the output
        torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 4, 3, padding=1), torch.nn.Upsample(scale_factor=2), torch.nn.Conv2d(4, 3, 3, padding=1),
    )  # fmt: skip
    x = torch.zeros(1, 2, 16, 16, 7)
    x[0, :, 3:10, 5:12, 2:5] = torch.randn(2, 7, 7, 3)
    inner = SliceInferer(spatial_dim=2, roi_size=(16, 16), sw_batch_size=4)
    with torch.no_grad():
        full, cropped = inner(x, net), ForegroundCropInferer(inferer=inner)(x, net)
    torch.testing.assert_close(cropped[..., 2:5], full[..., 2:5], rtol=0, atol=0)


def test_all_zero_volume_makes_no_network_call_when_the_channels_are_known():
    net = Counting(in_channels=2, out_channels=3)
    inner = SliceInferer(spatial_dim=2, roi_size=(16, 16), sw_batch_size=2)
    crop = ForegroundCropInferer(inferer=inner, background="softmax", out_channels=3)
    with torch.no_grad():
        out = crop(torch.zeros(1, 2, 6, 5, 4), net)
    assert net.shapes == [] and out.shape == (1, 3, 6, 5, 4)
    assert (out[:, 0] == 0).all() and (out[:, 1:] == -BACKGROUND_LOGIT).all() and (out.argmax(1) == 0).all()


def test_all_zero_volume_after_a_case_reuses_the_learnt_channels_and_before_one_calls_once():
    net = Counting(in_channels=2, out_channels=3)
    crop = ForegroundCropInferer(inferer=SliceInferer(spatial_dim=2, roi_size=(16, 16)), background=-5.0)
    with torch.no_grad():
        first = crop(torch.zeros(1, 2, 6, 5, 4), net)  # channels unknown: one slice of one voxel
        assert len(net.shapes) == 1 and net.shapes[0][0] == 1
        assert first.shape == (1, 3, 6, 5, 4) and (first == -5.0).all()
        crop(_volume(), net)
        net.shapes.clear()
        assert crop(torch.zeros(1, 2, 6, 5, 4), net).shape == (1, 3, 6, 5, 4) and net.shapes == []


def test_margin_keeps_context_and_more_slices():
    x = _volume()
    net = Counting()
    crop = ForegroundCropInferer(inferer=SliceInferer(spatial_dim=2, roi_size=(16, 16), sw_batch_size=8), margin=1)
    with torch.no_grad():
        crop(x, net)
    assert crop.last_box == ([2, 1, 3], [9, 8, 7]) and sum(s[0] for s in net.shapes) == 4


def test_box_equal_to_the_whole_volume_passes_the_input_itself():
    seen = []
    x = torch.rand(1, 2, 4, 5)

    def net(t):
        seen.append(t)
        return t[:, :1] * 2

    out = ForegroundCropInferer(inferer=SimpleInferer())(x, net)
    assert seen[0] is x and torch.equal(out, x[:, :1] * 2)


def test_per_channel_background_must_match_the_output():
    x = _volume()
    crop = ForegroundCropInferer(inferer=SimpleInferer(), background=[1.0, 2.0])
    with pytest.raises(ValueError, match="one value per output channel"):
        crop(x, Counting(dims=3, out_channels=3))
    with pytest.raises(ValueError, match="'sigmoid', 'softmax'"):
        ForegroundCropInferer(background="tanh")


def test_divisible_by_grows_the_box_for_a_network_without_padding_and_crops_the_output_back():
    x = torch.zeros(1, 1, 16, 12)
    x[0, 0, 5:8, 3:6] = 1.0  # a 3 x 3 box

    class NeedsEight(torch.nn.Module):
        def forward(self, t):
            assert t.shape[2] % 8 == 0 and t.shape[3] % 8 == 0, f"not divisible by 8: {tuple(t.shape)}"
            return t * 3

    crop = ForegroundCropInferer(inferer=SimpleInferer(), divisible_by=8, background=0.0)
    out = crop(x, NeedsEight())
    torch.testing.assert_close(out, x * 3)
    with pytest.raises(AssertionError, match="not divisible"):
        ForegroundCropInferer(inferer=SimpleInferer())(x, NeedsEight())
    # an image smaller than the multiple along an axis is padded with the input background, then cropped back
    small = torch.zeros(1, 1, 6, 12)
    small[0, 0, 2:4, 1:3] = 1.0
    torch.testing.assert_close(crop(small, NeedsEight()), small * 3)


def test_fit_roi_shrinks_the_slice_windows_to_the_crop_and_restores_them():
    x = _volume()
    net = Counting()
    inner = AdaptiveSliceInferer(spatial_dim=2, roi_size=(16, 16), sw_batch_size=8)
    with torch.no_grad():
        padded = ForegroundCropInferer(inferer=inner)(x, net)
        assert {s[2:] for s in net.shapes} == {(16, 16)}  # the crop padded to the roi
        net.shapes.clear()
        fitted = ForegroundCropInferer(inferer=inner, fit_roi=True, divisible_by=4)(x, net)
    assert {s[2:] for s in net.shapes} == {(8, 8)}  # the 5 x 5 box grown to multiples of 4
    assert tuple(inner.orig_roi_size) == (16, 16)
    inside = (slice(None), slice(None), slice(3, 8), slice(2, 7), slice(4, 6))
    torch.testing.assert_close(fitted[inside], padded[inside])  # a 1x1 convolution does not see the padding


def test_fit_roi_on_3d_sliding_windows_restores_the_cached_weight_map():
    x = _volume()
    net = Counting(dims=3)
    inner = SlidingWindowInferer(roi_size=(16, 16, 16), mode="gaussian")
    weights = inner.roi_weight_map
    with torch.no_grad():
        out = ForegroundCropInferer(inferer=inner, fit_roi=True)(x, net)
        assert net.shapes[0][2:] == (5, 5, 2)
        full = inner(x, net)
    assert inner.roi_size == (16, 16, 16) and inner.roi_weight_map is weights
    inside = (slice(None), slice(None), slice(3, 8), slice(2, 7), slice(4, 6))
    torch.testing.assert_close(out[inside], full[inside])


def test_stacked_deep_supervision_heads_are_pasted_on_their_spatial_axes():
    x = torch.zeros(1, 2, 12, 10)
    x[0, :, 3:8, 2:7] = 1.0

    def heads(t):  # (B, L=2, K=3, H, W)
        return torch.stack([t[:, :1].expand(-1, 3, -1, -1), 2 * t[:, :1].expand(-1, 3, -1, -1)], dim=1)

    out = ForegroundCropInferer(inferer=SimpleInferer(), background="softmax")(x, heads)
    assert out.shape == (1, 2, 3, 12, 10)
    torch.testing.assert_close(out[..., 3:8, 2:7], heads(x)[..., 3:8, 2:7])
    assert (out[:, :, 0, 0, 0] == 0).all() and (out[:, :, 1:, 0, 0] == -BACKGROUND_LOGIT).all()


def test_metatensor_input_keeps_its_metadata_and_disabled_runs_on_the_whole_volume():
    x = MetaTensor(_volume(), meta={"filename_or_obj": "case.nii.gz"})
    net = Counting()
    inner = SliceInferer(spatial_dim=2, roi_size=(16, 16), sw_batch_size=16)
    with torch.no_grad():
        out = ForegroundCropInferer(inferer=inner)(x, net)
        assert isinstance(out, MetaTensor) and out.meta["filename_or_obj"] == "case.nii.gz"
        net.shapes.clear()
        ForegroundCropInferer(inferer=inner, enabled="false")(x, net)
    assert sum(s[0] for s in net.shapes) == 9  # every slice
