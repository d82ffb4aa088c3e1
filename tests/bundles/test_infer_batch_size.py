"""Slices per network call in validation/evaluation/inference (`infer_batch_size`, the slice inferer's
sw_batch_size): the training batch on a GPU, 8 on the CPU (docs/benchmarks.md, inference section), overridable."""

from __future__ import annotations

import pytest
from monai.bundle import ConfigParser

import catalog

CONFIGS = [catalog.config_files(bundle, name) for bundle in ("unet", "brats_unet") for name in ("train", "evaluate", "inference")]


def _inferer(config: list[str], **overrides):
    parser = ConfigParser()
    parser.read_config(config)
    parser.update(overrides)
    parser.resolve_macro_and_relative_ids()
    return parser.get_parsed_content("validate#slice_inferer"), parser.get_parsed_content("batch_size")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda files: files[-1])
def test_cpu_calls_the_network_on_8_slices_gpu_on_a_training_batch(config):
    cpu, _ = _inferer(config, device="cpu")
    assert cpu.inferer.sw_batch_size == 8
    cuda, batch_size = _inferer(config, device="cuda:0")  # the device is only named here, never used
    assert cuda.inferer.sw_batch_size == batch_size != 8


@pytest.mark.parametrize("config", [CONFIGS[0], CONFIGS[3]], ids=lambda files: files[-1])
def test_command_line_override(config):
    inferer, _ = _inferer(config, device="cpu", infer_batch_size=3)
    assert inferer.inferer.sw_batch_size == 3
