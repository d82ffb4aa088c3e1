"""Bad-input corpus: one case per kind of bad input for every reader (MSD Task01, BraTS2020, ISBI TIFF, Figshare
.mat, PNG pairs). Each bad data set must fail

- through the reader path the bundles use (the bundle's data YAML: data list, then the load/check transforms of
  every item), with a :class:`~data.DatasetError` whose message names the bad file, and
- in the integrity check (``formats.integrity.check_dataset``), as an error about that file,

and neither may change, add or delete a file of the data set (the folder is hashed before and after).

``python -m tests.test_bad_input`` prints the table "bad input -> what the user sees" for the README.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pytest
import tifffile
from monai.bundle import ConfigParser
from monai.transforms import Compose
from PIL import Image

from data.errors import DatasetError
from formats.integrity import check_dataset
from formats.brats2020.synthetic import generate_brats2020
from formats.figshare.synthetic import generate_figshare
from formats.isbi2012.synthetic import generate_isbi2012
from formats.msd.synthetic import generate_msd_task01, save_nifti

ROOT = Path(__file__).resolve().parents[1]
FIGSHARE_TRAIN = ROOT / "bundles" / "figshare_unetplusplus" / "configs" / "train.yaml"
LIVER_TRAIN = ROOT / "bundles" / "liver_improved_skip_unet" / "configs" / "train.yaml"

# the data YAML each bundle runs, the key of its per-item load/check transforms, and overrides that keep the data tiny
BUNDLE_DATA = {
    "msd": (ROOT / "bundles/unet/configs/train.yaml", "data#volume_transforms", {"roi_size": [16, 16]}),
    "brats2020": (ROOT / "bundles/brats_unet/configs/train.yaml", "data#volume_transforms", {"image_size": [16, 16]}),
    "isbi2012": (ROOT / "bundles/isbi_unet/configs/train.yaml", "data#load_transforms", {"num_pages": 0}),
    "figshare": (FIGSHARE_TRAIN, "data#load_transforms", {"roi_size": [16, 16]}),
    "png_pairs": (LIVER_TRAIN, "data#load_transforms", {"roi_size": [16, 16]}),
}  # fmt: skip


def generate_good(data_format: str, root: Path) -> Path:
    """A tiny good data set of each format."""
    if data_format == "msd":
        return generate_msd_task01(root, num_training=3, num_test=1, spatial_size=(16, 16, 8), seed=0)
    if data_format == "brats2020":
        return generate_brats2020(root, 3, (16, 16, 8), seed=0)
    if data_format == "isbi2012":
        return generate_isbi2012(root, num_pages=4, size=32, seed=0, with_test=False)
    if data_format == "figshare":
        return generate_figshare(root, num_images=6, num_patients=3, size=32, seed=0, files_per_folder=3)
    from formats.png_pairs.synthetic import generate_png_pairs

    return generate_png_pairs(root, num_images=5, size=32, seed=0)


# ---- ways to break a data set (each edits a copy) ------------------------------------------------------------


def truncate(relative: str, keep: float | int = 0.5) -> Callable[[Path], None]:
    """Cut a file to a fraction (float) or a number of bytes (int) of its size."""

    def corrupt(root: Path) -> None:
        path = root / relative
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep) if isinstance(keep, float) else keep])

    return corrupt


def delete(relative: str) -> Callable[[Path], None]:
    return lambda root: (root / relative).unlink()


def symlink_loop(relative: str) -> Callable[[Path], None]:
    """Replace a file by a symbolic link to itself."""

    def corrupt(root: Path) -> None:
        (root / relative).unlink()
        (root / relative).symlink_to(root / relative)

    return corrupt


def rename(relative: str, new_name: str) -> Callable[[Path], None]:
    return lambda root: (root / relative).rename((root / relative).with_name(new_name))


def rewrite_nifti(relative: str, change: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], None]:
    """Write ``change(voxels)`` back with the file's affine (dtype as returned)."""

    def corrupt(root: Path) -> None:
        path = root / relative
        img = nib.load(path)
        array = change(np.asanyarray(img.dataobj).copy())
        save_nifti(array, img.affine, path)

    return corrupt


def rewrite_affine(relative: str, spacing: float) -> Callable[[Path], None]:
    """Same voxels, another voxel size."""

    def corrupt(root: Path) -> None:
        img = nib.load(root / relative)
        affine = img.affine.copy()
        affine[:3, :3] *= spacing
        save_nifti(np.asanyarray(img.dataobj).copy(), affine, root / relative)

    return corrupt


