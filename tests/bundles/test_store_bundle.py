"""Integration: bundles/unet trains (1 epoch) and evaluates on the slice store through the stock MONAI CLI, the store
written on first use; the evaluation on the store matches the one on the in-memory pipeline."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.bundles.test_unet_bundle import TINY, run_bundle

def _per_case_dice(folder: Path) -> dict[str, float]:
    with open(folder / "val_mean_dice_raw.csv", newline="") as f:
        rows = list(csv.reader(f, delimiter=","))
    return {Path(r[0]).name: float(r[2]) for r in rows[1:]}


STORE = ("bundles/unet/configs/slice_store.yaml",)


def test_train_and_evaluate_on_the_store(synthetic_msd_dir, tmp_path):
    common = ["--dataset_dir", str(synthetic_msd_dir), "--ckpt_dir", str(tmp_path / "models"), *TINY]
    store = ["--store_dir", str(tmp_path / "store")]
    proc = run_bundle("train.yaml", *common, *store, "--epochs", "1", "--output_dir", str(tmp_path / "train"),
                      extra_files=STORE)
    assert "Writing slice store" in proc.stderr + proc.stdout
    assert sorted(p.name for p in (tmp_path / "store").glob("*.json")) == [f"BRATS_00{i}.json" for i in range(1, 7)]
    assert (tmp_path / "models" / "model.pt").is_file() and (tmp_path / "models" / "checkpoint_epoch=1.pt").is_file()

    run_bundle("evaluate.yaml", *common, *store, "--output_dir", str(tmp_path / "eval_store"), extra_files=STORE)
    run_bundle("evaluate.yaml", *common, "--output_dir", str(tmp_path / "eval_cached"))
    on_store = _per_case_dice(tmp_path / "eval_store")
    cached = _per_case_dice(tmp_path / "eval_cached")
    assert on_store.keys() == cached.keys() and len(on_store) >= 1
    for case, dice in cached.items():  # float16 rounding of the inputs moves a thresholded voxel at most
        assert abs(on_store[case] - dice) < 0.02, (case, on_store[case], dice)
