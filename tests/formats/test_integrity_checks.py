"""What only the integrity check finds (the readers stop at the first problem or do not look): every problem at
once, declared counts, required keys, geometry, empty label maps, duplicates, unlisted files, gzip checksums.
The bad inputs both the readers and the check catch are in tests/test_bad_input.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pytest
import tifffile

from formats.integrity import check_dataset
from formats import FORMATS
from formats.brats2020.synthetic import generate_brats2020
from formats.figshare.synthetic import generate_figshare
from formats.isbi2012.synthetic import generate_isbi2012
from formats.msd.synthetic import generate_msd_task01, save_nifti
from formats.png_pairs.synthetic import generate_png_pairs


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("good")
    return {
        "msd": generate_msd_task01(base / "msd", num_training=4, num_test=1, spatial_size=(16, 16, 8)),
        "brats2020": generate_brats2020(base / "brats", 3, (16, 16, 8), seed=0),
        "isbi2012": generate_isbi2012(base / "isbi", num_pages=4, size=32, seed=0),
        "figshare": generate_figshare(base / "fig", num_images=6, num_patients=3, size=32, files_per_folder=3),
        "png_pairs": generate_png_pairs(base / "png", num_images=4, size=32, seed=0),
    }


@pytest.fixture()
def copy(good, tmp_path):
    return lambda name: Path(shutil.copytree(good[name], tmp_path / name))


def _errors(report) -> dict[str, str]:
    return {f.path: f.message for f in report.errors}


def _warnings(report) -> dict[str, str]:
    return {f.path: f.message for f in report.warnings}


def _rewrite(path: Path, change=None, affine=None) -> None:
    img = nib.load(path)
    array = np.asanyarray(img.dataobj).copy()
    save_nifti(change(array) if change else array, img.affine if affine is None else affine, path)


def test_good_data_sets_pass_without_warnings(good):
    for name, root in good.items():
        report = check_dataset(name, root, progress=False)
        assert report.ok and not report.warnings, report.format()
        assert report.num_cases > 0
        assert report.summary().endswith(f"0 error(s), 0 warning(s) in {report.num_cases} case(s)")


def test_msd_every_problem_at_once_with_its_file(copy):
    root = copy("msd")
    (root / "imagesTr" / "BRATS_001.nii.gz").unlink()
    _rewrite(root / "imagesTr" / "BRATS_002.nii.gz", lambda a: np.where(a > a.max() * 0.9, np.nan, a))
    _rewrite(root / "labelsTr" / "BRATS_003.nii.gz", lambda a: np.where(a == 2, 7, a).astype(a.dtype))
    meta = json.loads((root / "dataset.json").read_text())
    meta["numTraining"], meta["numTest"] = 5, 3
    (root / "dataset.json").write_text(json.dumps(meta))
    report = check_dataset("msd", root, progress=False)
    errors = _errors(report)
    assert f"image not found (listed in {root / 'dataset.json'} as training[0])" in errors[str(root / "imagesTr/BRATS_001.nii.gz")]
    assert "NaN" in errors[str(root / "imagesTr/BRATS_002.nii.gz")]
    assert "value(s) {7} outside the expected labels [0, 1, 2, 3]" in errors[str(root / "labelsTr/BRATS_003.nii.gz")]
    json_errors = [f.message for f in report.errors if f.path == str(root / "dataset.json")]
    assert "numTraining is 5 but 'training' lists 4 case(s)" in json_errors
    assert "numTest is 3 but 'test' lists 1 case(s)" in json_errors
    assert len(report.errors) == 5
    lines = report.format().splitlines()
    assert lines[-1] == report.summary() and "5 error(s), 0 warning(s) in 5 case(s)" in lines[-1]
    assert all(line.startswith("ERROR   /") for line in lines[:-1])


def test_msd_required_keys_duplicates_and_invalid_json(copy):
    root = copy("msd")
    meta = json.loads((root / "dataset.json").read_text())
    del meta["labels"], meta["modality"]
    meta["training"].append(dict(meta["training"][0]))
    (root / "dataset.json").write_text(json.dumps(meta))
    report = check_dataset("msd", root, progress=False)
    messages = [f.message for f in report.errors if f.path == str(root / "dataset.json")]
    assert any("missing required key(s) ['modality', 'labels']" in m for m in messages)
    assert "case 'BRATS_001' listed twice in 'training' (entries 0 and 4)" in messages
    (root / "dataset.json").write_text("{not json")
    report = check_dataset("msd", root, progress=False)
    assert "not valid JSON" in _errors(report)[str(root / "dataset.json")]


def test_msd_geometry_empty_labels_duplicate_and_unlisted_files(copy):
    root = copy("msd")
    label = root / "labelsTr" / "BRATS_002.nii.gz"
    affine = nib.load(label).affine.copy()
    affine[:3, :3] *= 2.0
    _rewrite(label, affine=affine)
    _rewrite(root / "labelsTr" / "BRATS_003.nii.gz", lambda a: np.zeros_like(a))
    shutil.copy(root / "imagesTr" / "BRATS_001.nii.gz", root / "imagesTr" / "BRATS_004.nii.gz")
    shutil.copy(root / "imagesTr" / "BRATS_001.nii.gz", root / "imagesTr" / "BRATS_999.nii.gz")
    (root / "imagesTr" / "._BRATS_001.nii.gz").write_bytes(b"macOS resource fork")
    report = check_dataset("msd", root, progress=False)
    assert "affine differs from" in _errors(report)[str(label)]
    assert _errors(report)[str(label)].endswith("spacing (2.0, 2.0, 2.0) vs (1.0, 1.0, 1.0) mm")
    warnings = _warnings(report)
    assert "empty (only background 0)" in warnings[str(root / "labelsTr/BRATS_003.nii.gz")]
    assert "identical to" in warnings[str(root / "imagesTr/BRATS_004.nii.gz")]
    assert warnings[str(root / "imagesTr/BRATS_999.nii.gz")] == "not listed in dataset.json (not used)"
    assert not any("._BRATS" in path for path in warnings)
    assert len(report.errors) == 1


def test_msd_corrupt_byte_inside_the_gzip_stream_is_caught_by_its_checksum(copy):
    """nibabel (the bundles' reader) stops at the last voxel and never reads the gzip CRC, so most flipped bytes
    inside the stream decode into wrong voxels without an error; the check decompresses the whole stream."""
    root = copy("msd")
    path = root / "imagesTr" / "BRATS_002.nii.gz"
    original = path.read_bytes()
    voxels = np.asanyarray(nib.load(path).dataobj).copy()
    for position in range(len(original) // 2, len(original) - 8):  # the first flip nibabel decodes silently
        damaged = bytearray(original)
        damaged[position] ^= 0x10
        path.write_bytes(bytes(damaged))
        try:
            decoded = np.asanyarray(nib.load(path).dataobj)
        except Exception:  # this flip broke the deflate stream itself: nibabel notices, try the next byte
            continue
        if not np.array_equal(decoded, voxels):
            break
    else:
        pytest.fail("no silently decoded flip found")
    assert len(FORMATS.open(root, "msd", num_channels=4).training) == 4  # the header check passes, the bundle would train on wrong voxels
    message = _errors(check_dataset("msd", root, progress=False))[str(path)]
    assert "truncated or corrupt gzip" in message and "CRC check failed" in message


def test_brats_geometry_declared_cases_and_empty_label(copy):
    root = copy("brats2020")
    case = root / "BraTS20_Training_001"
    t1 = case / "BraTS20_Training_001_t1.nii.gz"
    rounded = nib.load(t1).affine.copy()
    rounded[:3, 3] += 4e-4  # header rounding: a warning, the bundle stacks it on the first modality's grid
    _rewrite(t1, affine=rounded)
    t2 = case / "BraTS20_Training_001_t2.nii.gz"
    shifted = nib.load(t2).affine.copy()
    shifted[:3, 3] += 5.0  # another grid: an error
    _rewrite(t2, affine=shifted)
    seg = case / "BraTS20_Training_001_seg.nii.gz"
    _rewrite(seg, lambda a: np.zeros_like(a), affine=shifted)
    (root / "notes").mkdir()
    with (root / "name_mapping.csv").open("a") as handle:
        handle.write("HGG,NA,NA,NA,NA,BraTS20_Training_004\n")
    report = check_dataset("brats2020", root, expected_cases=369, progress=False)
    errors, warnings = _errors(report), _warnings(report)
    assert "by up to 0.0004 mm (header rounding?)" in warnings[str(t1)]
    assert "orientation/origin differ by up to 5 mm" in errors[str(t2)]
    assert "affine differs from" in errors[str(seg)] and "empty" in warnings[str(seg)]
    assert errors[str(root / "BraTS20_Training_004")] == "listed in name_mapping.csv, but there is no such case folder"
    assert errors[str(root)] == "3 case folder(s), expected 369"
    assert "not a case folder" in warnings[str(root / "notes")]


def test_isbi_expected_counts_empty_and_duplicate_pages(copy):
    root = copy("isbi2012")
    labels = tifffile.imread(root / "train-labels.tif")
    labels[2] = 255
    tifffile.imwrite(root / "train-labels.tif", labels, photometric="minisblack")
    images = tifffile.imread(root / "train-volume.tif")
    images[3] = images[1]
    tifffile.imwrite(root / "train-volume.tif", images, photometric="minisblack")
    tifffile.imwrite(root / "test-volume.tif", images[:, :16], photometric="minisblack")
    report = check_dataset("isbi2012", root, num_pages=30, page_shape=(512, 512), progress=False)
    volume = str(root / "train-volume.tif")
    assert [f.message for f in report.errors] == ["4 page(s), expected 30", "pages of (32, 32), expected (512, 512)"]
    assert all(f.path == volume for f in report.errors)
    warnings = [(f.path, f.message) for f in report.warnings]
    duplicate = f"page identical to page 1 of {volume} (a duplicated case? it could land on both sides of the split)"
    assert (volume, duplicate) in warnings
    assert (str(root / "train-labels.tif"), "page 2 holds only the value 255 (an empty label page)") in warnings
    assert any(path.endswith("test-volume.tif") and "pages of (16, 32)" in message for path, message in warnings)


def test_figshare_duplicate_names_empty_mask_empty_pid_and_count(copy):
    root = copy("figshare")
    first = next(root.rglob("1.mat"))
    other_folder = next(p for p in root.iterdir() if p.is_dir() and p != first.parent)
    shutil.copy(first, other_folder / "1.mat")
    mat = next(root.rglob("2.mat"))
    with h5py.File(mat, "r+") as f:
        f["cjdata/tumorMask"][...] = 0
        pid = f["cjdata/PID"]
        pid[...] = 0
    report = check_dataset("figshare", root, expected_cases=3064, progress=False)
    errors, warnings = _errors(report), _warnings(report)
    assert errors[str(other_folder / "1.mat")].startswith("case '1' twice: also")
    assert errors[str(mat)] == "cjdata.PID is empty (the split by patient needs it)"
    assert "cjdata.tumorMask is empty" in warnings[str(mat)]
    assert errors[str(root)] == "7 .mat file(s), expected 3064"


def test_png_pairs_twins_empty_masks_duplicates_and_one_folder(copy):
    root = copy("png_pairs")
    shutil.copy(root / "images" / "000.png", root / "images" / "001.png")  # same picture twice
    from PIL import Image

    Image.open(root / "images" / "002.png").save(root / "images" / "002.bmp")  # two files for one name
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(root / "masks" / "003.png")
    report = check_dataset("png_pairs", root, progress=False)
    errors, warnings = _errors(report), _warnings(report)
    assert list(errors) == [str(root / "images" / "002.png")] and "002.bmp" in errors[str(root / "images/002.png")]
    assert "identical to" in warnings[str(root / "images/001.png")]
    assert "mask is empty" in warnings[str(root / "masks/003.png")]
    # images and masks in one folder told apart by a suffix
    single = generate_png_pairs(root.parent / "single", num_images=3, size=32, images_dir="train", masks_dir="train",
                                mask_suffix="_mask")  # fmt: skip
    assert check_dataset("png_pairs", single, images_subdir="train", masks_subdir="train", mask_suffix="_mask",
                         progress=False).ok  # fmt: skip
    report = check_dataset("png_pairs", single, images_subdir="train", masks_subdir="train", progress=False)
    assert "need a mask_suffix" in _errors(report)[str(single / "train")]


def test_missing_folders_are_errors_not_exceptions(tmp_path):
    for name in ("msd", "brats2020", "isbi2012", "figshare", "png_pairs"):
        report = check_dataset(name, tmp_path / "nothere", progress=False)
        assert not report.ok and all("nothere" in f.path for f in report.errors), name
