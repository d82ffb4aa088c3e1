"""Integration: bundles/brats_unet trains on the slice store (configs/slice_store.yaml, written on first use) through
the stock MONAI CLI, alone and on 2 gloo processes (multi_gpu_train.yaml; rank 0 writes the store; bundles/unet on
the MSD store too), and evaluate.yaml runs on its checkpoint; both store YAMLs give their loaders a DistributedSampler
under a process group."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from monai.bundle import ConfigParser
from monai.data import DistributedSampler

from tests.bundles.test_brats_bundle import _run
from tests.bundles.test_multi_gpu import TINY as MSD_TINY
from tests.bundles.test_multi_gpu import SAVE_WEIGHTS, _brats_data, multi_gpu_files, run_two_ranks
from data.splits import split_by_group
from formats import FORMATS

ROOT = Path(__file__).resolve().parents[2]
STORE = ("bundles/brats_unet/configs/slice_store.yaml",)
# 6 synthetic 32 x 32 x 12 cases, all 12 slices kept, split 2 / 2 / 2 (as in test_multi_gpu.py)
TINY_SPLIT = ["--slice_start", "0", "--slice_stop", "12", "--split_fractions", "[2, 2, 2]"]


@pytest.fixture(autouse=True)
def _repo_root_cwd(monkeypatch):
    monkeypatch.chdir(ROOT)  # bundle configs name shared fragments relative to the repository root


def _cases(data: Path, part: int) -> list[str]:
    return [d["case_id"] for d in split_by_group(FORMATS.open(data, "brats2020").training, (2, 2, 2), seed=0)[part]]


def test_train_on_the_store_then_evaluate_and_infer_with_its_checkpoint(tmp_path):
    data, _ = _brats_data(tmp_path / "data")
    store = ["--store_dir", str(tmp_path / "store")]
    proc = _run("train", tmp_path / "root", data, *TINY_SPLIT, *store, "--epochs", "1", extra_files=STORE)
    assert "Writing slice store" in proc.stderr + proc.stdout
    stored = sorted(p.stem for p in (tmp_path / "store").glob("*.json"))
    assert stored == sorted(_cases(data, 0) + _cases(data, 1)), "training and validation cases, not test cases"
    models = tmp_path / "root" / "models"
    assert (models / "model.pt").is_file() and (models / "checkpoint_epoch=1.pt").is_file()
    assert (tmp_path / "root" / "runs" / "pictures" / "validation_epoch001.png").is_file()
    # evaluation with the same overrides: the test cases through the in-memory pipeline, the trained checkpoint
    out = tmp_path / "eval"
    _run("evaluate", tmp_path / "root", data, *TINY_SPLIT, *store, "--output_dir", str(out), extra_files=STORE)
    with open(out / "per_case.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert [r[0] for r in rows[1:]] == _cases(data, 2)
    assert all(0.0 <= float(v) <= 1.0 for r in rows[1:] for name, v in zip(rows[0], r) if name.startswith("dice"))
    # inference with the same overrides too (the test cases, not stored)
    pred = tmp_path / "pred"
    _run("inference", tmp_path / "root", data, *TINY_SPLIT, *store, "--output_dir", str(pred), extra_files=STORE)
    assert sorted(p.name for p in pred.glob("*.nii.gz")) == sorted(f"{c}.nii.gz" for c in _cases(data, 2))
    assert sorted(p.stem for p in (tmp_path / "store").glob("*.json")) == stored, "nothing more stored"


@pytest.mark.parametrize("bundle", ["brats_unet", "unet"])
def test_two_processes_train_on_the_store_written_by_rank_0(bundle, synthetic_msd_dir, tmp_path):
    if bundle == "brats_unet":
        data, tiny = _brats_data(tmp_path / "data")
        stored = 4
    else:
        data, tiny = synthetic_msd_dir, MSD_TINY
        stored = 6
    args = ["--dataset_dir", str(data), *tiny, "--store_dir", str(tmp_path / "store")]
    files = [*multi_gpu_files(bundle), f"bundles/{bundle}/configs/slice_store.yaml"]
    logs = run_two_ranks(files, tmp_path, args, SAVE_WEIGHTS.format(out=tmp_path))
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["checkpoint_epoch=1.pt", "model.pt"]
    w0, w1 = (torch.load(tmp_path / f"rank{r}.pt", map_location="cpu", weights_only=True) for r in (0, 1))
    assert w0.keys() == w1.keys() and all(torch.equal(w0[k], w1[k]) for k in w0)
    assert len(list((tmp_path / "store").glob("*.json"))) == stored
    assert not list((tmp_path / "store").glob("*.tmp*"))
    assert "Writing slice store" in logs[0] and "Writing slice store" not in logs[1], "rank 0 writes, rank 1 waits"


@pytest.fixture
def process_group(tmp_path):
    """A 1-process gloo group in this process: what engines.is_distributed() sees under torchrun."""
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


@pytest.mark.parametrize(
    "bundle, overrides",
    [
        ("unet", {"val_fraction": 0.34}),
        ("unet", {"val_fraction": 0.34, "store_batch_augmentation": False}),
        ("brats_unet", {"image_size": [32, 32], "slice_start": 0, "slice_stop": 12, "split_fractions": [2, 2, 2]}),
    ],
)  # fmt: skip
def test_store_loaders_take_a_distributed_sampler_under_a_process_group(
    bundle, overrides, synthetic_msd_dir, tmp_path, process_group
):
    dataset = synthetic_msd_dir if bundle == "unet" else _brats_data(tmp_path / "data")[0]
    parser = ConfigParser()
    parser.read_config([str(ROOT / f"bundles/{bundle}/configs/{name}.yaml") for name in ("train", "slice_store")])
    parser.update({"dataset_dir": str(dataset), "store_dir": str(tmp_path / "store"), **overrides})
    train_loader = parser.get_parsed_content("data#train_loader")
    val_loader = parser.get_parsed_content("data#val_loader")
    assert isinstance(train_loader.sampler, DistributedSampler) and isinstance(val_loader.sampler, DistributedSampler)
    assert train_loader.sampler.shuffle and not val_loader.sampler.shuffle
    assert len(train_loader.sampler) == len(train_loader.dataset) > 0  # one rank: all samples
