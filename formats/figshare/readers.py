"""Reading of the Figshare format: MATLAB v7.3 (HDF5) or older ``.mat`` files, through h5py or scipy, as a MONAI
``ImageReader`` (:class:`MatV73Reader`) and as whole records (:func:`read_figshare_mat`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from monai.data import ImageReader
from monai.utils import ensure_tuple

from data.errors import DatasetError

__all__ = [
    "FIGSHARE_CLASSES",
    "FigshareRecord",
    "MatV73Reader",
    "check_tumour_class",
    "decode_matlab_char",
    "is_hdf5",
    "read_figshare_mat",
    "read_mat_field",
]

FIGSHARE_CLASSES = {1: "meningioma", 2: "glioma", 3: "pituitary tumour"}


class FigshareRecord(NamedTuple):
    """Contents of one file, in MATLAB orientation: ``image`` (rows, cols) float32, ``mask`` uint8 of {0, 1}."""

    image: np.ndarray
    mask: np.ndarray
    label: int
    pid: str
    border: np.ndarray


def decode_matlab_char(value: Any) -> str:
    """A MATLAB char array as ``str``: uint16 code units from v7.3/HDF5, or a str/ndarray from ``loadmat``."""
    if isinstance(value, str):
        return value.strip()
    array = np.asarray(value)
    if array.dtype.kind in ("U", "S"):
        return "".join(str(s) for s in array.ravel()).strip()
    codes = array.astype(np.uint32).ravel(order="F")
    return "".join(chr(c) for c in codes if c).strip()


def is_hdf5(path: str) -> bool:
    """HDF5 signature at offset 0, 512, 1024, ... (MATLAB v7.3 puts a 512-byte header first)."""
    signature = b"\x89HDF\r\n\x1a\n"
    with open(path, "rb") as handle:
        for offset in (0, 512, 1024, 2048):
            handle.seek(offset)
            if handle.read(8) == signature:
                return True
    return False


def _read_h5_field(path: str, field: str) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as f:
        if field not in f:
            parent = field.rsplit("/", 1)[0] if "/" in field else ""
            present = sorted(f[parent].keys()) if (not parent or parent in f) else sorted(f.keys())
            raise KeyError(f"no {field!r} (present: {present})")
        node = f[field]
        if not isinstance(node, h5py.Dataset):
            raise KeyError(f"{field!r} is a group, not an array")
        array = node[()]
        matlab_class = node.attrs.get("MATLAB_class", b"")
    matlab_class = matlab_class.decode() if isinstance(matlab_class, bytes) else str(matlab_class)
    if matlab_class == "char":
        return np.array(decode_matlab_char(array))
    array = np.asarray(array)
    return array.T if array.ndim >= 2 else array  # HDF5 holds MATLAB's column-major arrays transposed


def _read_v5_field(path: str, field: str) -> np.ndarray:
    from scipy.io import loadmat

    parts = field.split("/")
    data = loadmat(path, squeeze_me=True, struct_as_record=False, variable_names=[parts[0]])
    if parts[0] not in data:
        present = sorted(k for k in loadmat(path).keys() if not k.startswith("__"))
        raise KeyError(f"no {parts[0]!r} (present: {present})")
    node: Any = data[parts[0]]
    for part in parts[1:]:
        if not hasattr(node, part):
            raise KeyError(f"no {field!r} (present: {sorted(getattr(node, '_fieldnames', []))})")
        node = getattr(node, part)
    return np.asarray(node)


def read_mat_field(path: str | os.PathLike, field: str) -> np.ndarray:
    """One array of a MAT-file, e.g. ``read_mat_field("1.mat", "cjdata/image")``, in MATLAB orientation.

    v7.3 files (HDF5) are read with h5py and transposed back to MATLAB's (rows, cols); char arrays become a
    0-d ``str`` array. Older MAT-files (v5/v7) are read with ``scipy.io.loadmat``.

    Raises:
        DatasetError: the file is missing, not a MAT-file either way, or lacks ``field``; names the file.
    """
    path = str(path)
    if not os.path.isfile(path):
        raise DatasetError(f"{path}: file not found.")
    try:
        if is_hdf5(path):
            return _read_h5_field(path, field)
        return _read_v5_field(path, field)
    except KeyError as err:
        raise DatasetError(f"{path}: {err.args[0]}.") from err
    except Exception as err:  # h5py raises OSError; scipy ValueError/TypeError; both for truncated files
        raise DatasetError(
            f"{path}: cannot read as a MATLAB MAT-file (v7.3/HDF5 through h5py, or v5 through scipy) "
            f"({type(err).__name__}: {err})"
        ) from err


def read_figshare_mat(path: str | os.PathLike) -> FigshareRecord:
    """Read and check one file of the data set.

    Raises:
        DatasetError: unreadable file, a missing field, an image that is not 2D, a mask of another shape or
            with values other than 0 and 1, a label outside 1..3; the message names the file.
    """
    path = str(path)
    image = read_mat_field(path, "cjdata/image")
    mask = read_mat_field(path, "cjdata/tumorMask")
    label = read_mat_field(path, "cjdata/label")
    pid = decode_matlab_char(read_mat_field(path, "cjdata/PID"))
    border = read_mat_field(path, "cjdata/tumorBorder")
    if image.ndim != 2:
        raise DatasetError(f"{path}: cjdata.image has shape {image.shape}, expected a 2D image.")
    if mask.shape != image.shape:
        raise DatasetError(f"{path}: cjdata.tumorMask has shape {mask.shape}, cjdata.image {image.shape}.")
    values = np.unique(mask)
    if not np.isin(values, (0, 1)).all():
        raise DatasetError(f"{path}: cjdata.tumorMask holds {values[:10].tolist()}, expected only 0 and 1.")
    label_value = check_tumour_class(path, label)
    return FigshareRecord(image.astype(np.float32), mask.astype(np.uint8), label_value, pid, np.asarray(border))


def check_tumour_class(path: str, label: np.ndarray) -> int:
    flat = np.asarray(label).ravel()
    if flat.size != 1 or float(flat[0]) not in FIGSHARE_CLASSES:
        raise DatasetError(f"{path}: cjdata.label is {flat[:5].tolist()}, expected one of {sorted(FIGSHARE_CLASSES)}.")
    return int(flat[0])


class MatV73Reader(ImageReader):
    """MONAI ``ImageReader`` of one array (``field``) of MATLAB MAT-files, v7.3 (HDF5, h5py) or older (scipy).

    For the Figshare data: ``LoadImaged(keys="image", reader=MatV73Reader(field="cjdata/image"))`` and
    ``LoadImaged(keys="label", reader=MatV73Reader(field="cjdata/tumorMask"))`` on items whose ``image`` and
    ``label`` name the same file. Arrays come in MATLAB's (rows, cols) orientation (v7.3 arrays are transposed
    back), as float32 for ``dtype="float32"``; several files are stacked as channels. The meta data mark no
    channel axis (``EnsureChannelFirstd`` adds one) and hold ``spatial_shape`` and the file name (set by
    ``LoadImage``).

    Args:
        field: path of the array inside the file, ``/``-separated (``"cjdata/image"``).
        dtype: numpy dtype of the returned array (None: as stored; a logical mask stays uint8).
    """

    def __init__(self, field: str = "cjdata/image", dtype: str | None = "float32") -> None:
        super().__init__()
        self.field = field
        self.dtype = dtype

    def verify_suffix(self, filename: Sequence[os.PathLike] | os.PathLike) -> bool:
        return all(str(name).lower().endswith(".mat") for name in ensure_tuple(filename))

    def read(self, data: Sequence[os.PathLike] | os.PathLike, **kwargs: Any) -> list[np.ndarray] | np.ndarray:
        arrays = [read_mat_field(name, self.field) for name in ensure_tuple(data)]
        return arrays if len(arrays) > 1 else arrays[0]

    def get_data(self, img: Any) -> tuple[np.ndarray, dict]:
        arrays = list(img) if isinstance(img, list) else [img]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ValueError(f"{self.field}: arrays of different shapes {sorted(shapes)} cannot be stacked.")
        arrays = [a.astype(self.dtype) if self.dtype is not None else a for a in arrays]
        meta: dict[str, Any] = {"spatial_shape": np.asarray(arrays[0].shape), "field": self.field}
        if len(arrays) == 1:
            meta["original_channel_dim"] = float("nan")  # no channel
            return arrays[0], meta
        meta["original_channel_dim"] = 0
        return np.stack(arrays, axis=0), meta
