"""Every architecture bundle trains one epoch on every registered format's synthetic twin through the generic path
(its config list + bundles/common/configs/any_dataset.yaml), in this process as `monai.bundle run` would: the plan
sets the channels, classes, depth and padding the bundle's network reads, whatever the bundle's seed data set was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigWorkflow

import catalog
from formats import FORMATS
from tests.twins import TINY_TWINS

ROOT = Path(__file__).resolve().parents[2]
ANY = "bundles/common/configs/any_dataset.yaml"
# widths 4-8 for every network (the FCN-8s' VGG stages and fc layers shrunk as in its bundle tests)
TINY_NETS = {
    "liver_fcn8s": {"fcn_stages": [[4, 1], [4, 1], [8, 1], [8, 1], [8, 1]], "fc_channels": 8, "fc_kernel": 1},
}


def test_the_twins_cover_every_registered_format():
    assert set(TINY_TWINS) == set(FORMATS.names())


@pytest.fixture(scope="module")
def fingerprints(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fingerprints")  # one pass per format, shared by the bundles


@pytest.mark.parametrize("data_format", sorted(TINY_TWINS))
@pytest.mark.parametrize("bundle", catalog.bundle_names())
def test_bundle_trains_one_epoch_on_the_twin(bundle, data_format, format_twins, fingerprints, tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the configs name their shared YAML relative to the repository root
    torch.set_num_threads(1)
    files = [*catalog.config_files(bundle, "train"), ANY]
    workflow = ConfigWorkflow(
        config_file=files, workflow_type="train", dataset_dir=str(format_twins[data_format]), data_format=data_format,
        output_dir=str(tmp_path / "runs"), ckpt_dir=str(tmp_path / "models"), fingerprint_dir=str(fingerprints),
        epochs=1, iterations_per_epoch=1, val_interval=2, val_fraction=0.34, device="cpu", num_workers=0, seed=0,
        **{"plan#features": 4, "plan#batch_size": 2, "plan#patch_size": [32, 32]}, **TINY_NETS.get(bundle, {}),
    )  # fmt: skip
    workflow.initialize()
    workflow.run()
    workflow.finalize()
    trainer = workflow.parser.get_parsed_content("train#trainer")
    assert trainer.state.epoch == 1 and trainer.state.iteration == 1
    assert (tmp_path / "models" / "checkpoint_epoch=1.pt").is_file()
    plan = json.loads((tmp_path / "models" / "plan.json").read_text())
    network = workflow.parser.get_parsed_content("network_def")
    out = network.eval()(torch.zeros(1, plan["in_channels"], 32, 32))
    assert out.shape[1] == plan["out_channels"], (bundle, data_format, out.shape)
