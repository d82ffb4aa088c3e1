"""bundles/common/configs/losses.yaml: every named loss builds from YAML, is differentiable and decreases after one
optimiser step on a toy problem; the unet bundle's loss switches with one override (seed 000's four losses, and
the class-frequency weighted BCE computed from the training set)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
import yaml
from monai.bundle import ConfigParser
from parameterized import parameterized

from tests.masks import GT, HALF, logits

ROOT = Path(__file__).resolve().parents[2]
LOSSES_YAML = ROOT / "bundles" / "common" / "configs" / "losses.yaml"
NAMES = list(yaml.safe_load(LOSSES_YAML.read_text()))
MULTICLASS = {name for name in NAMES if name == "ce" or name.endswith("_softmax")}
SEED_000 = {  # name: loss of the half-overlap masks by hand (Figure 3 of seed 000)
    "dice": 1 - (8 + 1e-5) / (16 + 1e-5),
    "dice_squared": 1 - (8 + 1e-5) / (16 + 1e-5),
    "bce": 8 * 20.0 / 16,
    "focal_tversky": (1 - 4 / (4 + 0.7 * 4 + 0.3 * 4)) ** 0.75,
}


def build(name: str, **extra) -> torch.nn.Module:
    """The named loss of losses.yaml, in a config that provides what it references (``data#train_volumes``)."""
    config = {
        "data": {"train_volumes": [{"label": GT[0]}, {"label": HALF[0]}]},
        "loss": f"%{LOSSES_YAML}#{name}",
        **extra,
    }
    return ConfigParser(config).get_parsed_content("loss")


def toy_problem(name: str) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """A 3x3 convolution from a random 2-channel image to 1 (sigmoid) or 3 (softmax) outputs, and its label."""
    g = torch.Generator().manual_seed(0)
    channels = 3 if name in MULTICLASS else 1
    image = torch.randn(2, 2, 12, 12, generator=g)
    label = torch.zeros(2, 1, 12, 12)
    label[:, :, 3:8, 2:9] = 1
    if channels == 3:
        label[:, :, 5:7, 4:6] = 2
    out = 3 * channels if name == "deep_supervision" else channels
    net = torch.nn.Conv2d(2, out, 3, padding=1)
    torch.nn.init.normal_(net.weight, std=0.1, generator=g)
    return net, image, label


def forward(name: str, net: torch.nn.Module, image: torch.Tensor) -> torch.Tensor:
    out = net(image)
    if name == "deep_supervision":  # three heads stacked on dim 1, as UNet++ returns them in training
        return out.reshape(out.shape[0], 3, 1, *out.shape[2:])
    return out


def test_every_definition_is_tested():
    assert {"dice", "dice_squared", "bce", "focal_tversky", "weighted_bce", "bce_dice", "deep_supervision",
            "unified_focal", "ce"} <= set(NAMES)  # fmt: skip


@parameterized.expand([(name,) for name in NAMES])
def test_differentiable_and_decreases_after_one_step(name):
    loss_fn = build(name)
    net, image, label = toy_problem(name)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    before = loss_fn(forward(name, net, image), label)
    assert before.dim() == 0 and torch.isfinite(before)
    optimizer.zero_grad()
    before.backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)
    optimizer.step()
    with torch.no_grad():
        after = loss_fn(forward(name, net, image), label)
    assert after < before, f"{name}: {before.item()} -> {after.item()}"


def test_weighted_bce_weights_come_from_the_training_labels():
    loss = build("weighted_bce")  # labels GT (8 of 16 foreground) and HALF (8 of 16): N = 32, N_0 = N_1 = 16
    assert loss.class_weights.tolist() == pytest.approx([1.0, 1.0])
    loss = ConfigParser({"data": {"train_volumes": [{"label": GT[0]}, {"label": GT[0, :, :, :1]}]},
                         "loss": f"%{LOSSES_YAML}#weighted_bce"}).get_parsed_content("loss")  # fmt: skip
    # 16 + 4 pixels, 8 + 4 foreground: N = 20, N_1 = 12, N_0 = 8
    assert loss.class_weights.tolist() == pytest.approx([20 / 16, 20 / 24])


def unet_parser(monkeypatch, **overrides) -> ConfigParser:
    monkeypatch.chdir(ROOT)  # the macros of the bundle and of the override are relative to the repository root
    parser = ConfigParser()
    parser.read_config("bundles/unet/configs/train.yaml")
    parser.update({"target_params": 0, "features": 4, **overrides})
    return parser


@pytest.mark.parametrize("name", list(SEED_000))
def test_unet_bundle_switches_to_seed_000_loss_with_one_override(monkeypatch, name):
    parser = unet_parser(monkeypatch, loss=f"%bundles/common/configs/losses.yaml#{name}")
    loss = parser.get_parsed_content("loss")
    assert loss(logits(HALF), GT).item() == pytest.approx(SEED_000[name], abs=1e-5)
    # the bundle's own network output: (B, 1, H, W) logits
    network = ConfigParser.load_config_file(ROOT / "bundles/unet/configs/train.yaml")["network_def"]
    assert network["out_channels"] == 1


def test_dice_entry_is_the_unet_bundle_default_loss(monkeypatch):
    # a batch with a tumour-free slice: per-slice and batch-pooled Dice differ, the entry must pool as the bundle does
    pred, gt = torch.cat([logits(HALF), logits(HALF)]), torch.cat([GT, torch.zeros_like(GT)])
    default = unet_parser(monkeypatch).get_parsed_content("loss")
    switched = unet_parser(monkeypatch, loss="%bundles/common/configs/losses.yaml#dice").get_parsed_content("loss")
    assert switched(pred, gt).item() == pytest.approx(default(pred, gt).item())
    assert switched(pred, gt).item() == pytest.approx(1 - 2 * 4 / (16 + 8), abs=1e-5)  # TP 4, |P| 16, |G| 8


def test_unet_bundle_weighted_bce_from_the_cached_training_volumes(monkeypatch, synthetic_msd_dir):
    parser = unet_parser(
        monkeypatch, loss="%bundles/common/configs/losses.yaml#weighted_bce", dataset_dir=str(synthetic_msd_dir),
        roi_size=[32, 32],  # the synthetic size: no padding, so the NIfTI labels can be counted directly
    )
    weights = parser.get_parsed_content("loss").class_weights
    counts = np.zeros(2)
    for item in parser.get_parsed_content("data#train_files"):
        tumour = np.asarray(nib.load(item["label"]).dataobj) > 0  # labels 1, 2, 3 collapse to 1
        counts += [(~tumour).sum(), tumour.sum()]
    assert weights.tolist() == pytest.approx((counts.sum() / (2 * counts)).tolist(), rel=1e-6)


def test_monai_bundle_cli_accepts_the_override():
    # the exact `--loss "%...#focal_tversky"` of the docs, through Python Fire; `--run` prints instead of training
    cmd = [
        sys.executable, "-m", "monai.bundle", "run", "--config_file", "bundles/unet/configs/train.yaml",
        "--target_params", "0", "--features", "4",
        "--loss", "%bundles/common/configs/losses.yaml#focal_tversky",
        "--run", "['$print(\"LOSS\", type(@loss).__name__, @loss.alpha, @loss.beta, @loss.gamma)']",
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "LOSS FocalTverskyLoss 0.7 0.3 1.3333333333333333" in proc.stdout