def set_voxel(value: float, index: tuple = (8, 8, 4), dtype: str | None = None):
    def change(array: np.ndarray) -> np.ndarray:
        array = array.astype(dtype) if dtype else array
        array[index] = value
        return array

    return change


def rewrite_tiff(relative: str, change: Callable, photometric: str = "minisblack") -> Callable[[Path], None]:
    def corrupt(root: Path) -> None:
        pages = tifffile.imread(root / relative)
        tifffile.imwrite(root / relative, np.ascontiguousarray(change(pages)), photometric=photometric)

    return corrupt


def rewrite_mat(relative: str, field: str, change: Callable[[np.ndarray], np.ndarray | None]) -> Callable:
    """Replace (or, when ``change`` returns None, delete) ``cjdata/<field>``; HDF5 holds MATLAB arrays transposed."""

    def corrupt(root: Path) -> None:
        with h5py.File(root / relative, "r+") as f:
            node = f[f"cjdata/{field}"]
            matlab_class = node.attrs.get("MATLAB_class")
            new = change(node[()].T.copy())
            del f[f"cjdata/{field}"]
            if new is not None:
                created = f.create_dataset(f"cjdata/{field}", data=np.ascontiguousarray(new.T))
                created.attrs["MATLAB_class"] = b"double" if new.dtype.kind == "f" else matlab_class

    return corrupt


def rewrite_png(relative: str, change: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], None]:
    def corrupt(root: Path) -> None:
        path = root / relative
        array = change(np.asarray(Image.open(path)).copy())
        Image.fromarray(array).save(path)

    return corrupt


def replace_png_with(relative: str, new_name: str, array: np.ndarray) -> Callable[[Path], None]:
    """Remove a picture and write ``array`` as another file (e.g. a 5-sample TIFF) under ``new_name``."""

    def corrupt(root: Path) -> None:
        (root / relative).unlink()
        tifffile.imwrite((root / relative).with_name(new_name), array, photometric="minisblack", planarconfig="contig")

    return corrupt


@dataclass(frozen=True)
class BadInput:
    """One bad input: how to break a good data set of ``data_format`` and which file must be named."""

    kind: str
    data_format: str
    bad_file: str  # relative to the data set's folder
    corrupt: Callable[[Path], None]

    @property
    def id(self) -> str:
        return f"{self.data_format}-{self.kind.replace(' ', '_')}"


MSD_IMAGE, MSD_LABEL = "imagesTr/BRATS_002.nii.gz", "labelsTr/BRATS_002.nii.gz"
BRATS_T1CE = "BraTS20_Training_002/BraTS20_Training_002_t1ce.nii.gz"
BRATS_SEG = "BraTS20_Training_002/BraTS20_Training_002_seg.nii.gz"
MAT = "brainTumorDataPublic_1-3/2.mat"

