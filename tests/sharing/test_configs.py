"""A bundle's workflows as file lists, and merged macro-free configs that build the same network."""

from __future__ import annotations

import pytest

from sharing.configs import ROOT, bundle_config_files, find_macros, flatten_config


def test_own_configs_and_variant_overrides():
    unet = ROOT / "bundles/unet/configs"
    assert bundle_config_files("bundles/unet")["inference"] == [unet / "train.yaml", unet / "inference.yaml"]
    lists = bundle_config_files("bundles/nas_unet")
    assert set(lists) == {"train", "evaluate", "inference"}
    assert lists["train"] == [unet / "train.yaml", ROOT / "bundles/nas_unet/configs/variant.yaml"]
    assert lists["evaluate"] == [unet / "train.yaml", ROOT / "bundles/nas_unet/configs/variant.yaml", unet / "evaluate.yaml"]


def test_override_bundle_names_its_base():
    lists = bundle_config_files("bundles/liver_fcn8s")  # fcn8s.yaml: base_bundle: liver_improved_skip_unet
    liver = ROOT / "bundles/liver_improved_skip_unet/configs"
    assert lists["inference"] == [liver / "train.yaml", ROOT / "bundles/liver_fcn8s/configs/fcn8s.yaml", liver / "inference.yaml"]
    with pytest.raises(ValueError, match="liver_fcn8s/configs: its override files name base bundle 'liver_improved_skip_unet', not 'unet'"):
        bundle_config_files("bundles/liver_fcn8s", base="bundles/unet")


def test_not_a_bundle_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        bundle_config_files(tmp_path)


def test_flattened_config_has_no_macros_and_builds_the_same_network():
    from monai.bundle import ConfigParser

    files = bundle_config_files("bundles/unetplusplus")["inference"]
    overrides = {"features": 4, "depth": 2, "prune_level": 2}
    flat = flatten_config(files, overrides)
    assert find_macros(flat) == [] and "_meta_" not in flat
    assert flat["network_def"]["_target_"] == "networks.UNetPlusPlus", "the variant overrides the unet network"
    original = ConfigParser()
    original.read_config([str(f) for f in files])
    original.update(overrides)
    a = original.get_parsed_content("network_def")
    b = ConfigParser(flat).get_parsed_content("network_def")
    assert [(n, p.shape) for n, p in a.named_parameters()] == [(n, p.shape) for n, p in b.named_parameters()]


def test_find_macros():
    assert find_macros({"a": ["%x.yaml#k", "$@b"], "b": {"c": "%#a"}}) == [("a#0", "%x.yaml#k"), ("b#c", "%#a")]
