"""Integration: bundles/isbi_unet (seed 002, the 2015 U-Net on ISBI 2012 EM stacks) trains, evaluates and infers
through the stock CLI ``python -m monai.bundle run`` on a tiny synthetic stack (6 pages of 64 x 64, valid-padding
U-Net of depth 2 and width 4, training tiles 60 -> 20); the outputs are checked against what the configs promise,
and the inference's probabilities against one forward pass over each whole mirror-padded page."""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from monai.bundle import ConfigParser, verify_net_in_out

from losses import WeightedBCELoss
from networks import count_parameters
from data.errors import DatasetError
from inferers.overlap_tile import OverlapTileInferer
from formats.isbi2012.synthetic import generate_isbi2012
import catalog
from tests.bundles.seed_roots import in_root

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = "bundles/isbi_unet/configs"
PAGES, SIZE = 6, 64
TINY_NET = {"features": 4, "depth": 2}
TINY = {"num_pages": PAGES, "device": "cpu", **TINY_NET}
TINY_TRAIN = {"tile_size": 20, "samples_per_epoch": 4, "batch_size": 2, "epochs": 1}


@pytest.fixture(autouse=True)
def _repo_root_cwd(monkeypatch):
    monkeypatch.chdir(ROOT)  # bundle configs name shared fragments relative to the repository root


@pytest.fixture(scope="module")
def isbi_dir(tmp_path_factory) -> Path:
    return generate_isbi2012(tmp_path_factory.mktemp("isbi") / "isbi2012", num_pages=PAGES, size=SIZE, seed=0)


def _parser(config: str, dataset_dir: Path, **overrides) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config(catalog.config_files("isbi_unet", config))
    parser.update({"dataset_dir": str(dataset_dir), **TINY, **overrides})
    return parser


def _run(config: str, dataset_dir: Path, root: Path, **overrides) -> None:
    values = {**TINY, **overrides}
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(catalog.config_files("isbi_unet", config)),
           "--dataset_dir", str(dataset_dir), "--bundle_root", str(root), *in_root(root, config, overrides)]  # fmt: skip
    cmd += [x for key, value in values.items() for x in (f"--{key}", str(value))]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    print(f"{config}: {time.perf_counter() - start:.1f} s")


