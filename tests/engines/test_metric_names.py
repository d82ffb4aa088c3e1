from __future__ import annotations

import pytest

from engines import rename_metrics, split_prefix


def test_split_prefix_names_the_test_split():
    test, val = [{"image": "a"}, {"image": "b"}], [{"image": "c"}]
    assert split_prefix(list(test), test) == "test_"
    assert split_prefix(val, test) == "val_"


def test_rename_metrics_replaces_the_leading_prefix_only():
    metrics = {"val_mean_dice": 1, "val_rand_error": 2, "accuracy_val_x": 3}
    assert rename_metrics(metrics, "test_") == {"test_mean_dice": 1, "test_rand_error": 2, "accuracy_val_x": 3}
    assert rename_metrics(metrics, "val_") == metrics
    with pytest.raises(ValueError, match="collide"):
        rename_metrics({"val_dice": 1, "test_dice": 2}, "test_")
