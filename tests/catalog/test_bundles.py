"""catalog.bundles: every bundle described once, read from the tree."""

from __future__ import annotations

import json

import pytest
from monai.bundle import ConfigParser

import catalog
from catalog.bundles import ROOT, BundleError


def test_every_bundle_is_described_with_its_base_and_seed_format():
    names = catalog.bundle_names()
    assert {"unet", "nas_unet", "brats_unet", "isbi_unet", "figshare_unetplusplus", "liver_fcn8s"} <= set(names)
    formats = {n: catalog.bundle(n).data_format for n in names}
    assert formats["unet"] == formats["nas_unet"] == "msd" and formats["brats_unet"] == "brats2020"
    assert formats["isbi_unet"] == "isbi2012" and formats["figshare_unetplusplus"] == "figshare"
    assert formats["liver_improved_skip_unet"] == formats["liver_fcn8s"] == "png_pairs"
    for name in names:  # every workflow's files exist and parse, and evaluate/inference run after train.yaml
        spec = catalog.bundle(name)
        for workflow in spec.workflows:
            files = spec.config_files(workflow)
            assert files[0] == f"bundles/{spec.base}/configs/train.yaml"
            assert all((ROOT / f).is_file() for f in files), files
            ConfigParser().read_config([str(ROOT / f) for f in files])


def test_workflow_lists_are_the_model_zoo_override_lists():
    assert catalog.config_files("unet", "evaluate") == ["bundles/unet/configs/train.yaml", "bundles/unet/configs/evaluate.yaml"]
    assert catalog.config_files("attention_unet", "multi_gpu_train") == [
        "bundles/unet/configs/train.yaml", "bundles/attention_unet/configs/variant.yaml",
        "bundles/unet/configs/multi_gpu_train.yaml",
    ]  # fmt: skip


def test_errors_name_the_folder_and_list_the_bundles(tmp_path):
    with pytest.raises(BundleError, match=r"no bundle 'vnet'; the bundles are .*unet"):
        catalog.bundle("vnet")
    with pytest.raises(BundleError, match="no workflow 'deploy' in bundle 'unet'; it has train, evaluate"):
        catalog.config_files("unet", "deploy")
    configs = tmp_path / "bundles" / "mine" / "configs"
    configs.mkdir(parents=True)
    (configs / "metadata.json").write_text(json.dumps({"version": "0.1.0"}))
    (configs / "variant.yaml").write_text("skip: attention\n")
    with pytest.raises(BundleError, match=rf"{configs / 'variant.yaml'}: an override file must name the bundle"):
        catalog.bundle("mine", root=tmp_path)


def test_generic_files_of_the_generic_path():
    assert catalog.generic_file() == catalog.GENERIC == "bundles/common/configs/any_dataset.yaml"
    assert catalog.generic_file("evaluate") == "bundles/common/configs/any_dataset_evaluate.yaml"
    with pytest.raises(catalog.BundleError, match="no 'multi_gpu_train' workflow; it has train, .*evaluate"):
        catalog.generic_file("multi_gpu_train")