@pytest.fixture(scope="module")
def trained(isbi_dir, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("isbi_unet")
    _run("train", isbi_dir, root, **TINY_TRAIN)
    return root


def _load_net(root: Path, dataset_dir: Path) -> torch.nn.Module:
    net = _parser("train", dataset_dir).get_parsed_content("network_def")
    net.load_state_dict(torch.load(root / "models" / "model.pt", map_location="cpu", weights_only=True))
    return net.eval()


def test_trains_with_stock_cli_checkpoints_tensorboard_pictures(trained, isbi_dir):
    assert (trained / "models" / "model.pt").is_file() and (trained / "models" / "checkpoint_epoch=1.pt").is_file()
    assert list((trained / "runs").glob("events.out.tfevents.*"))
    assert (trained / "runs" / "pictures" / "validation_epoch001.png").is_file()
    _load_net(trained, isbi_dir)  # the checkpoint is this bundle's network


def test_evaluates_pixel_and_rand_error_per_page(trained, isbi_dir, tmp_path):
    out = tmp_path / "eval"
    _run("evaluate", isbi_dir, trained, output_dir=out)
    metrics = dict(csv.reader((out / "metrics.csv").open()))
    # the test pages' metrics are named test_* (validation's are val_*)
    assert not [name for name in metrics if name.startswith("val_")], metrics
    for name in ("test_pixel_error", "test_rand_error", "test_mean_iou", "test_mean_dice"):
        assert name in metrics and 0.0 <= float(metrics[name]) <= 1.0, name
    assert float(metrics["test_pixel_error"]) == pytest.approx(1.0 - float(metrics["test_accuracy"]))
    test_pages = _parser("evaluate", isbi_dir).get_parsed_content("data#test_files")
    rows = list(csv.reader((out / "test_rand_error_raw.csv").open()))[1:]
    assert [r[0] for r in rows] == [f"train-volume.tif:{d['case_id']}" for d in test_pages]  # one row per page
    assert (out / "pictures" / "evaluation_epoch001.png").is_file()


def test_infers_probability_and_label_stacks_equal_to_whole_padded_pages(trained, isbi_dir, tmp_path):
    out = tmp_path / "pred"
    _run("inference", isbi_dir, trained, output_dir=out, amp="false", channels_last="false")  # fp32: compared exactly
    prob = tifffile.imread(out / "test-volume_prob.tif")
    seg = tifffile.imread(out / "test-volume_seg.tif")
    assert prob.shape == seg.shape == (PAGES, SIZE, SIZE) and prob.dtype == np.float32 and seg.dtype == np.uint8
    np.testing.assert_array_equal(seg, np.where(prob > 0.5, 255, 0))  # the label format of train-labels.tif
    assert (out / "pictures" / "inference_epoch001.png").is_file()

    # the reference: each whole page mirror-padded (numpy) to the network's input_size_for(64), one forward pass
    net = _load_net(trained, isbi_dir)
    full_in = net.input_size_for(SIZE)
    margin = (full_in - net.output_size(full_in)) // 2
    pages = tifffile.imread(isbi_dir / "test-volume.tif").astype(np.float32) / 255.0
    pad = (margin, full_in - margin - SIZE)
    padded = np.pad(pages[:, None], [(0, 0), (0, 0), pad, pad], mode="reflect")
    with torch.no_grad():
        reference = torch.sigmoid(net(torch.as_tensor(padded)))[:, 0, :SIZE, :SIZE].numpy()
    np.testing.assert_allclose(prob, reference, atol=1e-5)

    # tiles of 20 output pixels (what --infer_tile_size 20 configures) give the same pages
    inferer = _parser("inference", isbi_dir, infer_tile_size=20).get_parsed_content("data#inferer")
    assert isinstance(inferer, OverlapTileInferer) and len(inferer.layout(net, (SIZE, SIZE))[0]["starts"]) > 1
    with torch.no_grad():
        tiled = torch.sigmoid(inferer(torch.as_tensor(pages[:, None]), net))[:, 0].numpy()
    np.testing.assert_allclose(tiled, reference, atol=1e-5)


def test_class_weights_come_from_the_training_masks(isbi_dir):
    parser = _parser("train", isbi_dir, **TINY_TRAIN)
    loss = parser.get_parsed_content("loss")
    assert isinstance(loss, WeightedBCELoss)
    labels = tifffile.imread(isbi_dir / "train-labels.tif")
    train_pages = [d["page"] for d in parser.get_parsed_content("data#train_files")]
    assert len(train_pages) == 4  # 20/5/5 of 6 pages -> 4/1/1
    masks = labels[train_pages]
    counts = np.array([(masks == 0).sum(), (masks == 255).sum()], dtype=np.float64)
    torch.testing.assert_close(loss.class_weights, torch.as_tensor(counts.sum() / (2 * counts), dtype=torch.float32))
    assert float(loss.class_weights[0]) > 1.0 > float(loss.class_weights[1])  # membranes are the rarer class
    sample = parser.get_parsed_content("data#train_dataset")[0]
    assert sample["image"].shape == (1, 60, 60) and sample["label"].shape == (1, 20, 20)  # input_size_for(20) = 60


def test_paper_defaults(isbi_dir):
    """The 2015 U-Net: width 64, depth 4, valid padding; training tiles 572 -> 388; a 512 page padded to 700;
    Adam betas (0.99, 0.999), learning rate x0.99 every 500 updates."""
    parser = ConfigParser()
    parser.read_config(f"{CONFIGS}/train.yaml")
    parser.update({"dataset_dir": str(isbi_dir), "device": "cpu"})
    with torch.device("meta"):
        net = parser.get_parsed_content("network_def")
    assert count_parameters(net) == 31_030_593
    assert parser.get_parsed_content("tile_input") == 572 and parser.get_parsed_content("tile_output") == 388
    assert OverlapTileInferer().layout(net, (512, 512))[0]["input"] == 700
    assert parser.get_parsed_content("samples_per_epoch") == 3360 and parser.get_parsed_content("epochs") == 24
    assert parser["optimizer"]["betas"] == "$tuple(@adam_betas)"
    assert parser.get_parsed_content("adam_betas") == [0.99, 0.999]
    assert parser.get_parsed_content("lr_step") == 500 and parser.get_parsed_content("lr_gamma") == 0.99
    with pytest.raises(Exception) as err:  # the real stacks have 30 pages: a 6-page stack is named
        parser.get_parsed_content("data#datalist")
    cause = err.value
    while cause is not None and not isinstance(cause, DatasetError):
        cause = cause.__cause__
    assert cause is not None and "train-volume.tif: 6 page(s), expected 30" in str(cause)


def test_verify_net_in_out():
    """Metadata: a 572 x 572 tile in, 388 x 388 out (width 2 keeps it cheap; the sizes do not depend on it)."""
    verify_net_in_out(
        net_id="network_def", meta_file=f"{CONFIGS}/metadata.json", config_file=f"{CONFIGS}/train.yaml",
        device="cpu", n=1, features=2,
    )  # fmt: skip
