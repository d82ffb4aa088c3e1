"""The slice store gives the in-memory pipeline's slices and volumes back within float16 rounding, keeps the geometry,
skips up-to-date cases, and names the folder / file / case in its errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser
from monai.transforms import ResizeWithPadOrCrop

from data.errors import DatasetError
from data.slice_store import SliceStore, StoreSliceDataset, StoreVolumeDataset, write_slice_store
from data.slice_store import FLOAT16_RELATIVE_ERROR, centre_window, nonzero_box

ROOT = Path(__file__).resolve().parents[2]
STORE_FILE = ROOT / "bundles/unet/configs/slice_store.yaml"


def _parser(dataset_dir, store_dir, roi, store: bool) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config([str(ROOT / "bundles/unet/configs/train.yaml"), *([str(STORE_FILE)] if store else [])])
    parser.update({"dataset_dir": str(dataset_dir), "roi_size": roi, "val_fraction": 0.34, "store_dir": str(store_dir)})
    return parser


@pytest.fixture(scope="module")
def store_dir(synthetic_msd_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("store")
    _parser(synthetic_msd_dir, path, [24, 40], store=True).get_parsed_content("data#store")
    return path


def _bound(x: torch.Tensor) -> torch.Tensor:
    return FLOAT16_RELATIVE_ERROR * x.abs() + 2.0**-25


@pytest.mark.parametrize("roi", [[24, 40], [32, 32]])  # crop one axis and pad the other; the source size
def test_slices_and_volumes_are_the_cached_pipelines_within_float16_rounding(synthetic_msd_dir, store_dir, roi):
    cached = _parser(synthetic_msd_dir, store_dir, roi, store=False)
    stored = _parser(synthetic_msd_dir, store_dir, roi, store=True)
    volumes = cached.get_parsed_content("data#train_volumes")
    slices = stored.get_parsed_content("data#train_dataset")
    assert len(slices) == sum(v["image"].shape[-1] for v in volumes) > 0
    for i in range(len(slices)):
        sample = slices[i]
        volume = volumes[i // 12]  # 12 slices per synthetic case
        assert sample["case_id"] == volume["case_id"] and sample["slice_index"] == i % 12
        expected = volume["image"].as_tensor()[..., i % 12]
        assert sample["image"].shape == (4, *roi) and sample["image"].dtype == torch.float32
        assert torch.all((sample["image"] - expected).abs() <= _bound(expected))
        torch.testing.assert_close(sample["label"], volume["label"].as_tensor()[..., i % 12].float(), rtol=0, atol=0)
    ref = cached.get_parsed_content("data#val_dataset")
    got = stored.get_parsed_content("data#val_dataset")
    assert len(got) == len(ref) > 0
    for a, b in zip(got, ref):
        assert a["case_id"] == b["case_id"] and a["image"].shape == b["image"].shape
        assert torch.all((a["image"].as_tensor() - b["image"].as_tensor()).abs() <= _bound(b["image"].as_tensor()))
        torch.testing.assert_close(a["label"].as_tensor(), b["label"].as_tensor().float(), rtol=0, atol=0)
        # the crop moves the affine's origin as MONAI's ResizeWithPadOrCropd does
        torch.testing.assert_close(a["image"].affine.double(), b["image"].affine.double())
        assert a["image"].meta["filename_or_obj"] == b["image"].meta["filename_or_obj"]


def test_geometry_and_float16_layout_are_kept(synthetic_msd_dir, store_dir):
    store = SliceStore(store_dir)
    assert store.case_ids == [f"BRATS_{i:03d}" for i in range(1, 7)]
    for case in store.case_ids:
        meta = store.meta(case)
        image_file = synthetic_msd_dir / "imagesTr" / f"{case}.nii.gz"
        nifti = nib.load(str(image_file))
        np.testing.assert_allclose(meta["affine"], nifti.affine, atol=1e-6)
        assert meta["original_shape"] == [32, 32, 12] and meta["channels"] == 4 and meta["axis"] == 2
        raw = np.asarray(nifti.dataobj)
        assert [tuple(b) for b in meta["box"]] == nonzero_box(np.moveaxis(raw, -1, 0))
        assert meta["sources"]["image"][0] == str(image_file)
        assert 0 < meta["max_abs_error"] <= FLOAT16_RELATIVE_ERROR * 20  # standardised intensities stay < 20
        image = np.load(store_dir / f"{case}_image.npy", mmap_mode="r")
        (x0, x1), (y0, y1), (z0, z1) = meta["box"]
        assert image.dtype == np.float16 and image.shape == (z1 - z0, 4, x1 - x0, y1 - y0)
        assert np.load(store_dir / f"{case}_label.npy", mmap_mode="r").dtype == np.uint8
        full, label = store.read_volume(case)
        assert full.shape == (4, 32, 32, 12) and label.shape == (1, 32, 32, 12)
        assert np.array_equal(full != 0, np.moveaxis(raw, -1, 0) != 0), "zero exactly where the source is zero"


def test_centre_window_is_monais_resize_with_pad_or_crop():
    for size in (5, 6, 7, 8, 12):
        for roi in (3, 4, 6, 8, 11, 12):
            x = torch.arange(1, size + 1, dtype=torch.float32).reshape(1, size, 1)
            out = ResizeWithPadOrCrop(spatial_size=(roi, 1))(x)[0, :, 0].as_tensor()
            start = centre_window(size, roi)
            expected = [i + start + 1 if 0 <= i + start < size else 0 for i in range(roi)]
            assert out.tolist() == expected, (size, roi)


def test_up_to_date_cases_are_skipped_and_changed_ones_written_again(synthetic_msd_dir, tmp_path):
    data = [{"image": str(synthetic_msd_dir / "imagesTr" / f"BRATS_00{i}.nii.gz"), "label": str(synthetic_msd_dir / "labelsTr" / f"BRATS_00{i}.nii.gz")} for i in (1, 2)]  # fmt: skip
    local = [{k: str(tmp_path / f"{k}_{i}.nii.gz") for k in ("image", "label")} for i in (1, 2)]
    for src, dst in zip(data, local):
        for key in src:
            shutil.copy(src[key], dst[key])
    transform = _parser(synthetic_msd_dir, tmp_path / "s", [32, 32], store=True).get_parsed_content("data#store_transforms")
    from monai.transforms import Compose

    assert write_slice_store(local, tmp_path / "s", Compose(transform), progress=False) == ["image_1", "image_2"]
    assert write_slice_store(local, tmp_path / "s", Compose(transform), progress=False) == []
    shutil.copy(data[1]["image"], local[0]["image"])  # case 1 now holds case 2's image
    Path(local[0]["image"]).touch()
    assert write_slice_store(local, tmp_path / "s", Compose(transform), progress=False) == ["image_1"]
    store = SliceStore(tmp_path / "s")
    np.testing.assert_array_equal(store.read_volume("image_1")[0], store.read_volume("image_2")[0])


def test_errors_name_the_folder_case_and_file(synthetic_msd_dir, tmp_path):
    with pytest.raises(DatasetError, match=str(tmp_path / "empty")):
        SliceStore(tmp_path / "empty")
    with pytest.raises(DatasetError, match="store_dir is not set"):
        SliceStore("none")
    image = str(synthetic_msd_dir / "imagesTr" / "BRATS_001.nii.gz")
    label = str(synthetic_msd_dir / "labelsTr" / "BRATS_001.nii.gz")

    def bad_label(d):
        return {"image": torch.ones(4, 6, 6, 3), "label": torch.full((1, 6, 6, 3), 0.5)}

    with pytest.raises(DatasetError, match="BRATS_001.nii.gz: label values must be integers"):
        write_slice_store([{"image": image, "label": label}], tmp_path / "s", bad_label, progress=False)

    def huge(d):
        return {"image": torch.full((4, 6, 6, 3), 1e6), "label": torch.zeros(1, 6, 6, 3)}

    with pytest.raises(DatasetError, match="BRATS_001.nii.gz: intensities .* float16 range"):
        write_slice_store([{"image": image, "label": label}], tmp_path / "s", huge, progress=False)
    with pytest.raises(DatasetError, match="BRATS_001.nii.gz: case BRATS_001 has no 'label'"):
        write_slice_store([{"image": image}], tmp_path / "s", lambda d: {"image": torch.ones(4, 6, 6, 3)}, progress=False)
    # a store that is fine, then a case that is not in it, then a broken case description
    write_slice_store([{"image": image, "label": label}], tmp_path / "s", lambda d: {"image": torch.ones(4, 6, 6, 3), "label": torch.zeros(1, 6, 6, 3)}, progress=False)  # fmt: skip
    store = SliceStore(tmp_path / "s")
    with pytest.raises(DatasetError, match="case 'BRATS_999' is not stored"):
        StoreSliceDataset(store, ["BRATS_999"])
    (tmp_path / "s" / "BRATS_001.json").write_text("{not json")
    with pytest.raises(DatasetError, match="BRATS_001.json: not a slice store case"):
        SliceStore(tmp_path / "s")


def test_empty_slices_outside_the_box_and_whole_volume_dataset(tmp_path):
    image = torch.zeros(2, 8, 10, 6)
    image[:, 2:5, 3:9, 1:4] = torch.randn(2, 3, 6, 3)
    label = torch.zeros(1, 8, 10, 6)
    label[0, 3, 4, 2] = 1
    write_slice_store([{"image": "x", "label": "y", "case_id": "c"}], tmp_path, lambda d: {"image": image, "label": label}, progress=False)  # fmt: skip
    store = SliceStore(tmp_path)
    assert store.meta("c")["box"] == [[2, 5], [3, 9], [1, 4]]
    ds = StoreSliceDataset(store, roi_size=[6, 6])
    assert len(ds) == 6 and not ds[0]["image"].any() and not ds[5]["image"].any()
    win = store.window("c", [6, 6])
    expected = ResizeWithPadOrCrop(spatial_size=(6, 6, -1))(image).as_tensor()
    for z in range(6):
        torch.testing.assert_close(ds[z]["image"], expected[..., z], atol=2e-3, rtol=FLOAT16_RELATIVE_ERROR)
    volume = StoreVolumeDataset(store, ["c"], roi_size=[6, 6])[0]
    assert volume["image"].shape == (2, 6, 6, 6) and volume["label"].sum() == 1
    torch.testing.assert_close(volume["image"].as_tensor(), expected, atol=2e-3, rtol=FLOAT16_RELATIVE_ERROR)
    assert win == [(1, 6), (2, 6)]
    saved = json.loads((tmp_path / "c.json").read_text())
    assert saved["original_shape"] == [8, 10, 6] and saved["affine"] is None
