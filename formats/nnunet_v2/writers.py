"""Writing a label map (a prediction) back in the geometry and file format of a case's input file, as nnU-Net
writes ``{case}{file_ending}``: same shape, affine / spacing / origin / direction and header, integer values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from data.errors import DatasetError
from formats.nnunet_v2.readers import FILE_ENDINGS_2D, read_channel_file

__all__ = ["write_label_like"]


def _integer(label: np.ndarray) -> np.ndarray:
    values = np.rint(label)
    if values.size and (values.min() < 0 or values.max() > 65535):
        raise ValueError(f"label values must be in 0..65535, found {values.min()}..{values.max()}.")
    return values.astype(np.uint8 if not values.size or values.max() <= 255 else np.uint16)


def write_label_like(label: Any, reference: str | os.PathLike, out_file: str | os.PathLike) -> Path:
    """Write ``label`` with the geometry and format of ``reference`` (a channel file of the case).

    Args:
        label: the label map as :func:`~formats.nnunet_v2.readers.read_channel_file` orders the reference's voxels
            ((x, y, z) for volumes, (H, W) for 2D images), optionally with a leading channel of 1; values are
            rounded to integers (uint8, or uint16 above 255).
        reference: the input file whose geometry the output takes (its header is read, its voxels are not kept).
        out_file: the file to write; its ending chooses the writer (``.nii.gz`` / ``.nii`` with nibabel, other 3D
            endings with ITK, ``.png`` / ``.bmp`` with Pillow, ``.tif`` / ``.tiff`` with tifffile). Parent folders
            are created.

    Returns:
        ``out_file`` as a :class:`~pathlib.Path`.

    Raises:
        DatasetError: ``label``'s shape differs from the reference's (naming both files).
    """
    ref, out = Path(reference), Path(out_file)
    arr = np.asarray(label.detach().cpu() if hasattr(label, "detach") else label)
    ref_shape = read_channel_file(ref)[0].shape
    if arr.ndim == len(ref_shape) + 1 and arr.shape[0] == 1:
        arr = arr[0]
    if tuple(arr.shape) != tuple(ref_shape):
        raise DatasetError(
            f"{out}: label of shape {tuple(arr.shape)} cannot take the geometry of {ref} (shape {tuple(ref_shape)}); "
            "invert the resampling and cropping first."
        )
    values = _integer(arr)
    out.parent.mkdir(parents=True, exist_ok=True)
    name = out.name.lower()
    if name.endswith((".tif", ".tiff")):
        import tifffile

        tifffile.imwrite(str(out), values)
    elif name.endswith(FILE_ENDINGS_2D):
        from PIL import Image

        Image.fromarray(values).save(out)
    elif name.endswith((".nii", ".nii.gz")) and ref.name.lower().endswith((".nii", ".nii.gz")):
        import nibabel as nib

        img = nib.load(str(ref))
        header = img.header.copy()
        header.set_data_dtype(values.dtype)
        header.set_slope_inter(1.0, 0.0)
        nib.save(nib.Nifti1Image(values, img.affine, header), str(out))
    else:
        import itk

        ref_img = itk.imread(str(ref))
        out_img = itk.image_from_array(np.ascontiguousarray(values.transpose()))  # ITK's numpy view is reversed
        out_img.SetSpacing(ref_img.GetSpacing())
        out_img.SetOrigin(ref_img.GetOrigin())
        out_img.SetDirection(ref_img.GetDirection())
        itk.imwrite(out_img, str(out), compression=True)
    return out
