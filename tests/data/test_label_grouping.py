"""A user's label grouping (the generic path's `--labels`, nnU-Net's dataset.json syntax): validated against the data
set's label values (errors name its dataset.json or folder and list the values), classes vs regions with nnU-Net's
regions_class_order, through the fingerprint and plan (a cached fingerprint serves every grouping, a plan never
another grouping's) and the saved plan of evaluation and inference."""

from __future__ import annotations

import json
import re

import pytest
import torch

from data.errors import DatasetError
from data.label_grouping import derive_regions_class_order, group_labels, parse_label_grouping
from data.loaders import label_transforms, open_dataset, resolve_plan
from data.plan import plan_dataset
from formats.msd.synthetic import generate_msd_task01

WHOLE_TUMOUR = {"background": 0, "tumour": [1, 2, 3]}


@pytest.fixture(scope="module")
def task01(tmp_path_factory):
    """A tiny synthetic MSD Task01 (labels 0 background, 1 edema, 2 non-enhancing, 3 enhancing tumour)."""
    root = tmp_path_factory.mktemp("msd") / "Task01_BrainTumour"
    return generate_msd_task01(root, num_training=3, num_test=1, spatial_size=(16, 16, 6), seed=0)


def test_one_region_is_seed_000s_whole_tumour(task01):
    spec = open_dataset(task01, labels=WHOLE_TUMOUR)
    assert spec.region_based and spec.class_names == ["tumour"] and spec.num_classes == 1
    assert spec.labels == WHOLE_TUMOUR and spec.regions_class_order == [1], "written as its smallest value"
    assert spec.label_values == [0, 1, 2, 3], "every stored value (the integrity check accepts them all)"
    assert open_dataset(task01).labels != spec.labels, "the data set's own labels without the override"


def test_one_list_makes_every_label_a_region_as_in_nnunet(task01):
    spec = open_dataset(task01, labels="{'background': 0, 'edema': 1, 'tumour core': [2, 3]}")  # as typed
    assert spec.region_based and spec.class_names == ["edema", "tumour core"]
    assert spec.regions_class_order == [1, 2]
    nested = {"background": 0, "whole": [1, 2, 3], "core": [2, 3], "enhancing": [3]}
    assert open_dataset(task01, labels=nested).regions_class_order == [1, 2, 3], "BraTS' order, derived"


def test_plain_values_name_the_classes(task01):
    spec = open_dataset(task01, labels={"bg": 0, "enhancing": 3, "oedema": 1, "core": 2})
    assert not spec.region_based and spec.class_names == ["bg", "oedema", "core", "enhancing"]
    assert spec.labels == {"bg": 0, "oedema": 1, "core": 2, "enhancing": 3} and spec.label_values is None


def test_explicit_regions_class_order_as_a_dataset_json_fragment(task01):
    fragment = {"labels": {"background": 0, "tumour": [1, 2, 3]}, "regions_class_order": [3]}
    assert open_dataset(task01, labels=fragment).regions_class_order == [3]
    assert parse_label_grouping(json.dumps(fragment)) == (fragment["labels"], [3])
    assert parse_label_grouping(None) is None and parse_label_grouping("null") is None
    assert derive_regions_class_order({"background": 0, "a": [1, 2], "b": [1, 2]}) is None


@pytest.mark.parametrize(
    "labels, message",
    [
        ({"background": 0, "tumour": [1, 2, 5]}, r"'tumour': \[5\] not among the data set's label values \[0, 1, 2, 3\]"),
        ({"tumour": [1, 2, 3]}, "must map the background to 0"),
        ({"background": 0, "tumour": [0, 1]}, "a region holds foreground values only"),
        ({"background": 0, "edema": 1}, r"leaves label value\(s\) \[2, 3\] without a class"),
        ({"background": 0, "a": 1, "b": 1, "c": 2, "d": 3}, r"\['a', 'b'\] all hold 1"),
        ({"background": 0, "a": "x"}, "is not a non-negative integer or a list of them"),
        ({"background": 0, "a": [1, 2], "b": [1, 2]}, "cannot be derived"),
        ({"labels": {"background": 0, "a": [1, 2]}, "regions_class_order": [1, 2]}, "need regions_class_order"),
        ({"labels": {"background": 0, "a": [1, 2]}, "regions_class_order": [7]}, "must hold foreground label values"),
    ],
)
def test_a_bad_grouping_names_dataset_json_and_lists_the_valid_values(task01, labels, message):
    with pytest.raises(DatasetError, match=message) as err:
        open_dataset(task01, labels=labels)
    text = str(err.value)
    assert text.startswith(f"{task01 / 'dataset.json'}: ")
    assert "0 background, 1 edema, 2 non-enhancing tumor, 3 enhancing tumour" in text


def test_a_folder_format_is_named_by_its_folder(tmp_path):
    from formats import FORMATS

    root = FORMATS.get("png_pairs").synthesize(tmp_path / "pairs", num_images=3, size=32)
    assert open_dataset(root, labels={"background": 0, "liver": 255}).class_names == ["background", "liver"]
    with pytest.raises(DatasetError, match=re.escape(f"{root}: --labels 'liver': [1] not among")) as err:
        open_dataset(root, labels={"background": 0, "liver": 1})
    assert "0 background, 255 foreground" in str(err.value)
    with pytest.raises(DatasetError, match="is not a mapping"):
        open_dataset(root, labels="{'background': 0,")


