"""The generic path's deep supervision (bundles/common/configs/any_dataset.yaml, `default_recipe#deep_supervision`): one
epoch in-process on the MRI twin trains the modular U-Net with its heads stacked (nnU-Net's loss weights), while
validation and inference (the saved model loaded into the same network) see one output; switched off from the
command line's string, no head is built; `auto` (the default) builds heads on UNet++ only; UNet++ keeps equal
weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from monai.utils import set_determinism

from tests.bundles.generic_in_process import in_root, mri_twin, parser_for

TRAIN = "bundles/unet/configs/train.yaml"
UNETPP = "bundles/unetplusplus/configs/variant.yaml"
ANY = "bundles/common/configs/any_dataset.yaml"
INFERENCE = "bundles/common/configs/any_dataset_inference.yaml"


@pytest.fixture(scope="module")
def mri(tmp_path_factory) -> Path:
    return mri_twin(tmp_path_factory.mktemp("twin"))


def record_outputs(network: torch.nn.Module) -> list[tuple[bool, tuple[int, ...]]]:
    """(training flag, output shape) of every call of ``network``."""
    calls: list[tuple[bool, tuple[int, ...]]] = []
    network.register_forward_hook(lambda m, _, out: calls.append((m.training, tuple(out.shape))))
    return calls


def test_one_epoch_trains_the_heads_and_validation_and_inference_see_one_output(mri, tmp_path):
    run = tmp_path / "run"
    with in_root():
        parser = parser_for([TRAIN, ANY], mri, run, **{"default_recipe#deep_supervision": "true"})
        plan = parser.get_parsed_content("data#plan")
        network = parser.get_parsed_content("network")
        loss = parser.get_parsed_content("loss")
        assert plan["depth"] == 2 and network.deep_supervision and len(network.ds_heads) == 1
        assert loss.weight_mode == "nnunet" and loss.get_weights(2) == [0.0, 1.0]
        calls = record_outputs(network)
        set_determinism(seed=0)
        parser.get_parsed_content("train#trainer").run()
    channels = plan["out_channels"]
    train = [shape for training, shape in calls if training]
    evaluation = [shape for training, shape in calls if not training]
    assert train and all(s == (2, 2, channels, 16, 16) for s in train), train  # heads stacked, final last
    assert evaluation and all(len(s) == 4 and s[1] == channels for s in evaluation), evaluation  # validation
    assert (run / "models" / "model.pt").is_file()

    with in_root():  # inference: the saved model (with its head) loads strictly; one output per window
        parser = parser_for([TRAIN, ANY, INFERENCE], mri, run, output_dir=str(run / "pred"),
                            **{"default_recipe#deep_supervision": "true"})
        network = parser.get_parsed_content("network")
        calls = record_outputs(network)
        parser.get_parsed_content("infer#evaluator").run()
    assert calls and all(not training and len(shape) == 4 and shape[1] == channels for training, shape in calls)
    assert len(list((run / "pred").glob("*.nii.gz"))) == 1


def test_switched_off_from_the_command_line_builds_no_head(mri, tmp_path):
    with in_root():
        parser = parser_for([TRAIN, ANY], mri, tmp_path / "run", **{"default_recipe#deep_supervision": "false"})
        network = parser.get_parsed_content("network_def")
    assert not network.deep_supervision and len(network.ds_heads) == 0
    assert network.train()(torch.zeros(1, 1, 16, 16)).shape == (1, 4, 16, 16)


def test_auto_by_default_heads_on_unetplusplus_only(mri, tmp_path):
    """`auto` (the default): the modular U-Net trains without heads, UNet++ with its own; a bad value is named."""
    with in_root():
        unet = parser_for([TRAIN, ANY], mri, tmp_path / "a").get_parsed_content("network_def")
        unetpp = parser_for([TRAIN, UNETPP, ANY], mri, tmp_path / "b").get_parsed_content("network_def")
        bad = parser_for([TRAIN, ANY], mri, tmp_path / "c", **{"default_recipe#deep_supervision": "maybe"})
        with pytest.raises(Exception) as err:
            bad.get_parsed_content("network_def")
    cause = err.value.__cause__ or err.value
    assert "--default_recipe#deep_supervision must be true, false or auto, got 'maybe'" in str(cause)
    assert not unet.deep_supervision and len(unet.ds_heads) == 0
    assert unetpp.deep_supervision


def test_unetplusplus_keeps_equal_weights(mri, tmp_path):
    with in_root():
        parser = parser_for([TRAIN, UNETPP, ANY], mri, tmp_path / "run")
        loss = parser.get_parsed_content("loss")
        network = parser.get_parsed_content("network_def")
    assert loss.weight_mode == "same" and network.deep_supervision
