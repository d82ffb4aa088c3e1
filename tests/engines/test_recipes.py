"""engines.recipes: which recipe a base bundle follows (its seed's, or the generic path's default recipe), decided on
the data set, and the generic path's config list of a workflow."""

from __future__ import annotations

from pathlib import Path

import pytest
from monai.bundle import ConfigParser

import catalog
from data.layouts import convert_dataset
from engines.recipes import RecipeError, follow_recipe, generic_config_files, seed_data_mismatch
from formats.integrity import DatasetIntegrityCheck

ROOT = Path(__file__).resolve().parents[2]
BASES = [name for name in catalog.bundle_names() if not catalog.bundle(name).is_override]


@pytest.fixture(scope="module")
def twins(format_twins, tmp_path_factory) -> dict[str, Path]:
    """Every format's tiny twin, and the nnU-Net MRI twin in MSD's layout: MSD, but one channel, not Task01's four."""
    one_channel = convert_dataset(format_twins["nnunet_v2"], tmp_path_factory.mktemp("msd_one"))
    return {**format_twins, "msd_one_channel": one_channel}


def integrity_check(bundle: str, dataset_dir: Path) -> DatasetIntegrityCheck:
    """The bundle's own ``data#integrity_check``, parsed from its train.yaml with ``dataset_dir``."""
    parser = ConfigParser()
    parser.read_config(str(ROOT / catalog.config_files(bundle, "train")[0]))
    parser["dataset_dir"] = str(dataset_dir)
    return parser.get_parsed_content("data#integrity_check")


def test_every_base_bundle_has_a_recipe_key_and_follows_it_first():
    for name in BASES:
        for workflow in ("train", "evaluate", "inference"):
            files = catalog.config_files(name, workflow)
            parser = ConfigParser()
            parser.read_config([str(ROOT / f) for f in files])
            assert parser["recipe"] == "auto", (name, workflow)
            assert "follow_recipe(@recipe" in parser["initialize"][0], (name, workflow)


@pytest.mark.parametrize("bundle", BASES)
def test_the_seed_data_is_the_seeds_and_other_formats_are_not(bundle, twins, monkeypatch):
    monkeypatch.chdir(ROOT)
    seed_format = catalog.bundle(bundle).data_format
    assert seed_data_mismatch(integrity_check(bundle, twins[seed_format])) is None
    why = seed_data_mismatch(integrity_check(bundle, twins["nnunet_v2"]))
    assert why is not None and "nnunet_v2" in why and seed_format in why


def test_an_msd_task_with_other_channels_is_not_task01(twins, monkeypatch):
    monkeypatch.chdir(ROOT)
    why = seed_data_mismatch(integrity_check("unet", twins["msd_one_channel"]))
    assert why is not None and "1 channel" in why and "4" in why


def test_an_unknown_folder_is_left_to_the_seeds_checks(tmp_path):
    check = DatasetIntegrityCheck("msd", tmp_path, num_channels=4)
    assert seed_data_mismatch(check) is None  # the seed's own check names what is wrong


def test_generic_config_lists(monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    common = ROOT / "bundles/common/configs"
    train, variant = "bundles/unet/configs/train.yaml", "bundles/attention_unet/configs/variant.yaml"
    generic = "bundles/common/configs/any_dataset.yaml"
    assert generic_config_files([train], common) == [train, generic]
    assert generic_config_files([train, variant, "bundles/unet/configs/evaluate.yaml"], common) == [
        train, variant, generic, "bundles/common/configs/any_dataset_evaluate.yaml"
    ]
    # absolute files, or another working directory: absolute paths
    assert generic_config_files([str(ROOT / train)], common) == [str(ROOT / train), str(common / "any_dataset.yaml")]
    monkeypatch.chdir(tmp_path)
    assert generic_config_files([train], common)[-1] == str(common / "any_dataset.yaml")
    assert generic_config_files([train, "bundles/unet/configs/inference.yaml"], common)[-1].endswith(
        "any_dataset_inference.yaml"
    )
    with pytest.raises(RecipeError, match="multi_gpu_train"):
        generic_config_files([train, "bundles/unet/configs/multi_gpu_train.yaml"], common)
    with pytest.raises(RecipeError, match="slice_store.yaml"):
        generic_config_files([train, "bundles/unet/configs/slice_store.yaml"], common)


def test_recipe_names_are_checked_and_the_seed_recipe_is_kept_on_seed_data(twins, tmp_path):
    with pytest.raises(RecipeError, match="auto, seed, default"):
        follow_recipe("papers", DatasetIntegrityCheck("msd", twins["msd"]))
    assert follow_recipe(" SEED ", DatasetIntegrityCheck("msd", twins["msd"], num_channels=4)) == "seed"
    assert follow_recipe("auto", DatasetIntegrityCheck("msd", twins["msd"], num_channels=4)) == "seed"
    # seed: never a look at the data (the seed's own checks name what is wrong), nor with a folder no format reads
    assert follow_recipe("seed", DatasetIntegrityCheck("msd", twins["nnunet_v2"], num_channels=4)) == "seed"
    assert follow_recipe("auto", DatasetIntegrityCheck("msd", tmp_path / "missing")) == "seed"


def test_the_default_recipe_outside_monai_bundle_run_says_how(twins):
    check = DatasetIntegrityCheck("msd", twins["nnunet_v2"], num_channels=4)
    with pytest.raises(RecipeError, match="any_dataset.yaml"):
        follow_recipe("auto", check)  # no `monai.bundle run` on the call stack: nothing to hand over to


def test_the_printed_command_is_one_a_shell_runs():
    import shlex

    from engines.recipes import _command

    cmd = _command(["bundles/unet/configs/train.yaml", "bundles/common/configs/any_dataset.yaml"],
                   {"plan#patch_size": [32, 32], "labels": "{'background': 0, 'tumour': [1, 2, 3]}", "epochs": 2})
    words = shlex.split(cmd)
    assert words[:5] == ["python", "-m", "monai.bundle", "run", "--config_file"]
    assert words[5] == "['bundles/unet/configs/train.yaml','bundles/common/configs/any_dataset.yaml']"
    assert words[6:] == ["--plan#patch_size", "[32, 32]", "--labels", "{'background': 0, 'tumour': [1, 2, 3]}",
                         "--epochs", "2"]


def test_the_generic_files_are_the_catalogs():
    """engines keeps its own copy of the name (packaged bundles ship engines, not catalog): the two agree."""
    from engines.recipes import GENERIC, GENERIC_DIR

    assert GENERIC_DIR / GENERIC == ROOT / catalog.GENERIC
