"""The fingerprint: values against numpy on a tiny synthetic set, the cache reused until a file changes."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import data.fingerprint as fingerprint_module
from data import DatasetError
from data.fingerprint import fingerprint_dataset, fingerprint_hash, nonzero_bounding_box
from formats import FORMATS
from formats.nnunet_v2.synthetic import generate_nnunet_v2


@pytest.fixture()
def regions(tmp_path: Path) -> Path:
    return generate_nnunet_v2(tmp_path / "raw", kind="regions", num_training=3, num_test=1, spatial_size=(14, 12, 8))


def _load(path: str) -> np.ndarray:
    return np.asarray(nib.load(path).dataobj, dtype=np.float32)


def test_values_match_numpy(regions, tmp_path):
    spec = FORMATS.open(regions)
    fp = fingerprint_dataset(spec, cache_dir=tmp_path / "cache", num_samples=10**6, progress=False)
    assert fp["num_cases"] == 3 and fp["channel_names"] == ["FLAIR", "T1", "T1ce", "T2"] and fp["spatial_dims"] == 3
    fg_all: list[list[np.ndarray]] = [[] for _ in range(4)]
    for case, entry in zip(spec.training, fp["cases"]):
        image = np.stack([_load(f) for f in case["image"]])
        label = _load(case["label"])
        assert entry["case_id"] == case["case_id"] and entry["shape"] == [14, 12, 8]
        assert entry["spacing"] == [1.0, 1.0, 1.0] and entry["axcodes"] == "RAS"
        values, counts = np.unique(label, return_counts=True)
        assert entry["class_voxels"] == {str(int(v)): int(n) for v, n in zip(values, counts)}
        nz = np.argwhere(np.any(image != 0, axis=0))
        assert entry["nonzero_bbox"] == [[int(lo), int(hi) + 1] for lo, hi in zip(nz.min(0), nz.max(0))]
        assert entry["cropped_shape"] == [int(v) for v in nz.max(0) - nz.min(0) + 1]
        for c in range(4):
            fg_all[c].append(image[c][label > 0])
    for c, stats in enumerate(fp["intensity"]):  # every foreground voxel sampled: exact statistics
        fg = np.concatenate(fg_all[c]).astype(np.float64)
        assert stats["num_samples"] == fg.size
        for key, want in (("mean", fg.mean()), ("std", fg.std()), ("min", fg.min()), ("max", fg.max()),
                          ("percentile_00_5", np.percentile(fg, 0.5)), ("percentile_99_5", np.percentile(fg, 99.5))):
            assert stats[key] == pytest.approx(want, rel=1e-5), key
    total = {}
    for entry in fp["cases"]:
        for v, n in entry["class_voxels"].items():
            total[v] = total.get(v, 0) + n
    assert fp["class_voxels"] == total and fp["problems"] == []


def test_sampling_caps_foreground_voxels_and_is_deterministic(regions, tmp_path):
    spec = FORMATS.open(regions)
    a = fingerprint_dataset(spec, cache_dir=tmp_path / "a", num_samples=20, progress=False)
    b = fingerprint_dataset(spec, cache_dir=tmp_path / "b", num_samples=20, progress=False)
    assert a["intensity"][0]["num_samples"] == 3 * 20
    assert a["intensity"] == b["intensity"] and fingerprint_hash(a) == fingerprint_hash(b)


def test_nonzero_bounding_box_fills_holes():
    image = np.zeros((2, 6, 7))
    image[0, 1:5, 2] = 1
    image[1, 3, 1:6] = -2
    assert nonzero_bounding_box(image) == [[1, 5], [1, 6]]
    assert nonzero_bounding_box(np.zeros((1, 3, 4))) == [[0, 3], [0, 4]]


def test_cache_reused_then_invalidated_when_a_file_changes(regions, tmp_path, monkeypatch):
    spec = FORMATS.open(regions)
    cache = tmp_path / "cache"
    before = sorted(p.name for p in regions.rglob("*"))
    first = fingerprint_dataset(spec, cache_dir=cache, progress=False)
    assert len(list(cache.glob("*.json"))) == 1
    calls = []
    real = fingerprint_module.compute_fingerprint
    monkeypatch.setattr(fingerprint_module, "compute_fingerprint", lambda *a, **k: calls.append(1) or real(*a, **k))
    assert fingerprint_dataset(spec, cache_dir=cache, progress=False) == first and calls == []
    label = Path(spec.training[1]["label"])
    arr = np.asarray(nib.load(str(label)).dataobj).copy()
    arr[arr == 3] = 2  # the data change: a different label file
    nib.save(nib.Nifti1Image(arr, nib.load(str(label)).affine), str(label))
    st = label.stat()
    os.utime(label, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    changed = fingerprint_dataset(spec, cache_dir=cache, progress=False)
    assert calls == [1] and changed["files_key"] != first["files_key"]
    assert changed["class_voxels"] != first["class_voxels"]
    assert fingerprint_dataset(spec, cache_dir=cache, refresh=True, progress=False) == changed and calls == [1, 1]
    assert sorted(p.name for p in regions.rglob("*")) == before  # nothing written into the data set


def test_cache_inside_the_data_set_is_refused(regions):
    spec = FORMATS.open(regions)
    with pytest.raises(DatasetError, match="may not be inside the data set folder"):
        fingerprint_dataset(spec, cache_dir=regions / "cache", progress=False)
    assert not (regions / "cache").exists()


def test_unreadable_case_is_a_problem_not_a_crash(regions, tmp_path):
    spec = FORMATS.open(regions)
    broken = Path(spec.training[0]["image"][2])
    broken.write_bytes(b"garbage")
    fp = fingerprint_dataset(spec, cache_dir=tmp_path / "c", progress=False)
    assert fp["num_cases"] == 2
    assert [p["path"] for p in fp["problems"]] == [str(broken)] and "cannot be decoded" in fp["problems"][0]["message"]
    from data.plan import plan_dataset

    with pytest.raises(DatasetError, match="(?s)synthregions_000_0002.nii.gz: cannot be decoded.*fix them") as err:
        plan_dataset(regions, cache_dir=tmp_path / "c2", progress=False)  # with the check: named once
    assert str(err.value).count("cannot be decoded") == 1


def test_plan_dataset_passes_check_warnings_to_the_plan(regions, tmp_path):
    from data.plan import plan_dataset

    g = regions / "imagesTr" / "synthregions_001_0002.nii.gz"
    aff = np.eye(4)
    aff[:3, 3] = 5.0
    nib.save(nib.Nifti1Image(np.asarray(nib.load(str(g)).dataobj), aff), str(g))
    _, fp, plan = plan_dataset(regions, cache_dir=tmp_path / "c", progress=False)
    assert any(str(g) in w and "origin or direction" in w for w in plan["warnings"])


def test_plan_dataset_on_the_twins(tmp_path):
    from data.plan import plan_dataset

    mri = generate_nnunet_v2(tmp_path / "raw", kind="mri", num_training=4, num_test=0)
    spec, fp, plan = plan_dataset(mri, cache_dir=tmp_path / "cache", progress=False)
    assert spec.name == "SynthMRI" and fp["num_cases"] == 4
    assert plan["target_spacing"] == pytest.approx([0.9, 0.9, 3.0]) and plan["slice_axis"] == 2
    assert plan["normalization"] == [{"scheme": "zscore", "use_nonzero_mask": True}] and plan["warnings"] == []
    ct = generate_nnunet_v2(tmp_path / "raw", kind="ct", num_training=4, num_test=0)
    _, fp, plan = plan_dataset(ct, spatial_dims=3, cache_dir=tmp_path / "cache", progress=False)
    assert plan["normalization"][0]["scheme"] == "ct" and len(plan["patch_size"]) == 3
    stats = fp["intensity"][0]
    lo, hi, m = stats["percentile_00_5"], stats["percentile_99_5"], plan["ct_clip_margin"]
    assert m == 0.5 and plan["normalization"][0]["clip"] == [lo - m * (hi - lo), hi + m * (hi - lo)]
