"""Loading volumes so that a file that cannot be decoded is named in the error."""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import torch
from monai.data import ImageReader, MetaTensor
from monai.transforms import LoadImaged

from data.errors import DatasetError
from data.headers import ITK_SUFFIXES, NIFTI_SUFFIXES, image_suffix
from data.nifti_reader import NiftiReader
from transforms.checks import ReportsLastFailure

__all__ = ["AFFINE_TOLERANCE_MM", "READER_BY_SUFFIX", "LoadVolumed"]

AFFINE_TOLERANCE_MM = 1e-3  # files whose affines differ by at most this (header rounding) share one voxel grid
logger = logging.getLogger(__name__)

# The one reader that reads each format (reader=None): no fallback to another reader when it fails.
READER_BY_SUFFIX = {
    **{suffix: "NiftiReader" for suffix in NIFTI_SUFFIXES},
    **{suffix: "ITKReader" for suffix in ITK_SUFFIXES},
    "<folder>": "ITKReader",  # a DICOM series (GDCM)
}


class _FileNamingLoader:
    """Wraps a ``LoadImage`` so that any error while reading ``filename`` becomes a :class:`DatasetError` naming it.

    With ``exclusive_reader``, calls without a run-time reader use only that reader (no fallback). Without one,
    ``by_suffix`` maps a file suffix (``"<folder>"`` for a folder) to the name of the only registered reader used
    for it; other files go through ``LoadImage``'s own choice.
    """

    def __init__(
        self, loader: Any, exclusive_reader: ImageReader | None = None, by_suffix: dict[str, str] | None = None
    ) -> None:
        self.loader = loader
        self.exclusive_reader = exclusive_reader
        self.by_suffix = dict(by_suffix or {})

    def _reader_for(self, filename: Any) -> ImageReader | None:
        if self.exclusive_reader is not None or not isinstance(filename, (str, os.PathLike)):
            return self.exclusive_reader
        name = self.by_suffix.get("<folder>" if os.path.isdir(filename) else image_suffix(filename))
        for reader in self.loader.readers[::-1]:
            if type(reader).__name__ == name:
                return reader
        return None

    @property
    def image_only(self) -> bool:
        return self.loader.image_only

    def register(self, reader: ImageReader) -> None:
        self.loader.register(reader)

    def __call__(self, filename: Any, reader: ImageReader | None = None) -> Any:
        reader = reader if reader is not None else self._reader_for(filename)
        try:
            return self.loader(filename, reader)
        except Exception as err:  # readers raise anything from EOFError (truncated .gz) to ITK's RuntimeError
            if isinstance(filename, (list, tuple)) and len(filename) > 1 and "affine" in str(err):
                stacked = self._stack_on_first_grid(filename, reader)
                if stacked is not None:
                    return stacked
            name = self._culprit(filename, reader)
            raise DatasetError(f"{name}: cannot read the volume ({type(err).__name__}: {err})") from err

    def _stack_on_first_grid(self, filenames: Sequence[Any], reader: ImageReader | None) -> MetaTensor | None:
        """Stack files whose affines differ by at most ``AFFINE_TOLERANCE_MM`` (header rounding) with the first's.

        MONAI's readers stack files as channels only when their affines agree to ``np.allclose``'s default
        tolerance. Returns None when this does not apply (other errors are then reported as usual).

        Raises:
            DatasetError: a file's affine differs by more than the tolerance; the message names it.
        """
        try:
            parts = [self.loader(name, reader) for name in filenames]
        except Exception:  # one file is unreadable on its own: the caller names it
            return None
        if not all(isinstance(p, MetaTensor) for p in parts) or len({tuple(p.shape) for p in parts}) > 1:
            return None
        first = parts[0].affine.double()
        for name, part in zip(filenames[1:], parts[1:]):
            shift = float((part.affine.double() - first).abs().max())
            if shift > AFFINE_TOLERANCE_MM:
                raise DatasetError(
                    f"{name}: affine differs from {filenames[0]}'s by up to {shift:.4g} (> {AFFINE_TOLERANCE_MM} mm); "
                    "the modalities of a case are stacked as channels on one voxel grid: resample the file or fix its "
                    "header"
                )
            if shift > 0:
                logger.warning(f"{name}: affine differs from {filenames[0]}'s by {shift:.2g} mm; stacked on its grid")
        meta = dict(parts[0].meta, original_channel_dim=0)
        return MetaTensor(torch.stack([p.as_tensor() for p in parts]), affine=parts[0].affine, meta=meta)

    def _culprit(self, filename: Any, reader: ImageReader | None) -> str:
        """The file of a list (modalities stacked as channels) that fails alone; all of them if none does."""
        if not isinstance(filename, (list, tuple)) or len(filename) < 2:
            return str(filename[0] if isinstance(filename, (list, tuple)) and filename else filename)
        for name in filename:
            try:
                self.loader(name, reader)
            except Exception:  # the same errors as above, now for one file
                return str(name)
        return f"{', '.join(map(str, filename))} (each readable alone, not together)"


