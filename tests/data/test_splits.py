from __future__ import annotations

import random

import pytest
from parameterized import parameterized

from data.headers import case_id_from_path
from data.splits import allocate_counts, describe_split, group_of, split_by_group


@parameterized.expand(
    [
        ((250, 74, 45), 369, [250, 74, 45]),
        ((20, 5, 5), 30, [20, 5, 5]),
        ((2800, 200, 64), 3064, [2800, 200, 64]),
        ((250, 74, 45), 6, [4, 1, 1]),
        ((0.8, 0.2), 7, [6, 1]),
        ((1, 0, 1), 3, [2, 0, 1]),
    ]
)
def test_allocate_counts(fractions, total, expected):
    assert allocate_counts(fractions, total) == expected
    assert sum(allocate_counts(fractions, total)) == total


def test_allocate_counts_rejects_bad_fractions():
    with pytest.raises(ValueError, match="fractions"):
        allocate_counts((0, 0), 5)
    with pytest.raises(ValueError, match="fractions"):
        allocate_counts((1, -1), 5)


def test_seed_001_split_of_369_cases_is_exact_and_deterministic():
    datalist = [{"case_id": f"BraTS20_Training_{i:03d}"} for i in range(1, 370)]
    train, val, test = split_by_group(datalist, (250, 74, 45))
    assert (len(train), len(val), len(test)) == (250, 74, 45)
    again = split_by_group(list(reversed(datalist)), (250, 74, 45))
    assert {d["case_id"] for d in again[1]} == {d["case_id"] for d in val}, "independent of the list order"
    other = split_by_group(datalist, (250, 74, 45), seed=1)
    assert {d["case_id"] for d in other[1]} != {d["case_id"] for d in val}
    assert train == [d for d in datalist if d in train], "original order kept"


def test_groups_never_straddle_and_sizes_follow_the_fractions():
    rng = random.Random(0)
    datalist = [
        {"patient_id": f"p{p}", "case_id": f"{p}_{k}"} for p in range(233) for k in range(rng.randint(5, 20))
    ]
    parts = split_by_group(datalist, (2800, 200, 64), group_key="patient_id")
    groups = [{d["patient_id"] for d in part} for part in parts]
    assert not (groups[0] & groups[1]) and not (groups[0] & groups[2]) and not (groups[1] & groups[2])
    assert sum(len(p) for p in parts) == len(datalist)
    targets = allocate_counts((2800, 200, 64), len(datalist))
    for part, target in zip(parts[1:], targets[1:]):
        assert abs(len(part) - target) <= 20, (len(part), target)  # within one patient's images
    assert "groups" in describe_split(parts, "patient_id")


def test_small_data_sets_keep_every_part_non_empty_and_training_first():
    datalist = [{"case_id": f"c{i}"} for i in range(3)]
    assert [len(p) for p in split_by_group(datalist, (250, 74, 45))] == [1, 1, 1]
    two = [{"case_id": "a"}, {"case_id": "b"}]
    assert [len(p) for p in split_by_group(two, (0.1, 0.9))] == [1, 1]
    assert [len(p) for p in split_by_group(two[:1], (250, 74, 45))] == [1, 0, 0]


def test_group_of_falls_back_to_the_image_name():
    assert group_of({"image": "/x/BRATS_001.nii.gz"}) == "BRATS_001"
    assert group_of({"image": ["/x/a_flair.nii.gz", "/x/a_t1.nii.gz"]}) == "a_flair"
    with pytest.raises(KeyError):
        group_of({"label": "x"})


# two-way splits (training / validation by case, MSD's val_fraction): fractions (1 - v, v)


@parameterized.expand([(0.2, 0), (0.5, 3), (0.34, 11)])
def test_two_way_split_is_deterministic_disjoint_and_complete(val_fraction, seed):
    datalist = [{"image": f"/d/imagesTr/BRATS_{i:03d}.nii.gz", "case_id": f"BRATS_{i:03d}"} for i in range(1, 25)]
    train, val = split_by_group(datalist, (1 - val_fraction, val_fraction), seed=seed)
    again = split_by_group(list(reversed(datalist)), (1 - val_fraction, val_fraction), seed=seed)
    assert {d["case_id"] for d in again[1]} == {d["case_id"] for d in val}, "does not depend on list order"
    train_ids, val_ids = {d["case_id"] for d in train}, {d["case_id"] for d in val}
    assert not train_ids & val_ids and train_ids | val_ids == {d["case_id"] for d in datalist}
    assert len(val) == round(val_fraction * 24)
    assert train == [d for d in datalist if d["case_id"] in train_ids], "original order kept"
    other = split_by_group(datalist, (1 - val_fraction, val_fraction), seed=seed + 1)[1]
    assert {d["case_id"] for d in other} != val_ids, "the seed changes the split"


EXPECTED_VAL_SEED0 = ["BRATS_003", "BRATS_007"]


def test_split_fixed_across_runs():
    # SHA-256 ranking: this split must never change (no hash(), no RNG stream)
    datalist = [{"image": f"/d/BRATS_{i:03d}.nii.gz"} for i in range(1, 11)]
    _, val = split_by_group(datalist, (0.8, 0.2), seed=0)
    assert [case_id_from_path(d["image"]) for d in val] == EXPECTED_VAL_SEED0


def test_split_never_splits_a_case():
    # several items (e.g. slices) of one case always land on the same side
    datalist = [{"case_id": f"case{c}", "image": f"/d/case{c}.nii.gz", "slice": z} for c in range(7) for z in range(5)]
    for seed in range(5):
        train, val = split_by_group(datalist, (0.7, 0.3), seed=seed)
        assert not {d["case_id"] for d in train} & {d["case_id"] for d in val}
        assert len(val) == 5 * 2 and len(train) + len(val) == len(datalist)


def test_split_small_and_edge_fractions():
    two = [{"case_id": "a", "image": "a"}, {"case_id": "b", "image": "b"}]
    train, val = split_by_group(two, (0.99, 0.01))
    assert len(val) == 1 and len(train) == 1, "at least one validation case"
    assert split_by_group(two, (1.0, 0.0)) == (two, [])
    assert split_by_group(two[:1], (0.5, 0.5)) == (two[:1], [])
    with pytest.raises(ValueError):
        split_by_group(two, (1 - 1.5, 1.5))  # a negative fraction
