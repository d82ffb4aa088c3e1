"""The data pipelines of the four data sets as the data blocks of their bundles' train.yaml (and tests/transforms/pipelines/),
run on their synthetic twins through MONAI's ConfigParser, as a bundle would."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser
from monai.data import MetaTensor

from networks import ModularUNet
from formats.brats2020.synthetic import generate_brats2020
from formats.figshare.synthetic import generate_figshare
from formats.isbi2012.synthetic import generate_isbi2012
from formats.png_pairs.synthetic import generate_png_pairs

PIPELINES = Path(__file__).resolve().parent / "pipelines"
BUNDLES = Path(__file__).resolve().parents[2] / "bundles"


def _parser(name: str, **overrides) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config(PIPELINES / name)
    for key, value in overrides.items():
        parser[key] = value
    parser.parse()
    parser.get_parsed_content("imports")
    return parser


def test_brats_data_block_slices_two_channels_into_four_classes(tmp_path):
    root = generate_brats2020(tmp_path / "brats", 6, (40, 40, 16), seed=0)
    parser = _parser(BUNDLES / "brats_unet/configs/train.yaml", dataset_dir=str(root), image_size=[32, 32])
    train, val, test = (parser.get_parsed_content(f"data#{part}_files") for part in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (4, 1, 1)
    dataset = parser.get_parsed_content("data#train_dataset")
    assert len(dataset) == 4 * (16 - 5)  # slices 5.. of 16
    sample = dataset[0]
    assert sample["image"].shape == (2, 32, 32) and sample["label"].shape == (1, 32, 32)
    labels = torch.cat([dataset[i]["label"].flatten() for i in range(len(dataset))])
    assert set(labels.unique().tolist()) == {0.0, 1.0, 2.0, 3.0}


def test_isbi_data_block_trains_on_mirrored_tiles_and_infers_whole_pages(tmp_path):
    root = generate_isbi2012(tmp_path / "isbi", num_pages=5, size=64, seed=0, with_test=False)
    torch.manual_seed(0)
    net = ModularUNet(spatial_dims=2, in_channels=1, out_channels=2, features=4, depth=2, padding="valid", norm=None)
    tile_input, tile_output = net.input_size_for(20), net.output_size(net.input_size_for(20))
    parser = _parser(
        BUNDLES / "isbi_unet/configs/train.yaml", dataset_dir=str(root), num_pages=0, tile_input=tile_input, tile_output=tile_output
    )
    train = parser.get_parsed_content("data#train_dataset")
    assert len(train) == 3 and len(parser.get_parsed_content("data#val_files")) == 1
    sample = train[0]
    assert sample["image"].shape == (1, tile_input, tile_input)
    assert sample["label"].shape == (1, tile_output, tile_output)
    assert set(sample["label"].unique().tolist()) <= {0.0, 1.0}
    assert net(sample["image"][None].as_tensor()).shape[2:] == sample["label"].shape[1:]

    # the label tile is the centre of the image tile: run the tile steps on an image equal to its label
    page = torch.arange(64 * 64, dtype=torch.float32).reshape(1, 64, 64)
    tile = parser.get_parsed_content("data#training_tile")
    for _ in range(5):
        data = {"image": MetaTensor(page.clone()), "label": MetaTensor(page.clone())}
        for t in tile:
            data = t(data)
        margin = (tile_input - tile_output) // 2
        centre = data["image"][:, margin : margin + tile_output, margin : margin + tile_output]
        assert torch.equal(centre.as_tensor(), data["label"].as_tensor())

    val = parser.get_parsed_content("data#val_dataset")[0]
    inferer = parser.get_parsed_content("data#inferer")
    with torch.no_grad():
        out = inferer(val["image"][None], net.eval())
    assert out.shape == (1, 2, 64, 64)


def test_figshare_data_block_resizes_and_splits_by_patient(tmp_path):
    root = generate_figshare(tmp_path / "fig", num_images=10, num_patients=5, size=64, seed=0)
    parser = _parser(BUNDLES / "figshare_unetplusplus/configs/train.yaml", dataset_dir=str(root), image_size=[32, 32])
    parts = [parser.get_parsed_content(f"data#{p}_files") for p in ("train", "val", "test")]
    patients = [{d["patient_id"] for d in part} for part in parts]
    assert all(patients) and sum(len(p) for p in parts) == 10
    assert not (patients[0] & patients[1] or patients[0] & patients[2] or patients[1] & patients[2])
    sample = parser.get_parsed_content("data#train_dataset")[0]
    assert sample["image"].shape == sample["label"].shape == (1, 32, 32)
    assert set(sample["label"].unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("layout", [("images", "masks", ""), ("train", "train", "_mask")])
def test_png_pairs_data_block(tmp_path, layout):
    images, masks, suffix = layout
    root = tmp_path / "liver"
    generate_png_pairs(root, "liver", 10, 48, images_dir=images, masks_dir=masks, mask_suffix=suffix)
    parser = _parser(
        BUNDLES / "liver_improved_skip_unet/configs/train.yaml", dataset_dir=str(root), images_subdir=images,
        masks_subdir=masks, mask_suffix=suffix, roi_size=[48, 48], split_fractions=[0.8, 0.1, 0.1],
    )
    assert [len(parser.get_parsed_content(f"data#{p}_files")) for p in ("train", "val", "test")] == [8, 1, 1]
    sample = parser.get_parsed_content("data#train_dataset")[0]
    assert sample["image"].shape == sample["label"].shape == (1, 48, 48)
    assert float(sample["image"].max()) <= 1.0 and set(np.unique(sample["label"].numpy()).tolist()) == {0.0, 1.0}