CORPUS = [
    # MSD Task01 (dataset.json + 4D NIfTI)
    BadInput("truncated gzip", "msd", MSD_IMAGE, truncate(MSD_IMAGE, 0.5)),
    BadInput("truncated gzip in the header", "msd", MSD_IMAGE, truncate(MSD_IMAGE, 40)),
    BadInput("truncated gzip label", "msd", MSD_LABEL, truncate(MSD_LABEL, 0.6)),
    BadInput("wrong dimension", "msd", MSD_IMAGE, rewrite_nifti(MSD_IMAGE, lambda a: a[..., 0])),
    BadInput("wrong channel count", "msd", MSD_IMAGE, rewrite_nifti(MSD_IMAGE, lambda a: a[..., :3])),
    BadInput("mismatched shapes", "msd", MSD_LABEL, rewrite_nifti(MSD_LABEL, lambda a: a[:, :12])),
    BadInput("NaN", "msd", MSD_IMAGE, rewrite_nifti(MSD_IMAGE, set_voxel(np.nan, (8, 8, 4, 1)))),
    BadInput("inf", "msd", MSD_IMAGE, rewrite_nifti(MSD_IMAGE, set_voxel(np.inf, (8, 8, 4, 2)))),
    BadInput("wrong label values", "msd", MSD_LABEL, rewrite_nifti(MSD_LABEL, set_voxel(5))),
    BadInput("affine mismatch", "msd", MSD_LABEL, rewrite_affine(MSD_LABEL, spacing=1.5)),
    BadInput("missing file", "msd", MSD_IMAGE, delete(MSD_IMAGE)),
    BadInput("missing dataset.json", "msd", "dataset.json", delete("dataset.json")),
    BadInput("empty file", "msd", MSD_LABEL, lambda root: (root / MSD_LABEL).write_bytes(b"")),
    BadInput("symbolic link loop", "msd", MSD_IMAGE, symlink_loop(MSD_IMAGE)),
    # BraTS2020 (one folder per case, one 3D NIfTI per modality)
    BadInput("truncated gzip", "brats2020", BRATS_T1CE, truncate(BRATS_T1CE, 0.5)),
    BadInput("wrong dimension", "brats2020", BRATS_T1CE, rewrite_nifti(BRATS_T1CE, lambda a: a[..., 0])),
    BadInput("wrong channel count", "brats2020", BRATS_T1CE,
             rewrite_nifti(BRATS_T1CE, lambda a: np.stack([a, a], axis=-1))),
    BadInput("mismatched shapes", "brats2020", BRATS_SEG, rewrite_nifti(BRATS_SEG, lambda a: a[:12])),
    BadInput("NaN", "brats2020", BRATS_T1CE, rewrite_nifti(BRATS_T1CE, set_voxel(np.nan, dtype="float32"))),
    BadInput("wrong label values", "brats2020", BRATS_SEG, rewrite_nifti(BRATS_SEG, set_voxel(3))),
    BadInput("modality affine mismatch", "brats2020", BRATS_T1CE, rewrite_affine(BRATS_T1CE, spacing=1.2)),
    BadInput("missing file", "brats2020", "BraTS20_Training_002", delete(BRATS_T1CE)),
    # ISBI 2012 (multi-page TIFF)
    BadInput("TIFF page count mismatch", "isbi2012", "train-labels.tif",
             rewrite_tiff("train-labels.tif", lambda p: p[:-1])),
    BadInput("truncated TIFF", "isbi2012", "train-volume.tif", truncate("train-volume.tif", 0.3)),
    BadInput("wrong channel count", "isbi2012", "train-volume.tif",
             rewrite_tiff("train-volume.tif", lambda p: np.stack([p, p, p], axis=-1), photometric="rgb")),
    BadInput("mismatched shapes", "isbi2012", "train-labels.tif",
             rewrite_tiff("train-labels.tif", lambda p: p[:, :24])),
    BadInput("NaN", "isbi2012", "train-volume.tif",
             rewrite_tiff("train-volume.tif", lambda p: np.where(np.arange(32) == 5, np.nan, p.astype("float32")))),
    BadInput("wrong label values", "isbi2012", "train-labels.tif",
             rewrite_tiff("train-labels.tif", lambda p: np.where(p == 0, 128, p).astype(p.dtype))),
    BadInput("missing file", "isbi2012", "train-labels.tif", delete("train-labels.tif")),
    # Figshare (.mat v7.3)
    BadInput("unreadable .mat", "figshare", MAT, truncate(MAT, 0.5)),
    BadInput("not a MAT-file", "figshare", MAT, lambda root: (root / MAT).write_bytes(b"<html>not found</html>")),
    BadInput("wrong dimension", "figshare", MAT, rewrite_mat(MAT, "image", lambda a: np.stack([a, a], axis=-1))),
    BadInput("mismatched shapes", "figshare", MAT, rewrite_mat(MAT, "tumorMask", lambda a: a[:16])),
    BadInput("NaN", "figshare", MAT, rewrite_mat(MAT, "image", lambda a: np.where(a == a.max(), np.nan, a))),
    BadInput("wrong label values", "figshare", MAT, rewrite_mat(MAT, "tumorMask", lambda a: a * 2)),
    BadInput("missing field", "figshare", MAT, rewrite_mat(MAT, "tumorMask", lambda a: None)),
    BadInput("wrong tumour class", "figshare", MAT, rewrite_mat(MAT, "label", lambda a: a * 0 + 7)),
    # PNG pairs
    BadInput("unmatched PNG names", "png_pairs", "images/003b.png", rename("images/003.png", "003b.png")),
    BadInput("missing file", "png_pairs", "images/002.png", delete("masks/002.png")),
    BadInput("truncated PNG", "png_pairs", "images/001.png", truncate("images/001.png", 0.5)),
    BadInput("mismatched shapes", "png_pairs", "masks/001.png", rewrite_png("masks/001.png", lambda a: a[:20])),
    BadInput("wrong label values", "png_pairs", "masks/001.png",
             rewrite_png("masks/001.png", lambda a: np.where(a == 0, 128, a).astype(np.uint8))),
    BadInput("wrong channel count", "png_pairs", "images/001.tif",
             replace_png_with("images/001.png", "001.tif", np.zeros((32, 32, 5), np.uint8))),
    BadInput("NaN", "png_pairs", "images/001.tif",
             replace_png_with("images/001.png", "001.tif", np.where(np.eye(32) > 0, np.nan, 1.0).astype(np.float32))),
]  # fmt: skip


