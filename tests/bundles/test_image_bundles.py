"""Integration: the bundles on 2D image data sets (PNG pairs: liver_improved_skip_unet, liver_fcn8s; Figshare .mat:
figshare_unetplusplus) train one epoch, evaluate and infer through the stock CLI ``python -m monai.bundle run`` on
tiny synthetic twins, and every bundle's network passes MONAI's ``verify_net_in_out`` against its metadata."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser, verify_net_in_out

from PIL import Image

from networks import count_parameters
from formats.figshare.synthetic import generate_figshare
from formats.png_pairs.synthetic import generate_png_pairs
import catalog
from tests.bundles.seed_roots import in_root

ROOT = Path(__file__).resolve().parents[2]
LIVER = "bundles/liver_improved_skip_unet/configs"
FCN = "bundles/liver_fcn8s/configs/fcn8s.yaml"
FIGSHARE = "bundles/figshare_unetplusplus/configs"
TINY = ["--roi_size", "[32, 32]", "--batch_size", "2", "--device", "cpu"]
# per bundle: config files of one run (train/evaluate/inference) and tiny network overrides
TINY_NET = {
    "liver_improved_skip_unet": {"features": 4},
    "liver_fcn8s": {"fcn_stages": [[4, 1], [4, 1], [8, 1], [8, 1], [8, 1]], "fc_channels": 8, "fc_kernel": 3},
    "figshare_unetplusplus": {"features": 4},
}
BUNDLES = list(TINY_NET)


def config_files(bundle: str, config: str = "train") -> list[str]:
    """The bundle's config list as a user passes it (catalog; liver_fcn8s overrides the liver bundle's configs)."""
    return catalog.config_files(bundle, config)


def _cli_overrides(values: dict) -> list[str]:
    return [x for key, value in values.items() for x in (f"--{key}", repr(value) if isinstance(value, list) else str(value))]


@pytest.fixture(autouse=True)
def _repo_root_cwd(monkeypatch):
    monkeypatch.chdir(ROOT)  # bundle configs name shared fragments relative to the repository root


def _png_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("png") / "liver"
    generate_png_pairs(root, "liver", 8, 64)
    return root


def _figshare_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("figshare") / "figshare"
    generate_figshare(root, num_images=10, num_patients=5, size=64, seed=0)
    return root


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, Path]:
    png = _png_root(tmp_path_factory)
    return {"liver_improved_skip_unet": png, "liver_fcn8s": png, "figshare_unetplusplus": _figshare_root(tmp_path_factory)}


def _test_files(bundle: str, dataset_dir: Path) -> list[dict]:
    parser = ConfigParser()
    parser.read_config(config_files(bundle))
    parser.update({"dataset_dir": str(dataset_dir)})
    return parser.get_parsed_content("data#test_files")


def _run(bundle: str, config: str, dataset_dir: Path, root: Path, *extra: str) -> float:
    cmd = [
        sys.executable, "-m", "monai.bundle", "run", "--config_file", str(config_files(bundle, config)),
        "--dataset_dir", str(dataset_dir), "--bundle_root", str(root), *in_root(root, config, extra), *TINY,
        *_cli_overrides(TINY_NET[bundle]), *extra,
    ]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return time.perf_counter() - start


@pytest.fixture(scope="module")
def trained(datasets, tmp_path_factory):
    """``trained(bundle)``: the bundle root of a 1-epoch training run (run once per bundle and module)."""
    roots: dict[str, Path] = {}

    def get(bundle: str) -> Path:
        if bundle not in roots:
            root = tmp_path_factory.mktemp(bundle)
            _run(bundle, "train", datasets[bundle], root, "--epochs", "1")
            roots[bundle] = root
        return roots[bundle]

    return get


@pytest.mark.parametrize("bundle", BUNDLES)
def test_bundle_trains_one_epoch_with_stock_cli(bundle, trained):
    root = trained(bundle)
    assert (root / "models" / "model.pt").is_file() and (root / "models" / "checkpoint_epoch=1.pt").is_file()
    assert list((root / "runs").glob("events.out.tfevents.*")) and (root / "runs" / "pictures").is_dir()
    # the checkpoint is this bundle's network
    parser = ConfigParser()
    parser.read_config(config_files(bundle))
    parser.update(TINY_NET[bundle])
    parser.get_parsed_content("network_def").load_state_dict(
        torch.load(root / "models" / "model.pt", map_location="cpu", weights_only=True)
    )


@pytest.mark.parametrize("bundle", BUNDLES)
def test_bundle_evaluates_with_stock_cli(bundle, trained, datasets, tmp_path):
    root, out = trained(bundle), tmp_path / "eval"
    _run(bundle, "evaluate", datasets[bundle], root, "--output_dir", str(out))
    metrics = (out / "metrics.csv").read_text()
    assert "test_mean_iou" in metrics and "test_mean_dice" in metrics  # the test split: test_*, not val_*
    assert "val_" not in metrics
    if bundle != "figshare_unetplusplus":
        assert "test_miou" in metrics and "test_aver_dice" in metrics  # seed 004's mIoU and Aver_dice
    assert (out / "test_mean_iou_raw.csv").is_file()


@pytest.mark.parametrize("bundle", BUNDLES)
def test_bundle_infers_with_stock_cli(bundle, trained, datasets, tmp_path):
    root, out = trained(bundle), tmp_path / "pred"
    _run(bundle, "inference", datasets[bundle], root, "--output_dir", str(out))
    ext = ".nii.gz" if bundle == "figshare_unetplusplus" else ".png"
    preds = sorted(out.glob(f"*_seg{ext}"))
    test_names = {Path(d["image"]).name.split(".")[0] for d in _test_files(bundle, datasets[bundle])}
    assert preds and {p.name[: -len(f"_seg{ext}")] for p in preds} == test_names  # the split's test images, by name
    if ext == ".png":  # 0/255 8-bit masks of the input's size, like the data set's masks
        pred = np.asarray(Image.open(preds[0]))
        assert pred.shape == (64, 64) and pred.dtype == np.uint8 and set(np.unique(pred).tolist()) <= {0, 255}


@pytest.mark.parametrize("config", ["evaluate", "inference"])
def test_unetplusplus_fast_mode_is_an_override(config, trained, datasets, tmp_path):
    """Pruned UNet++ (fast mode, level 2) from the same checkpoint: --inference_mode fast --prune_level 2."""
    bundle = "figshare_unetplusplus"
    _run(bundle, config, datasets[bundle], trained(bundle), "--inference_mode", "fast", "--prune_level", "2",
         "--output_dir", str(tmp_path / "out"))  # fmt: skip
    if config == "evaluate":
        assert (tmp_path / "out" / "metrics.csv").is_file()
    else:
        assert list((tmp_path / "out").glob("*_seg.nii.gz"))


@pytest.mark.parametrize("bundle", BUNDLES)
def test_verify_net_in_out(bundle):
    verify_net_in_out(
        net_id="network_def",
        meta_file=f"bundles/{bundle}/configs/metadata.json",
        config_file=config_files(bundle),
        device="cpu",
        n=1,
        any=16,
        **TINY_NET[bundle],
    )


@pytest.mark.parametrize(
    "bundle, overrides, expected",
    [
        ("liver_improved_skip_unet", {}, 8_289_697),                     # Ours1, seed 004 Table 2
        ("liver_improved_skip_unet", {"variant": "ours2"}, 7_765_409),   # Ours2, seed 004 Table 2
        ("liver_fcn8s", {}, 134_264_547),                                # 1 -> 1 channel (1 -> 2: 134,270,278)
    ],
)
def test_liver_networks_have_the_stated_parameter_counts(bundle, overrides, expected):
    parser = ConfigParser()
    parser.read_config(config_files(bundle))
    parser.update(overrides)
    with torch.device("meta"):
        net = parser.get_parsed_content("network_def")
    assert count_parameters(net) == expected
