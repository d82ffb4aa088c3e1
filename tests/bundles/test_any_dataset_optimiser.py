"""The generic path's optimiser and weight average (bundles/common/configs/any_dataset.yaml): AdamW runs PyTorch's fused
kernel on a CPU (`optimizer#fused`, off by override); with `ema_momentum` (on by default) the validation evaluator runs
the average, the latest checkpoint's `model` (what evaluation and inference load) is the average and its
`weight_average` entry the online weights; a resumed run restores both and the warm-up's position; `--ema_momentum 0`
is the online network everywhere, as before the average existed. On the MRI twin, in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from ignite.engine import Events
from monai.bundle import ConfigParser
from monai.utils import set_determinism

from tests.bundles.generic_in_process import in_root, mri_twin
from tests.bundles.generic_in_process import parser_for as tiny_parser

TRAIN = "bundles/unet/configs/train.yaml"
ANY = "bundles/common/configs/any_dataset.yaml"


@pytest.fixture(scope="module")
def mri(tmp_path_factory) -> Path:
    return mri_twin(tmp_path_factory.mktemp("twin"))


def parser_for(dataset: Path, run: Path, **overrides):
    """Two epochs of the tiny settings (the average then differs from the online weights)."""
    return tiny_parser([TRAIN, ANY], dataset, run, **{"epochs": 2, **overrides})


def train(parser: ConfigParser):
    with in_root():
        trainer = parser.get_parsed_content("train#trainer")
        set_determinism(seed=0)
        trainer.run()
    return trainer


def latest(run: Path) -> dict:
    files = sorted((run / "models").glob("checkpoint_epoch=*.pt"))
    assert len(files) == 1, files
    return torch.load(files[0], map_location="cpu", weights_only=True)


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_validation_and_the_checkpoint_use_the_average_and_the_online_weights_are_kept(mri, tmp_path):
    run = tmp_path / "run"
    parser = parser_for(mri, run)
    trainer = train(parser)
    average, network = parser.get_parsed_content("weight_average"), parser.get_parsed_content("network")
    evaluator = parser.get_parsed_content("validate#evaluator")
    assert average.enabled and average.handler.momentum == pytest.approx(0.01)
    assert evaluator.network is average.model and average.model is not network
    assert trainer.state.ema_momentum == pytest.approx(0.5 - 0.49 * 3 / 99)  # the 4th iteration of the warm-up
    ckpt = latest(run)
    assert same(ckpt["model"], average.model.state_dict())
    assert same(ckpt["weight_average"]["online"], network.state_dict())
    assert ckpt["weight_average"]["step"] == 4
    assert not same(ckpt["model"], ckpt["weight_average"]["online"])  # two different sets of weights
    assert parser.get_parsed_content("validate#best_saver").save_dict["model"] is average.model  # model.pt too


def test_resume_restores_the_average_the_online_weights_and_the_warm_up(mri, tmp_path):
    run = tmp_path / "run"
    train(parser_for(mri, run))
    saved = latest(run)
    parser = parser_for(mri, run, epochs=3, resume=True)
    with in_root():
        trainer = parser.get_parsed_content("train#trainer")
    average, network = parser.get_parsed_content("weight_average"), parser.get_parsed_content("network")
    loaded = {}

    def capture(_engine):  # after the checkpoint loader (attached earlier at STARTED)
        loaded["model"] = {k: v.clone() for k, v in average.model.state_dict().items()}
        loaded["online"] = {k: v.clone() for k, v in network.state_dict().items()}
        loaded["step"] = average.handler.momentum_scheduler.event_index

    trainer.add_event_handler(Events.STARTED, capture)
    with in_root():
        set_determinism(seed=0)
        trainer.run()
    assert same(loaded["model"], saved["model"]) and same(loaded["online"], saved["weight_average"]["online"])
    assert loaded["step"] == 4
    assert trainer.state.iteration == 6 and latest(run)["weight_average"]["step"] == 6


def test_momentum_zero_is_the_online_network_everywhere(mri, tmp_path):
    run = tmp_path / "run"
    parser = parser_for(mri, run, ema_momentum="0")  # as the command line gives it
    train(parser)
    average, network = parser.get_parsed_content("weight_average"), parser.get_parsed_content("network")
    assert not average.enabled and average.model is network
    assert parser.get_parsed_content("validate#evaluator").network is network
    ckpt = latest(run)
    assert ckpt["weight_average"] == {} and same(ckpt["model"], network.state_dict())


def test_adamw_is_fused_on_a_cpu_and_an_override_turns_it_off(mri, tmp_path):
    with in_root():
        optimizer = parser_for(mri, tmp_path / "a").get_parsed_content("optimizer")
        assert isinstance(optimizer, torch.optim.AdamW) and optimizer.defaults["fused"] is True
        plain = parser_for(mri, tmp_path / "b", **{"optimizer#fused": False}).get_parsed_content("optimizer")
        assert not plain.defaults["fused"]