def test_region_labels_of_an_nnunet_data_set_can_be_regrouped(tmp_path):
    from formats import FORMATS

    root = FORMATS.get("nnunet_v2").synthesize(tmp_path / "regions", kind="regions", num_training=3, num_test=0)
    spec = open_dataset(root, labels={"background": 0, "edema": 1, "core": 2, "enhancing": 3})
    assert not spec.region_based and spec.num_classes == 4 and spec.regions_class_order is None
    with pytest.raises(DatasetError, match=re.escape(str(root / "dataset.json"))) as err:
        open_dataset(root, labels={"background": 0, "tumour": [1, 4]})
    assert "values of" in str(err.value) and ": 0, 1, 2, 3;" in str(err.value)


def test_the_grouped_plan_trains_one_sigmoid_region(task01, tmp_path):
    spec, _, plan = plan_dataset(task01, labels=WHOLE_TUMOUR, cache_dir=tmp_path, progress=False)
    assert spec.labels == WHOLE_TUMOUR
    assert (plan["region_based"], plan["activation"], plan["out_channels"]) == (True, "sigmoid", 1)
    assert plan["class_names"] == ["tumour"] and plan["regions_class_order"] == [1]
    (convert,) = label_transforms(plan)
    label = torch.tensor([0, 1, 2, 3, 0]).reshape(1, 5, 1)
    assert convert({"label": label})["label"].flatten().tolist() == [0, 1, 1, 1, 0], "labels 1-3 -> the region"
    from engines.prediction_writer import to_label_values

    assert to_label_values(torch.tensor([[[0.0, 1.0, 1.0]]]), plan).flatten().tolist() == [0, 1, 1]


def test_the_cached_fingerprint_serves_every_grouping_and_no_plan_goes_stale(task01, tmp_path):
    """The fingerprint measures the stored values (computed once); its label entries and the plan follow `labels`."""
    cache = tmp_path / "fingerprints"
    _, fp0, plan0 = plan_dataset(task01, cache_dir=cache, progress=False)
    (cached,) = cache.iterdir()
    stamp = cached.stat().st_mtime_ns
    _, fp1, plan1 = plan_dataset(task01, labels=WHOLE_TUMOUR, cache_dir=cache, progress=False)
    _, fp2, plan2 = plan_dataset(task01, cache_dir=cache, progress=False)
    assert list(cache.iterdir()) == [cached] and cached.stat().st_mtime_ns == stamp, "one pass, reused"
    assert fp1["class_voxels"] == fp0["class_voxels"] and fp1["labels"] == WHOLE_TUMOUR
    assert (plan0["out_channels"], plan1["out_channels"], plan2["out_channels"]) == (4, 1, 4)
    assert plan1["fingerprint_hash"] != plan0["fingerprint_hash"] == plan2["fingerprint_hash"]
    assert plan2 == plan0, "back to the data set's own labels: its own plan, not the grouped one"
    # a fingerprint first computed for a grouping serves the data set's own labels too
    _, fp3, plan3 = plan_dataset(task01, cache_dir=tmp_path / "other", progress=False, labels=WHOLE_TUMOUR)
    _, fp4, plan4 = plan_dataset(task01, cache_dir=tmp_path / "other", progress=False)
    assert plan4["class_names"] == plan0["class_names"] and plan4["out_channels"] == 4


def test_evaluation_takes_the_grouping_from_the_saved_plan(task01, tmp_path):
    resolve_plan(open_dataset(task01, labels=WHOLE_TUMOUR), cache_dir=tmp_path / "fp", ckpt_dir=tmp_path / "models")
    plan = resolve_plan(open_dataset(task01), ckpt_dir=tmp_path / "models", source="saved")  # no --labels
    assert plan["class_names"] == ["tumour"] and plan["regions_class_order"] == [1]
    same = open_dataset(task01, labels="{'background': 0, 'tumour': [1, 2, 3]}")  # repeated: the same
    assert resolve_plan(same, ckpt_dir=tmp_path / "models", source="saved")["out_channels"] == 1


def test_evaluation_with_other_labels_than_the_plans_fails_in_one_line(task01, tmp_path):
    resolve_plan(open_dataset(task01, labels=WHOLE_TUMOUR), cache_dir=tmp_path / "fp", ckpt_dir=tmp_path / "models")
    for other in ({"background": 0, "edema": 1, "tumour core": [2, 3]}, None):
        spec = open_dataset(task01, labels=other)
        if other is None:  # the data set's own labels, given as the grouping that spells them
            spec = group_labels(spec, {"background": 0, "edema": 1, "non-enhancing tumor": 2, "enhancing tumour": 3})
        with pytest.raises(DatasetError, match="differs from the labels the model was trained with") as err:
            resolve_plan(spec, ckpt_dir=tmp_path / "models", source="saved")
        assert "\n" not in str(err.value) and str(tmp_path / "models" / "plan.json") in str(err.value)
        assert "leave --labels out" in str(err.value)


def test_a_saved_plan_whose_labels_the_data_set_lacks_is_refused(task01, tmp_path):
    from formats import FORMATS

    other = FORMATS.get("nnunet_v2").synthesize(tmp_path / "mri", kind="mri", num_training=3, num_test=0)
    plan = resolve_plan(open_dataset(other), cache_dir=tmp_path / "fp", ckpt_dir=tmp_path / "models")
    plan["channel_names"] = open_dataset(task01).channel_names  # same channels: only the labels differ
    plan["labels"] = {"background": 0, "tumour": [1, 2, 7]}
    plan["region_based"], plan["regions_class_order"] = True, [1]
    (tmp_path / "models" / "plan.json").write_text(json.dumps(plan))
    with pytest.raises(DatasetError, match="the model's labels do not fit the data set") as err:
        resolve_plan(open_dataset(task01), ckpt_dir=tmp_path / "models", source="saved")
    assert "[7] not among the data set's label values [0, 1, 2, 3]" in str(err.value)
