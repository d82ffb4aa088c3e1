"""Reading an nnU-Net v2 case: one file per channel, stacked channel-first, and its label map.

3D files (NIfTI through nibabel; NRRD, MHA and other ITK formats through ITK, both via MONAI's readers) give
arrays in (x, y, z) index order with a RAS affine, as every MONAI pipeline expects. 2D files (PNG, BMP, TIFF) give
(H, W) arrays with an identity affine: spacing 1 on both axes, as nnU-Net treats natural images.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from monai.config import KeysCollection
from monai.data import MetaTensor
from monai.transforms import MapTransform

from data.errors import DatasetError
from data.nifti_reader import NiftiReader

__all__ = [
    "FILE_ENDINGS_2D",
    "FILE_ENDINGS_3D",
    "LoadNnUNetCased",
    "is_2d_ending",
    "load_case",
    "read_channel_file",
    "read_header",
    "spacing_from_affine",
]

FILE_ENDINGS_3D = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
FILE_ENDINGS_2D = (".png", ".bmp", ".tif", ".tiff")


def is_2d_ending(file_ending: str) -> bool:
    """Whether ``file_ending`` (``".png"``, ``".nii.gz"``, ...) is read as a 2D image."""
    return file_ending.lower() in FILE_ENDINGS_2D


def spacing_from_affine(affine: Any, spatial_dims: int) -> list[float]:
    """Voxel spacing: the column norms of ``affine[:3, :3]``, first ``spatial_dims`` axes."""
    a = np.asarray(affine, dtype=np.float64)
    return [float(v) for v in np.linalg.norm(a[:3, :3], axis=0)[:spatial_dims]]


def _read_2d(path: Path) -> np.ndarray:
    if path.name.lower().endswith((".tif", ".tiff")):
        import tifffile

        arr = np.asarray(tifffile.imread(str(path)))
    else:
        from PIL import Image

        with Image.open(path) as im:
            arr = np.asarray(im)
    arr = np.squeeze(arr)
    if arr.ndim != 2:
        raise DatasetError(
            f"{path}: a 2D channel file must hold one grey-value image, found an array of shape {tuple(arr.shape)}; "
            "save each colour channel as its own file ({case}_0000, {case}_0001, ...) and name it in channel_names."
        )
    return arr


def read_channel_file(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Decode one image or label file of an nnU-Net data set.

    Args:
        path: the file (``.nii.gz``, ``.nii``, ``.nrrd``, ``.mha``, ``.png``, ``.tif``, ...).

    Returns:
        The array, (x, y, z) for 3D files (a 2D NIfTI / NRRD / MHA gives (x, y)) or (H, W) for 2D image files
        (float32), and its 4 x 4 affine (RAS; identity for PNG / BMP / TIFF).

    Raises:
        DatasetError: naming the file when it cannot be decoded.
    """
    p = Path(path)
    name = p.name.lower()
    try:
        if name.endswith(FILE_ENDINGS_2D):
            return _read_2d(p).astype(np.float32), np.eye(4)
        from monai.transforms import LoadImage

        reader = NiftiReader() if name.endswith((".nii", ".nii.gz")) else "ITKReader"
        img = LoadImage(reader=reader, image_only=True, dtype=np.float32)(str(p))
        arr = np.asarray(img)
        affine = np.asarray(img.affine, dtype=np.float64)
    except DatasetError:
        raise
    except Exception as exc:  # any decoder failure becomes one message naming the file
        raise DatasetError(f"{p}: cannot be decoded ({type(exc).__name__}: {exc}); re-export the file.") from exc
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3):
        raise DatasetError(
            f"{p}: expected a 3D volume (one channel per file in nnU-Net's layout), found shape {tuple(arr.shape)}; "
            "split 4D files into {case}_0000, {case}_0001, ... (scripts/convert_dataset.py does it for MSD)."
        )
    return arr, affine