class LoadVolumed(ReportsLastFailure, LoadImaged):
    """MONAI's :class:`~monai.transforms.LoadImaged` whose read errors name the file.

    A file whose header is fine but whose voxel data cannot be decoded (a truncated ``.nii.gz``, a disk error)
    passes the header checks of the MSD discovery (:mod:`formats.msd.discovery`) and fails only here, when the
    volume is decoded. MONAI's readers then raise errors such as ``EOFError: Compressed file ended before the
    end-of-stream marker was reached`` that do not say which file. This transform raises
    :class:`~data.DatasetError` starting with the file name instead (the reader's error is its
    ``__cause__``), and, like :class:`~transforms.CheckVolumed`, keeps the message in ``str()`` so that it shows
    in the ``RuntimeError("applying transform ...")`` of MONAI's ``Compose``. When one item lists several files
    (BraTS modalities stacked as channels), the error names the one that fails, and the loaded ``MetaTensor``
    keeps the list as ``meta["source_files"]`` so that :class:`~transforms.CheckVolumed` can name the file of a bad
    channel. Files of one item whose affines differ only by header rounding (at most ``AFFINE_TOLERANCE_MM``,
    where MONAI's readers accept no difference at all) are stacked on the first file's grid with a logged warning;
    a larger difference is a :class:`~data.DatasetError` naming the file.

    One difference in behaviour: each file is read by one reader only. ``LoadImaged`` falls back to every other
    installed reader when the designated one fails, and ITK, for one, "reads" a ``.nii.gz`` truncated inside its
    header without an error, returning mostly zeros. Given one ``reader``, only that reader is used; with
    ``reader=None`` the reader is chosen by suffix (:data:`READER_BY_SUFFIX`):

    - ``.nii``, ``.nii.gz``: :class:`~data.nifti_reader.NiftiReader`, MONAI's ``NibabelReader`` with ``.gz`` inflated
      by ISA-L and a file with channels on its last axis returned channel-first, ``(c, x, y, z)`` with
      ``original_channel_dim`` 0 (after ``EnsureChannelFirstd`` the same tensor, affine and header metadata as the
      stock reader's);
    - ``.nrrd``, ``.nhdr``, ``.mha``, ``.mhd``, ``.dcm`` and a folder holding one DICOM series: ``ITKReader`` (ITK,
      GDCM for DICOM; the voxel order and RAS affine are those nibabel gives for the same volume);
    - anything else (``.png``, ``.jpg``, ``.bmp``, ``.tif``, ``.npy``, ...): ``LoadImage``'s own choice
      (``PILReader`` for the images, ``NumpyReader``, ...).

    Args:
        keys: keys of the file names to load.
        reader: reader name, class or instance used exclusively (e.g. ``"NibabelReader"``); a sequence of readers
            (``LoadImaged``'s choice among them), or None (one reader per suffix, see above).
        args, kwargs: the other arguments of ``LoadImaged``.
    """

    def __init__(self, keys: Any, reader: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(keys, reader, *args, **kwargs)
        if reader is None:  # READER_BY_SUFFIX's NIfTI reader, after LoadImage's defaults, with their reader arguments
            own = inspect.signature(LoadImaged.__init__).parameters
            self._loader.register(NiftiReader(**{k: v for k, v in kwargs.items() if k not in own}))
        single = reader is not None and not isinstance(reader, (list, tuple))
        # LoadImage registers the designated reader after its defaults
        self._loader = _FileNamingLoader(
            self._loader, self._loader.readers[-1] if single else None, READER_BY_SUFFIX if reader is None else None
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(keys={self.keys})"

    def __call__(self, data: Mapping[Hashable, Any], reader: ImageReader | None = None) -> dict[Hashable, Any]:
        """Load every key of ``data`` (file names) like ``LoadImaged``.

        Raises:
            DatasetError: a file cannot be read or decoded; the message starts with its name.
        """
        self._clear_failure()
        try:
            d = super().__call__(data, reader)
        except DatasetError as err:
            self._record_failure(str(err))
            raise
        for key in self.key_iterator(d):
            files = data.get(key)
            if isinstance(files, (list, tuple)) and len(files) > 1 and isinstance(getattr(d[key], "meta", None), dict):
                d[key].meta["source_files"] = [str(f) for f in files]  # one file per channel, for error messages
        return d
