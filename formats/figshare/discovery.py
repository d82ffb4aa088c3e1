"""Figshare brain-tumour data set (Cheng et al.; seed 003): MATLAB v7.3 ``.mat`` files, split by patient.

The release (figshare, "brain tumor dataset") has 3064 T1-weighted contrast-enhanced slices of 233 patients,
``1.mat`` ... ``3064.mat`` in four zip parts (``brainTumorDataPublic_1-766`` ...). Each file is a MATLAB v7.3
MAT-file, i.e. HDF5 behind a 512-byte MATLAB header, holding one struct ``cjdata`` with fields ``label``
(1 meningioma, 2 glioma, 3 pituitary tumour), ``PID`` (patient id, a char array), ``image`` (512 x 512, a few
256 x 256, int16), ``tumorBorder`` (polygon ``[x1, y1, x2, y2, ...]``) and ``tumorMask`` (logical, the
image's size). MATLAB stores arrays column-major, so HDF5 (and h5py) see every array transposed, and a char
array is stored as uint16 character codes with the attribute ``MATLAB_class = "char"``.

Seed 003 resizes to 128 x 128 and splits 2800/200/64 images; here the split is by patient (``PID``) so no
patient is on two sides, with image counts as close to those fractions as whole patients allow.

Reading: :class:`MatV73Reader` is a MONAI ``ImageReader`` for one field of a ``.mat`` file (h5py for v7.3;
``scipy.io.loadmat`` for files re-saved as v5/v7), so MONAI's ``LoadImaged`` (or :class:`transforms.LoadVolumed`,
which names the file in errors) loads ``image`` and ``tumorMask`` like any other image.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from data.errors import DatasetError
from data.problems import IntegrityReport
from formats.figshare.readers import (
    FIGSHARE_CLASSES,
    check_tumour_class,
    decode_matlab_char,
    is_hdf5,
    read_figshare_mat,
)
from formats.registry import DatasetSpec

__all__ = ["FIGSHARE_SPLIT", "discover_figshare"]

FIGSHARE_SPLIT = (2800, 200, 64)  # seed 003: training / validation / test images of 3064
_FIELDS = ("label", "PID", "image", "tumorBorder", "tumorMask")


def _header(path: str) -> tuple[str, int, tuple[int, ...], tuple[int, ...]]:
    """(PID, label, image shape, mask shape) without reading the pixel data of a v7.3 file."""
    if not is_hdf5(path):
        record = read_figshare_mat(path)
        return record.pid, record.label, record.image.shape, record.mask.shape
    import h5py

    try:
        with h5py.File(path, "r") as f:
            missing = [name for name in _FIELDS if f"cjdata/{name}" not in f]
            if missing:
                present = sorted(f["cjdata"].keys()) if "cjdata" in f else sorted(f.keys())
                raise DatasetError(f"{path}: no cjdata.{', cjdata.'.join(missing)} (present: {present}).")
            pid = decode_matlab_char(f["cjdata/PID"][()])
            label = np.asarray(f["cjdata/label"][()])
            image_shape = tuple(reversed(f["cjdata/image"].shape))
            mask_shape = tuple(reversed(f["cjdata/tumorMask"].shape))
    except DatasetError:
        raise
    except Exception as err:  # h5py raises OSError for truncated/corrupt files
        raise DatasetError(f"{path}: cannot read as a MATLAB v7.3 MAT-file ({type(err).__name__}: {err})") from err
    return pid, check_tumour_class(path, label), image_shape, mask_shape


def _number(path: Path) -> tuple[int, str]:
    match = re.fullmatch(r"(\d+)", path.stem)
    return (int(match.group(1)), "") if match else (1 << 62, path.stem)


def discover_figshare(
    root: Path, report: IntegrityReport, recursive: bool = True, expected_cases: int | None = None
) -> DatasetSpec | None:
    """The ``.mat`` files under ``root``, each checked from its small fields, every problem recorded.

    Every file is opened (h5py reads ``PID``, ``label`` and the array shapes, not the pixels): unreadable files,
    missing fields, image/mask shape mismatches, labels outside 1..3 and a file name (= case id) found twice are
    recorded; mask values are checked when the mask is decoded.

    Args:
        root: folder of the ``.mat`` files, or of the unzipped ``brainTumorDataPublic_*`` folders (absolute).
        report: where the problems go.
        recursive: search sub-folders too.
        expected_cases: how many files there should be (3064 for the release); None: any.

    Returns:
        The spec: ``{"image": path, "label": path, "case_id": "17", "patient_id": "100360", "tumour_class": 1}``
        per good file, sorted by file number; ``image`` and ``label`` name the same file (see
        :class:`~formats.figshare.readers.MatV73Reader`). None when ``root`` is not a folder.
    """
    if not root.is_dir():
        report.error(root, "not a folder; dataset_dir must hold the data set's .mat files")
        return None
    files = sorted(root.rglob("*.mat") if recursive else root.glob("*.mat"), key=_number)
    files = [f for f in files if f.name != "cvind.mat"]  # the release's cross-validation indices
    report.num_cases = len(files)
    if not files:
        report.error(root, "no .mat file found (expected 1.mat ... 3064.mat, possibly in sub-folders)")
    if expected_cases is not None and len(files) != expected_cases:
        report.error(root, f"{len(files)} .mat file(s), expected {expected_cases}")
    seen: dict[str, Path] = {}
    datalist = []
    for path in files:
        if path.stem in seen:
            report.error(path, f"case {path.stem!r} twice: also {seen[path.stem]} (file names are the case ids)")
            continue
        seen[path.stem] = path
        try:
            pid, label, image_shape, mask_shape = _header(str(path))
        except DatasetError as err:
            report.record(path, err)
            continue
        if len(image_shape) != 2:
            report.error(path, f"cjdata.image has shape {image_shape}, expected a 2D image")
            continue
        if mask_shape != image_shape:
            report.error(path, f"cjdata.tumorMask has shape {mask_shape}, cjdata.image {image_shape}")
            continue
        if not pid:
            report.error(path, "cjdata.PID is empty (the split by patient needs it)")
        datalist.append(
            {"image": str(path), "label": str(path), "case_id": path.stem, "patient_id": pid, "tumour_class": label}
        )
    return DatasetSpec(
        format="figshare",
        root=root,
        name=root.name,
        channel_names=["T1ce"],
        labels={"background": 0, "tumour": 1},
        training=datalist,
        spatial_dims=2,
        extra={"label_values": [0, 1], "classes": dict(FIGSHARE_CLASSES)},
    )