def read_header(path: str | os.PathLike) -> tuple[int, ...]:
    """Shape of an image file from its header only (2D files: (H, W)); used by discovery to tell 2D from 3D.

    Raises:
        DatasetError: naming the file when its header cannot be read.
    """
    p = Path(path)
    name = p.name.lower()
    try:
        if name.endswith((".nii", ".nii.gz")):
            import nibabel as nib

            return tuple(int(s) for s in nib.load(str(p)).header.get_data_shape())
        if name.endswith((".tif", ".tiff")):
            import tifffile

            with tifffile.TiffFile(str(p)) as tif:
                return tuple(int(s) for s in np.squeeze(np.empty(tif.series[0].shape, dtype=np.uint8)).shape)
        if name.endswith(FILE_ENDINGS_2D):
            from PIL import Image

            with Image.open(p) as im:
                return (im.size[1], im.size[0]) + ((len(im.getbands()),) if len(im.getbands()) > 1 else ())
        import itk

        io = itk.ImageIOFactory.CreateImageIO(str(p), itk.CommonEnums.IOFileMode_ReadMode)
        if io is None:
            raise DatasetError(f"{p}: ITK has no reader for this file; use NIfTI (.nii.gz), NRRD or MHA.")
        io.SetFileName(str(p))
        io.ReadImageInformation()
        return tuple(int(io.GetDimensions(i)) for i in range(io.GetNumberOfDimensions()))
    except DatasetError:
        raise
    except Exception as exc:
        raise DatasetError(f"{p}: header cannot be read ({type(exc).__name__}: {exc}); re-export the file.") from exc


def _to_meta(arr: np.ndarray, affine: np.ndarray, filename: str, **meta: Any) -> MetaTensor:
    out = MetaTensor(torch.as_tensor(arr), affine=torch.as_tensor(affine, dtype=torch.float64))
    out.meta["filename_or_obj"] = filename
    out.meta["spatial_shape"] = np.asarray(arr.shape[1:])
    out.meta["original_affine"] = np.asarray(affine)
    out.meta["original_channel_dim"] = "no_channel"
    out.meta.update(meta)
    return out


class LoadNnUNetCased(MapTransform):
    """Load an nnU-Net case: the channel files of ``image`` stacked channel-first, the ``label`` with one channel.

    ``data["image"]`` is one path or a list of paths (one per channel, in channel order); ``data["label"]`` one
    path. Every channel must have the shape of channel 0; the stacked image carries channel 0's affine, its file
    as ``filename_or_obj`` and every channel file in ``meta["channel_files"]``.

    Args:
        keys: keys to load (``("image", "label")``, or ``"image"`` for unlabelled cases).
        allow_missing_keys: skip keys absent from the data (a test case has no label).

    Returns (from ``__call__``):
        The dict with ``image`` a float32 :class:`~monai.data.MetaTensor` (C, *spatial) and ``label`` (1, *spatial)
        holding the label values as on disk.

    Raises:
        DatasetError: naming the file that cannot be decoded or whose shape differs from channel 0's.
    """

    def __init__(self, keys: KeysCollection = ("image", "label"), allow_missing_keys: bool = True) -> None:
        super().__init__(keys, allow_missing_keys)

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            files = d[key]
            files = [str(files)] if isinstance(files, (str, os.PathLike)) else [str(f) for f in files]
            arrays = []
            affine = None
            for f in files:
                arr, aff = read_channel_file(f)
                if arrays and arr.shape != arrays[0].shape:
                    raise DatasetError(
                        f"{f}: shape {tuple(arr.shape)} differs from {tuple(arrays[0].shape)} of the case's first "
                        f"channel {files[0]}; every channel of a case must be on the same grid."
                    )
                affine = aff if affine is None else affine
                arrays.append(arr)
            d[key] = _to_meta(np.stack(arrays), affine, files[0], channel_files=files)
        return d


def load_case(case: Mapping[str, Any]) -> dict[Hashable, Any]:
    """Convenience: :class:`LoadNnUNetCased` on one case dict of a :class:`~formats.DatasetSpec`."""
    return LoadNnUNetCased()(dict(case))
