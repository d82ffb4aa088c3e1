"""k-fold by case: the validation parts are disjoint and cover every case; groups stay together."""

from __future__ import annotations

import pytest

from data import fold_of_groups, kfold_split


def datalist(n, per_group=1):
    return [{"case_id": f"c{i:03d}", "group": f"p{i // per_group:03d}"} for i in range(n)]


@pytest.mark.parametrize("n, k, per_group", [(23, 5, 1), (10, 3, 2), (5, 5, 1)])
def test_folds_are_disjoint_cover_every_case_and_keep_groups(n, k, per_group):
    items = datalist(n, per_group)
    vals = []
    for fold in range(k):
        train, val = kfold_split(items, fold, num_folds=k)
        assert {i["case_id"] for i in train}.isdisjoint(i["case_id"] for i in val)
        assert len(train) + len(val) == n and val
        assert {i["group"] for i in train}.isdisjoint(i["group"] for i in val), "a group is never split"
        vals += [i["case_id"] for i in val]
    assert sorted(vals) == sorted(i["case_id"] for i in items), "every case is validated exactly once"
    sizes = sorted(sum(1 for f in fold_of_groups([i["group"] for i in items], k).values() if f == j) for j in range(k))
    assert sizes[-1] - sizes[0] <= 1, "fold sizes (in groups) differ by at most one"


def test_deterministic_and_order_independent_and_seeded():
    items = datalist(12)
    assert kfold_split(items, 1, 4) == kfold_split(items, 1, 4)
    assert {i["case_id"] for i in kfold_split(items[::-1], 1, 4)[1]} == {i["case_id"] for i in kfold_split(items, 1, 4)[1]}
    assert kfold_split(items, 1, 4, seed=1)[1] != kfold_split(items, 1, 4, seed=0)[1]


def test_errors():
    with pytest.raises(ValueError, match="fold must be in 0..4"):
        kfold_split(datalist(10), 5, 5)
    with pytest.raises(ValueError, match="cannot fill 5 folds"):
        kfold_split(datalist(3), 0, 5)
    assert kfold_split([{"case_id": "a"}, {"case_id": "b"}], 0, 2)[1]  # falls back to case_id without `group`
