"""Integration: every variant bundle of seed 000 trains one epoch through the stock CLI, and every bundle's
network passes MONAI's ``verify_net_in_out`` against its metadata."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser, verify_net_in_out

from networks import count_parameters
import catalog

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = sorted(p.parent.parent.name for p in ROOT.glob("bundles/*/configs/variant.yaml"))
BUNDLES = ["unet", *VARIANTS]
SEED_000 = ["unet", "attention_unet", "efficient_unet", "nas_reduction_unet", "nas_unet", "residual_unet"]
TINY = ["--roi_size", "[32, 32]", "--target_params", "0", "--features", "4", "--batch_size", "8", "--device", "cpu"]


@pytest.fixture(autouse=True)
def _repo_root_cwd(monkeypatch):
    monkeypatch.chdir(ROOT)  # bundle configs name shared fragments relative to the repository root


def config_files(bundle: str, config: str = "train") -> list[str]:
    """The bundle's config list as a user passes it (catalog; variants override the unet bundle's configs)."""
    return catalog.config_files(bundle, config)


def test_the_variants_exist():
    assert VARIANTS == [*SEED_000[1:], "unetplusplus"]


@pytest.mark.parametrize("bundle", VARIANTS)
def test_variant_trains_one_epoch_with_stock_cli(bundle, synthetic_msd_dir, tmp_path):
    files = str(config_files(bundle))
    cmd = [
        sys.executable, "-m", "monai.bundle", "run", "--config_file", files, "--dataset_dir", str(synthetic_msd_dir),
        "--ckpt_dir", str(tmp_path / "models"), "--output_dir", str(tmp_path / "runs"), "--epochs", "1", *TINY,
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    assert (tmp_path / "models" / "model.pt").is_file()
    state = torch.load(tmp_path / "models" / "model.pt", map_location="cpu", weights_only=True)
    parser = ConfigParser()
    parser.read_config(config_files(bundle))
    parser.update({"target_params": 0, "features": 4})
    net = parser.get_parsed_content("network_def")
    net.load_state_dict(state)  # the checkpoint is this variant's network, not the plain U-Net
    if bundle == "unetplusplus":  # evaluation in fast mode, pruned at level 2, is an override
        cmd[cmd.index("--config_file") + 1] = str(config_files(bundle, "evaluate"))
        cmd[cmd.index("--output_dir") + 1] = str(tmp_path / "eval")
        cmd[cmd.index("--epochs"): cmd.index("--epochs") + 2] = ["--inference_mode", "fast", "--prune_level", "2"]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
        assert (tmp_path / "eval" / "metrics.csv").is_file()


@pytest.mark.parametrize("bundle", BUNDLES)
def test_verify_net_in_out(bundle):
    verify_net_in_out(
        net_id="network_def",
        meta_file=f"bundles/{bundle}/configs/metadata.json",
        config_file=config_files(bundle),
        device="cpu",
        n=1,
        any=16,
        target_params=0,
        features=4,
    )


@pytest.mark.parametrize("bundle", SEED_000)
def test_bundle_network_meets_the_8_5m_budget(bundle):
    parser = ConfigParser()
    parser.read_config(config_files(bundle))
    with torch.device("meta"):
        net = parser.get_parsed_content("network_def")
    assert parser["target_params"] == 8_500_000
    assert abs(count_parameters(net) - 8_500_000) / 8_500_000 < 0.01


@pytest.mark.parametrize(
    "overrides, check",
    [
        ({"act": "prelu"}, lambda net: any(isinstance(m, torch.nn.PReLU) for m in net.modules())),
        ({"norm": "none"}, lambda net: not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())),
        ({"norm": "instance"}, lambda net: any(isinstance(m, torch.nn.InstanceNorm2d) for m in net.modules())),
        ({"dropout": 0.3}, lambda net: sum(isinstance(m, torch.nn.Dropout) for m in net.modules()) == 18),
        ({"dropout": [0, 0, 0, 0, 0.5, 0, 0, 0, 0]}, lambda net: sum(isinstance(m, torch.nn.Dropout) for m in net.modules()) == 2),
    ],
)
def test_seed_001_ablations_are_unet_overrides(overrides, check):
    """The README's ablation commands (activation, dropout layers and rate, normalisation) build what they say."""
    parser = ConfigParser()
    parser.read_config(config_files("unet"))
    parser.update({"target_params": 0, "features": 2, **overrides})
    assert check(parser.get_parsed_content("network_def"))
