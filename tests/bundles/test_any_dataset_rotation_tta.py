"""The default recipe's rotation and test-time augmentation follow the plan (bundles/common/configs/any_dataset.yaml):
`default_recipe#rotation_degrees: auto` is nnU-Net's rule (a 2D network +-180 deg, a 3D one +-30 deg) and reaches the
affine augmentation; `tta: auto` turns and flips 2D images (8 passes) when training rotated them by +-90 deg or more,
and mirrors otherwise; both are overridable. Parsed in-process on the synthetic twins (nothing is trained)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from inferers import ForegroundCropInferer, MirrorTTAInferer
from tests.bundles.generic_in_process import in_root, mri_twin, parser_for

TRAIN = "bundles/unet/configs/train.yaml"
ANY = "bundles/common/configs/any_dataset.yaml"


@pytest.fixture(scope="module")
def twins(tmp_path_factory) -> dict[str, Path]:
    from formats import FORMATS

    out = tmp_path_factory.mktemp("twins")
    png2d = FORMATS.get("nnunet_v2").synthesize(out / "png2d", kind="png2d", num_training=4, num_test=1, seed=0)
    return {"png2d": png2d, "mri": mri_twin(out)}


def resolved(dataset: Path, run: Path, **overrides) -> tuple[float, float, MirrorTTAInferer]:
    """(data#rotation_degrees, the affine augmentation's rotation range in degrees, the test-time TTA inferer)."""
    parser = parser_for([TRAIN, ANY], dataset, run, **overrides)
    with in_root():
        degrees = parser.get_parsed_content("data#rotation_degrees")
        affine = parser.get_parsed_content("data#augmentation")[0]
        inferer = parser.get_parsed_content("validate#test_inferer")
    if isinstance(inferer, ForegroundCropInferer):
        inferer = inferer.inferer
    assert isinstance(inferer, MirrorTTAInferer)
    ranges = affine.rand_affine.rand_affine_grid.rotate_range
    return degrees, math.degrees(ranges[0]), inferer  # MONAI draws each angle in (-r, r)


def test_2d_images_rotate_fully_and_are_predicted_in_all_8_orientations(twins, tmp_path):
    degrees, augmented, inferer = resolved(twins["png2d"], tmp_path / "a")
    assert degrees == 180.0 and augmented == pytest.approx(180.0)
    assert inferer.rotation_plane == (0, 1)


def test_overrides_of_rotation_and_tta(twins, tmp_path):
    degrees, augmented, inferer = resolved(twins["png2d"], tmp_path / "b", **{"default_recipe#rotation_degrees": 30})
    assert degrees == 30.0 and augmented == pytest.approx(30.0)
    assert inferer.rotation_plane is None, "trained on small rotations only: mirroring"
    assert resolved(twins["png2d"], tmp_path / "c", tta="mirror")[2].rotation_plane is None
    assert resolved(twins["png2d"], tmp_path / "d", tta="dihedral")[2].rotation_plane == (0, 1)


@pytest.mark.parametrize("spatial_dims, expected", [(2, 180.0), (3, 30.0)])
def test_3d_data_rotate_by_the_networks_rule_and_are_mirrored(twins, tmp_path, spatial_dims, expected):
    patch = [16, 16] if spatial_dims == 2 else [16, 16, 8]
    degrees, augmented, inferer = resolved(
        twins["mri"], tmp_path / "e", spatial_dims=spatial_dims, **{"plan#patch_size": patch}
    )
    assert degrees == expected and augmented == pytest.approx(expected)
    assert inferer.rotation_plane is None