# ---- the two paths every bad input must fail ------------------------------------------------------------------


def folder_digest(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` (relative path -> digest)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def bundle_reader_error(data_format: str, root: Path) -> BaseException | None:
    """Run the bundle's data path on ``root``: its data list, then its load/check transforms on every item.

    Returns:
        The exception raised (as the bundle would see it), or None if the data went through.
    """
    config, transforms_key, overrides = BUNDLE_DATA[data_format]
    parser = ConfigParser()
    parser.read_config(config)
    parser["dataset_dir"] = str(root)
    for key, value in overrides.items():
        parser[key] = value
    parser.parse()
    try:
        datalist = parser.get_parsed_content("data#datalist")
        pipeline = Compose(parser.get_parsed_content(transforms_key))
        for item in datalist:
            pipeline(item)
    except Exception as err:  # what the bundle would show: the chain down to our DatasetError
        return err
    return None


def chain(err: BaseException) -> list[BaseException]:
    """``err`` and its causes/contexts, outermost first."""
    found = []
    while err is not None and err not in found:
        found.append(err)
        err = err.__cause__ or err.__context__
    return found


def user_message(err: BaseException) -> str:
    """The message of the innermost :class:`DatasetError` of the chain (what the traceback ends its story with)."""
    errors = [e for e in chain(err) if isinstance(e, DatasetError)]
    return str(errors[-1]) if errors else f"{type(err).__name__}: {err}"


@pytest.fixture(scope="module")
def good_data(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("good")
    return {name: generate_good(name, base / name) for name in BUNDLE_DATA}


def test_good_data_passes_both_paths(good_data):
    for data_format, root in good_data.items():
        assert bundle_reader_error(data_format, root) is None, data_format
        report = check_dataset(data_format, root, progress=False)
        assert report.ok and not report.warnings, report.format()


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.id)
def test_bad_input_is_named_by_reader_and_checker_and_nothing_changes(case, good_data, tmp_path):
    root = Path(shutil.copytree(good_data[case.data_format], tmp_path / case.data_format))
    case.corrupt(root)
    bad_path = str(root / case.bad_file)
    before = folder_digest(root)

    err = bundle_reader_error(case.data_format, root)
    assert err is not None, f"{case.id}: the bundle's reader path accepted the bad input"
    assert any(isinstance(e, DatasetError) for e in chain(err)), f"{case.id}: not a DatasetError: {err!r}"
    assert bad_path in user_message(err), f"{case.id}: {bad_path} not named in: {user_message(err)}"
    assert "Traceback" not in user_message(err)

    report = check_dataset(case.data_format, root, progress=False)
    assert not report.ok, f"{case.id}: the integrity check passed:\n{report.format()}"
    assert any(f.path == bad_path for f in report.errors), f"{case.id}: {bad_path} not in\n{report.format()}"
    assert report.summary() in report.format().splitlines()[-1]

    assert folder_digest(root) == before, f"{case.id}: a file was changed, added or deleted"


def test_every_kind_of_the_issue_is_covered():
    kinds = {case.kind for case in CORPUS}
    required = {
        "truncated gzip", "wrong dimension", "wrong channel count", "mismatched shapes", "NaN", "wrong label values",
        "missing file", "unmatched PNG names", "unreadable .mat", "TIFF page count mismatch",
    }  # fmt: skip
    assert required <= kinds, required - kinds
    for data_format in BUNDLE_DATA:
        assert sum(case.data_format == data_format for case in CORPUS) >= 5, data_format


def _markdown_table(base: Path) -> str:
    """Rows "format | bad input | what the bundle says | what the check says" with <dataset> for the folder."""
    good = {name: generate_good(name, base / "good" / name) for name in BUNDLE_DATA}
    rows = ["| data set | bad input | bundle (reader) error | `scripts/check_dataset.py` |", "|---|---|---|---|"]
    for number, case in enumerate(CORPUS):
        root = Path(shutil.copytree(good[case.data_format], base / str(number)))
        case.corrupt(root)
        said = user_message(bundle_reader_error(case.data_format, root)).replace(str(root), "<dataset>")
        report = check_dataset(case.data_format, root, progress=False)
        checked = "<br>".join(str(f).replace(str(root), "<dataset>") for f in report.errors)
        rows.append(f"| {case.data_format} | {case.kind} | `{said}` | `{checked}` |".replace("\n", "<br>"))
    return "\n".join(rows)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(_markdown_table(Path(tmp)))
