"""scripts/convert_dataset.py: nnU-Net <-> MSD keeps every voxel, affine and label, and both layouts give the same
plan.

Until the MSD plug-in (formats/msd, ported in parallel) is merged, the MSD side is read by the small reader below
(4D NIfTI -> channel-first MetaTensor); at merge it can become ``FORMATS.open(msd_dir, "msd")``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from data import DatasetError
from data.fingerprint import fingerprint_dataset
from data.plan import make_plan
from formats import FORMATS, DatasetSpec
from formats.nnunet_v2.synthetic import generate_nnunet_v2

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _main():
    spec = importlib.util.spec_from_file_location("convert_dataset", SCRIPTS / "convert_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _msd_spec(root: Path) -> DatasetSpec:
    """A DatasetSpec of an MSD folder from its dataset.json (test-only stand-in for the MSD plug-in)."""
    meta = json.loads((root / "dataset.json").read_text())
    regions = meta.get("nnunet_regions")
    labels = regions["labels"] if regions else {v: int(k) for k, v in meta["labels"].items()}
    training = [{"case_id": Path(e["image"]).name.split(".")[0], "image": str(root / e["image"]),
                 "label": str(root / e["label"])} for e in meta["training"]]
    return DatasetSpec(format="msd", root=root, name=meta["name"], channel_names=list(meta["modality"].values()),
                       labels=labels, training=training, spatial_dims=3,
                       label_values=sorted({x for v in labels.values() for x in (v if isinstance(v, list) else [v])})
                       if regions else None, regions_class_order=regions["regions_class_order"] if regions else None)


def _load_msd(case: dict) -> dict:
    def read(path, channels_last):
        img = nib.load(path)
        arr = np.asarray(img.dataobj, dtype=np.float32)
        arr = np.moveaxis(arr, -1, 0) if channels_last and arr.ndim == 4 else arr[None]
        return MetaTensor(torch.as_tensor(arr), affine=torch.as_tensor(img.affine))

    return {"image": read(case["image"], True), "label": read(case["label"], False)}


_SAME = [k for k in ("spatial_dims", "channel_names", "in_channels", "labels", "class_names", "region_based",
                     "out_channels", "activation", "label_values", "regions_class_order", "target_spacing", "resample",
                     "slice_axis", "normalization", "crop_to_nonzero", "median_shape", "patch_size", "batch_size",
                     "depth", "features", "warnings")]


@pytest.mark.parametrize("kind", ["regions", "mri"])
def test_round_trip_and_same_plan(tmp_path, kind):
    raw = generate_nnunet_v2(tmp_path / "raw", kind=kind, num_training=3, num_test=1, spatial_size=(16, 14, 8))
    main = _main()
    assert main([str(raw), str(tmp_path / "msd")]) == 0
    msd = tmp_path / "msd" / ("Task904_SynthRegions" if kind == "regions" else "Task901_SynthMRI")
    meta = json.loads((msd / "dataset.json").read_text())
    assert meta["numTraining"] == 3 and len(meta["test"]) == 1
    first = nib.load(str(msd / meta["training"][0]["image"]))
    assert first.shape == ((16, 14, 8, 4) if kind == "regions" else (16, 14, 8))
    assert main([str(msd), str(tmp_path / "back")]) == 0
    back = tmp_path / "back" / ("Dataset904_SynthRegions" if kind == "regions" else "Dataset901_SynthMRI")
    # the round trip keeps every file's voxels and affine, and dataset.json's meaning
    for f in sorted((raw / "imagesTr").iterdir()) + sorted((raw / "labelsTr").iterdir()):
        a, b = nib.load(str(f)), nib.load(str(back / f.parent.name / f.name))
        np.testing.assert_array_equal(np.asarray(a.dataobj), np.asarray(b.dataobj))
        np.testing.assert_array_equal(a.affine, b.affine)
    src_meta = json.loads((raw / "dataset.json").read_text())
    back_meta = json.loads((back / "dataset.json").read_text())
    for key in ("channel_names", "labels", "numTraining", "file_ending", "regions_class_order"):
        assert src_meta.get(key) == back_meta.get(key), key

    raw_spec, back_spec, msd_spec = FORMATS.open(raw), FORMATS.open(back), _msd_spec(msd)
    plans = []
    for spec, load in ((raw_spec, None), (back_spec, None), (msd_spec, _load_msd)):
        fp = fingerprint_dataset(spec, cache_dir=tmp_path / "cache", load=load, progress=False)
        plans.append(make_plan(fp, spatial_dims=2))
        plans.append(make_plan(fp, spatial_dims=3))
    for i in range(2, len(plans)):  # the converted nnU-Net and the MSD layouts plan as the original (2D and 3D)
        assert {k: plans[i][k] for k in _SAME} == {k: plans[i % 2][k] for k in _SAME}, i
    assert len(plans[1]["patch_size"]) == 3 and plans[0]["region_based"] == (kind == "regions")


def test_refusals(tmp_path, capsys):
    raw = generate_nnunet_v2(tmp_path / "raw", kind="png2d", num_training=2, num_test=0)
    main = _main()
    assert main([str(raw), str(tmp_path / "msd")]) == 1
    assert "NIfTI only" in capsys.readouterr().err
    mri = generate_nnunet_v2(tmp_path / "raw", kind="mri", num_training=2, num_test=0)
    assert main([str(mri), str(mri / "inside")]) == 1 and "inside the source" in capsys.readouterr().err
    assert main([str(mri), str(tmp_path / "o")]) == 0
    assert main([str(mri), str(tmp_path / "o")]) == 1 and "--overwrite" in capsys.readouterr().err
    assert main([str(mri), str(tmp_path / "o"), "--overwrite", "--dataset_id", "7"]) == 0
    assert (tmp_path / "o" / "Task07_SynthMRI" / "dataset.json").is_file()
    with pytest.raises(DatasetError, match="already in the nnunet_v2 layout"):
        from data.layouts import convert_dataset

        convert_dataset(mri, tmp_path / "x", to="nnunet_v2")
