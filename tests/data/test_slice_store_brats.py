"""The slice store serves bundles/brats_unet: configs/slice_store.yaml gives the slices and validation volumes of
train.yaml's data block within float16 rounding, a BraTS case (one file per modality) is written again when any of its
files changes, and scripts/build_slice_store.py --format brats2020 builds the store training opens."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser
from monai.transforms import Compose

from data.slice_store import SliceStore, StoreVolumeDataset, write_slice_store
from data.slice_store import FLOAT16_RELATIVE_ERROR, _stat
from formats.brats2020.synthetic import generate_brats2020

ROOT = Path(__file__).resolve().parents[2]
STORE_FILE = ROOT / "bundles/brats_unet/configs/slice_store.yaml"
# 40 x 40 in-plane resized to 32 x 32 (area), slices [2, 12) of 14 kept; 6 cases split 2 / 2 / 2
SIZE = (40, 40, 14)
TINY = {"image_size": [32, 32], "slice_start": 2, "slice_stop": 12, "split_fractions": [2, 2, 2], "seed": 0}


@pytest.fixture(autouse=True)
def _repo_root_cwd(monkeypatch):
    monkeypatch.chdir(ROOT)  # bundle configs name shared fragments relative to the repository root


@pytest.fixture(scope="module")
def brats(tmp_path_factory) -> Path:
    return generate_brats2020(tmp_path_factory.mktemp("brats") / "MICCAI_BraTS2020_TrainingData", 6, SIZE, seed=0)


def _parser(dataset_dir: Path, store_dir: Path, store: bool) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config([str(ROOT / "bundles/brats_unet/configs/train.yaml"), *([str(STORE_FILE)] if store else [])])
    parser.update({"dataset_dir": str(dataset_dir), "store_dir": str(store_dir), **TINY})
    return parser


@pytest.fixture(scope="module")
def store_dir(brats, tmp_path_factory) -> Path:
    """Built by the script, as a user would before training."""
    from scripts.build_slice_store import main

    path = tmp_path_factory.mktemp("brats_store")
    overrides = [x for k, v in TINY.items() for x in (f"--{k}", str(v))]
    assert main(["--format", "brats2020", "--dataset_dir", str(brats), "--store_dir", str(path), *overrides]) == 0
    return path


def _bound(x: torch.Tensor) -> torch.Tensor:
    return FLOAT16_RELATIVE_ERROR * x.abs() + 2.0**-25


def test_script_stores_training_and_validation_cases_not_test_cases(brats, store_dir):
    cached = _parser(brats, store_dir, store=False)
    train, val, test = (cached.get_parsed_content(f"data#{k}_files") for k in ("train", "val", "test"))
    store = SliceStore(store_dir)
    assert store.case_ids == sorted(d["case_id"] for d in train + val) and len(store.case_ids) == 4
    assert not set(store.case_ids) & {d["case_id"] for d in test}
    for item in train + val:
        meta = store.meta(item["case_id"])
        # the whole output of the volume transforms: resized to image_size, slices [slice_start, slice_stop)
        assert meta["original_shape"] == [32, 32, 10] and meta["channels"] == 2 and meta["axis"] == 2
        assert meta["sources"]["image"][0] == item["image"] and len(meta["sources"]["image"][1]) == 2
        assert all(s is not None for s in meta["sources"]["image"][1]), "every modality file is stat'ed"
        assert meta["sources"]["label"][0] == item["label"]
    # the script with the same arguments finds every case up to date
    from scripts.build_slice_store import main

    before = {p.name: p.stat().st_mtime_ns for p in store_dir.iterdir()}
    overrides = [x for k, v in TINY.items() for x in (f"--{k}", str(v))]
    main(["--format", "brats2020", "--dataset_dir", str(brats), "--store_dir", str(store_dir), *overrides])
    assert {p.name: p.stat().st_mtime_ns for p in store_dir.iterdir()} == before


def test_slices_and_volumes_are_the_cached_pipelines_within_float16_rounding(brats, store_dir):
    cached = _parser(brats, store_dir, store=False)
    stored = _parser(brats, store_dir, store=True)
    expected, got = cached.get_parsed_content("data#train_dataset"), stored.get_parsed_content("data#train_dataset")
    assert len(got) == len(expected) == 2 * 10
    for i in range(len(expected)):
        a, b = got[i], expected[i]
        assert (a["case_id"], a["slice_index"]) == (b["case_id"], b["slice_index"])
        assert a["image"].shape == b["image"].shape == (2, 32, 32) and a["image"].dtype == torch.float32
        assert torch.all((a["image"] - b["image"]).abs() <= _bound(b["image"])), (a["case_id"], a["slice_index"])
        torch.testing.assert_close(a["label"], b["label"].float(), rtol=0, atol=0)
    assert any(s["label"].any() for s in got), "the synthetic cases hold tumour"
    ref, out = cached.get_parsed_content("data#val_dataset"), stored.get_parsed_content("data#val_dataset")
    assert len(out) == len(ref) == 2
    for a, b in zip(out, ref):
        assert a["case_id"] == b["case_id"] and a["image"].shape == b["image"].shape == (2, 32, 32, 10)
        assert torch.all((a["image"].as_tensor() - b["image"].as_tensor()).abs() <= _bound(b["image"].as_tensor()))
        torch.testing.assert_close(a["label"].as_tensor(), b["label"].as_tensor().float(), rtol=0, atol=0)
        torch.testing.assert_close(a["image"].affine.double(), b["image"].affine.double())  # the resized geometry
        # a real file (the first modality), as LoadVolumed gives it
        assert a["image"].meta["filename_or_obj"] == b["image"].meta["filename_or_obj"]
        assert os.path.isfile(a["image"].meta["filename_or_obj"])
    # the training volumes too (what class-weighted losses read)
    volumes = stored.get_parsed_content("data#train_volumes")
    assert [v["image"].shape for v in volumes] == [(2, 32, 32, 10)] * 2


def test_a_changed_modality_file_writes_the_case_again(brats, tmp_path):
    case = "BraTS20_Training_001"
    local = tmp_path / "data" / case
    shutil.copytree(brats / case, local)
    item = {
        "image": [str(local / f"{case}_flair.nii.gz"), str(local / f"{case}_t1ce.nii.gz")],
        "label": str(local / f"{case}_seg.nii.gz"),
        "case_id": case,
    }
    transform = Compose(_parser(brats, tmp_path / "s", store=True).get_parsed_content("data#volume_transforms"))
    assert write_slice_store([item], tmp_path / "s", transform, progress=False) == [case]
    assert write_slice_store([item], tmp_path / "s", transform, progress=False) == []
    first = SliceStore(tmp_path / "s").read_volume(case)[0]
    # the second modality only: touched (same bytes, new mtime), then replaced by another case's T1ce
    t1ce = item["image"][1]
    st = os.stat(t1ce)
    os.utime(t1ce, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert write_slice_store([item], tmp_path / "s", transform, progress=False) == [case]
    torch.testing.assert_close(SliceStore(tmp_path / "s").read_volume(case)[0], first, rtol=0, atol=0)
    shutil.copy(brats / "BraTS20_Training_002" / "BraTS20_Training_002_t1ce.nii.gz", t1ce)
    os.utime(t1ce, ns=(st.st_atime_ns, st.st_mtime_ns + 2 * 10**9))
    assert write_slice_store([item], tmp_path / "s", transform, progress=False) == [case]
    second = SliceStore(tmp_path / "s").read_volume(case)[0]
    torch.testing.assert_close(second[0], first[0], rtol=0, atol=0)  # FLAIR unchanged
    assert not torch.equal(torch.as_tensor(second[1]), torch.as_tensor(first[1])), "T1ce is the new file's"
    meta = json.loads((tmp_path / "s" / f"{case}.json").read_text())
    assert meta["sources"]["image"] == [item["image"], [_stat(p) for p in item["image"]]]
    # a modality list in another order is another source: written again
    item["image"] = item["image"][::-1]
    assert write_slice_store([item], tmp_path / "s", transform, progress=False) == [case]
    volume = StoreVolumeDataset(SliceStore(tmp_path / "s"), [case])[0]
    assert volume["image"].meta["filename_or_obj"] == item["image"][0]
    # without a case id, the first modality's file name is the case's
    del item["case_id"]
    assert write_slice_store([item], tmp_path / "s", transform, progress=False) == [f"{case}_t1ce"]
    assert not list((tmp_path / "s").glob("*.tmp*")), "no temporary file is left"


def test_another_image_size_or_slice_range_writes_the_cases_again(brats, store_dir, tmp_path):
    """The store holds the resized volumes: a case stored at another image_size / slice range is not reused."""
    local = tmp_path / "store"
    shutil.copytree(store_dir, local)
    parser = _parser(brats, local, store=True)
    parser["image_size"], parser["slice_stop"] = [24, 24], 8
    store = parser.get_parsed_content("data#store")
    for case in store.case_ids:
        assert store.meta(case)["original_shape"] == [24, 24, 6]
        assert store.meta(case)["settings"] == {"image_size": [24, 24], "slice_range": [2, 8]}
    cached = _parser(brats, local, store=False)
    cached["image_size"], cached["slice_stop"] = [24, 24], 8
    expected = cached.get_parsed_content("data#train_dataset")[3]
    got = parser.get_parsed_content("data#train_dataset")[3]
    assert got["image"].shape == expected["image"].shape == (2, 24, 24)
    assert torch.all((got["image"] - expected["image"]).abs() <= _bound(expected["image"]))
    # back to the first settings: written again, identical to the script's store
    again = _parser(brats, local, store=True).get_parsed_content("data#store")
    assert [again.meta(c)["original_shape"] for c in again.case_ids] == [[32, 32, 10]] * 4


def test_stores_written_before_keep_working(brats, synthetic_msd_dir, tmp_path):
    """Format 1 is unchanged for single-file sources: an MSD case written before (no ``settings``) is up to date; a
    BraTS case written before (its modality list recorded as one string, never stat'ed) is written again."""
    msd = {"image": str(synthetic_msd_dir / "imagesTr" / "BRATS_001.nii.gz"),
           "label": str(synthetic_msd_dir / "labelsTr" / "BRATS_001.nii.gz")}  # fmt: skip

    def fake(d):
        return {"image": torch.ones(2, 6, 6, 3), "label": torch.zeros(1, 6, 6, 3)}

    assert write_slice_store([msd], tmp_path, fake, progress=False) == ["BRATS_001"]
    meta_path = tmp_path / "BRATS_001.json"
    meta = json.loads(meta_path.read_text())
    assert meta["sources"]["image"] == [msd["image"], _stat(msd["image"])]  # the layout of earlier stores
    del meta["settings"]
    meta_path.write_text(json.dumps(meta))
    assert write_slice_store([msd], tmp_path, fake, progress=False) == []
    case = "BraTS20_Training_001"
    item = {"image": [str(brats / case / f"{case}_{m}.nii.gz") for m in ("flair", "t1ce")], "case_id": case,
            "label": str(brats / case / f"{case}_seg.nii.gz")}  # fmt: skip
    assert write_slice_store([item], tmp_path, fake, progress=False) == [case]
    meta = json.loads((tmp_path / f"{case}.json").read_text())
    meta["sources"]["image"] = [str(item["image"]), None]
    del meta["settings"]
    (tmp_path / f"{case}.json").write_text(json.dumps(meta))
    assert write_slice_store([item], tmp_path, fake, progress=False) == [case]
    assert SliceStore(tmp_path).case_ids == ["BRATS_001", case]


def test_a_folder_source_changes_with_any_file_in_it(tmp_path):
    """A DICOM series is a folder: its stat covers every file in it (a folder's own mtime misses rewrites)."""
    series = tmp_path / "series"
    series.mkdir()
    for i in range(3):
        (series / f"{i}.dcm").write_bytes(b"x" * (i + 1))
    before = _stat(series)
    assert before[0] == 6 and before[2] == 3
    st = os.stat(series / "1.dcm")
    os.utime(series / "1.dcm", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert _stat(series) != before
    assert _stat(tmp_path / "missing") is None


def test_script_rejects_overrides_that_are_not_pairs(brats, tmp_path):
    from scripts.build_slice_store import main

    with pytest.raises(SystemExit, match="--key value pairs"):
        main(["--format", "brats2020", "--dataset_dir", str(brats), "--store_dir", str(tmp_path), "--image_size"])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
