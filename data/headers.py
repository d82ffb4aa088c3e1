"""Image shapes read from file headers only, in the axis order of MONAI's readers, for checks before training.

A data-list builder checks that an image and its mask agree before any voxel is decoded, so a bad pair fails
at start-up with its file names instead of deep inside a training run. The shape is the one MONAI's
``LoadImage`` gives the array before ``EnsureChannelFirst``: NIfTI ``(X, Y, Z[, C])`` through nibabel;
``.nrrd``/``.mha``/``.mhd``/``.nii`` read by ITK ``(X, Y[, Z])`` with a trailing channel axis for
multi-component pixels; PNG/JPEG/BMP/TIFF through Pillow ``(width, height[, C])`` (``PILReader`` swaps the
first two axes of the numpy array); DICOM series folders through ITK.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import nibabel as nib
import numpy as np

from data.errors import DatasetError

__all__ = [
    "ITK_SUFFIXES",
    "NIFTI_SUFFIXES",
    "PIL_SUFFIXES",
    "case_id_from_path",
    "file_problem",
    "image_suffix",
    "read_image_header",
    "read_image_shape",
]

NIFTI_SUFFIXES = (".nii.gz", ".nii")
ITK_SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd", ".dcm")
PIL_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def file_problem(path: str | os.PathLike) -> str | None:
    """What keeps ``path`` from being read, before any reader tries it, or None.

    Returns:
        ``"file not found"``, ``"symbolic link loop (...)"``, ``"broken symbolic link to <target>"``, ``"empty
        file (0 bytes) ..."``, ``"cannot be opened (<reason>)"``; None for a non-empty file or a folder.
    """
    try:
        info = os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symbolic link loop (the link leads back to itself); replace it with the file or a link to it"
        if os.path.islink(path):
            return f"broken symbolic link to {os.readlink(path)} (no such file)"
        if err.errno == errno.ENOENT:
            return "file not found"
        return f"cannot be opened ({err.strerror})"
    if stat.S_ISREG(info.st_mode) and info.st_size == 0:
        return "empty file (0 bytes); copy it again from the source"
    return None


def image_suffix(path: str | os.PathLike) -> str:
    """Lower-case suffix, with ``.nii.gz`` as one suffix (``"a/b.NII.GZ"`` -> ``".nii.gz"``); ``""`` for none."""
    name = Path(path).name.lower()
    if name.endswith(".nii.gz"):
        return ".nii.gz"
    return Path(name).suffix


def case_id_from_path(path: str | os.PathLike) -> str:
    """Case id of a volume file: its name without the image suffix (``.../BRATS_001.nii.gz`` -> ``BRATS_001``,
    ``BRATS_001.nrrd`` -> ``BRATS_001``; a DICOM series folder: its name)."""
    name = Path(path).name
    suffix = image_suffix(name)
    return name[: -len(suffix)] if suffix else name


def _itk_shape(path: str) -> tuple[int, ...]:
    import itk  # imported here: ITK's lazy loading costs a second or two on first use

    if os.path.isdir(path):
        names = itk.GDCMSeriesFileNames.New()
        names.SetDirectory(path)
        uids = names.GetSeriesUIDs()
        if not uids:
            raise ValueError("no DICOM series in the folder")
        files = names.GetFileNames(uids[0])
        image_io = itk.ImageIOFactory.CreateImageIO(files[0], itk.CommonEnums.IOFileMode_ReadMode)
        image_io.SetFileName(files[0])
        image_io.ReadImageInformation()
        dims = [image_io.GetDimensions(i) for i in range(image_io.GetNumberOfDimensions())]
        return (*dims[:2], len(files))
    image_io = itk.ImageIOFactory.CreateImageIO(path, itk.CommonEnums.IOFileMode_ReadMode)
    if image_io is None:
        raise ValueError("no ITK ImageIO can read this file")
    image_io.SetFileName(path)
    image_io.ReadImageInformation()
    dims = tuple(int(image_io.GetDimensions(i)) for i in range(image_io.GetNumberOfDimensions()))
    components = int(image_io.GetNumberOfComponents())
    return dims + ((components,) if components > 1 else ())


def _pil_shape(path: str) -> tuple[int, ...]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            width, height = img.size
            channels = len(img.getbands())
    except UnidentifiedImageError:
        if image_suffix(path) not in (".tif", ".tiff"):
            raise
        import tifffile  # TIFFs Pillow cannot open (5 samples per pixel, float16 ...): the first page's shape

        with tifffile.TiffFile(path) as tif:
            shape = tuple(int(s) for s in tif.pages[0].shape)
        width, height, channels = shape[1], shape[0], (shape[2] if len(shape) > 2 else 1)
    return (width, height) + ((channels,) if channels > 1 else ())


def _gzip_problem(path: str) -> str | None:
    """What is wrong with the start of a ``.gz`` stream (a NIfTI header is in its first 540 bytes), else None."""
    import gzip

    try:
        with gzip.open(path, "rb") as handle:
            handle.read(540)
    except Exception as err:  # EOFError (truncated), BadGzipFile, zlib.error
        return f"{type(err).__name__}: {err}"
    return None


def read_image_shape(path: str | os.PathLike) -> tuple[int, ...]:
    """Array shape of an image file as MONAI's ``LoadImage`` will give it, from the header only
    (:func:`read_image_header` without the affine; same arguments and errors)."""
    return read_image_header(path)[0]


def read_image_header(path: str | os.PathLike) -> tuple[tuple[int, ...], np.ndarray | None]:
    """Array shape of an image file as MONAI's ``LoadImage`` will give it, and for NIfTI its affine, from the header
    only (one header read).

    Args:
        path: a NIfTI (``.nii``, ``.nii.gz``), ITK (``.nrrd``, ``.mha``, ``.mhd``, ``.dcm``), Pillow (``.png``,
            ``.jpg``, ``.bmp``, ``.tif``) file, or a folder holding one DICOM series.

    Returns:
        The shape, channels (if any) last: NIfTI ``img.shape``; ITK ``(X, Y[, Z][, C])``; Pillow
        ``(width, height[, C])``; DICOM folder ``(X, Y, number of slices)``. Then the NIfTI voxel-to-world affine
        (float64, 4 x 4), or None for the other formats.

    Raises:
        DatasetError: the file is missing, empty, a symbolic link loop, or its header cannot be read; the message
            names the file.
    """
    path = str(path)
    problem = file_problem(path)
    if problem is not None:
        raise DatasetError(f"{path}: {problem}.")
    suffix = image_suffix(path)
    try:
        if os.path.isdir(path):
            return _itk_shape(path), None
        if suffix in NIFTI_SUFFIXES:
            header = nib.load(path)
            return tuple(int(s) for s in header.shape), np.asarray(header.affine, dtype=np.float64)
        if suffix in PIL_SUFFIXES:
            return _pil_shape(path), None
        return _itk_shape(path), None
    except Exception as err:  # each library raises its own error types for unreadable headers
        broken = _gzip_problem(path) if path.lower().endswith(".gz") else None
        if broken is not None:
            raise DatasetError(f"{path}: cannot read the image header: truncated or corrupt gzip ({broken})") from err
        raise DatasetError(f"{path}: cannot read the image header ({type(err).__name__}: {err})") from err
