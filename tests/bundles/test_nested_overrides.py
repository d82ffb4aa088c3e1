"""A nested key of a seed bundle's data block is overridden from the command line (`--data#a#b value`), because the
data blocks are written out in train.yaml (no `%file#data` macro), and evaluate.yaml / inference.yaml see it too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from monai.bundle import ConfigParser

import catalog

ROOT = Path(__file__).resolve().parents[2]


def test_command_line_override_reaches_an_augmentation_of_the_unet_data_block():
    probe = "$print('PROBE', @data#augmentation[2].prob, @data#augmentation[0].prob, len(@data#augmentation))"
    cmd = [
        sys.executable, "-m", "monai.bundle", "run", "--config_file", str(catalog.config_files("unet", "evaluate")),
        "--data#augmentation#2#prob", "0.25", "--initialize", "[]", "--run", str([probe]),
    ]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PROBE 0.25 0.5 3" in proc.stdout, "the shear's probability changed, the rest of the chain kept"


@pytest.mark.parametrize(
    "bundle, key, value, read",
    [
        ("brats_unet", "data#volume_transforms#5#mode", ["bilinear", "nearest"], "data#volume_transforms#5#mode"),
        ("isbi_unet", "data#augmentation#1#sigma", 5.0, "data#augmentation#1#sigma"),
        ("figshare_unetplusplus", "data#load_transforms#5#mode", ["bilinear", "nearest"], "data#load_transforms#5#mode"),
        ("liver_improved_skip_unet", "data#val_loader#num_workers", 2, "data#val_loader#num_workers"),
        ("liver_fcn8s", "data#split", "$[[], [], []]", "data#split"),
    ],
)  # fmt: skip
def test_every_seed_data_block_takes_nested_overrides(bundle, key, value, read, monkeypatch):
    monkeypatch.chdir(ROOT)
    for workflow in ("train", "evaluate", "inference"):
        parser = ConfigParser()
        parser.read_config(catalog.config_files(bundle, workflow))
        parser.update({key: value})  # what `--<key> <value>` does
        assert parser.get(read) == value, (bundle, workflow)


def test_deep_supervision_switch_of_the_unet_bundle(monkeypatch):
    """`--deep_supervision true` gives the seed U-Net heads in training (its loss takes the stacked heads with
    nnU-Net's weights) and one output in evaluation; the default has none."""
    import torch

    monkeypatch.chdir(ROOT)
    outputs = {}
    for flag in ("false", "true"):
        parser = ConfigParser()
        parser.read_config(catalog.config_files("unet", "train"))
        parser.update({"deep_supervision": flag, "target_params": 0, "features": 4, "device": "cpu"})
        net, loss = parser.get_parsed_content("network_def"), parser.get_parsed_content("loss")
        x, y = torch.randn(2, 4, 32, 32), (torch.rand(2, 1, 32, 32) > 0.5).float()
        train_out = net.train()(x)
        assert torch.isfinite(loss(train_out, y))
        outputs[flag] = (tuple(train_out.shape), tuple(net.eval()(x).shape))
    assert outputs["false"] == ((2, 1, 32, 32), (2, 1, 32, 32))
    assert outputs["true"][0] == (2, 4, 1, 32, 32) and outputs["true"][1] == (2, 1, 32, 32), outputs
