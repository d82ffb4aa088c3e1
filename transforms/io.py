"""Loading volumes so that a file that cannot be decoded is named in the error."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from typing import Any

from monai.data import ImageReader
from monai.transforms import LoadImaged

from transforms.checks import DatasetError, ReportsLastFailure
from transforms.image_headers import ITK_SUFFIXES, NIFTI_SUFFIXES, image_suffix

__all__ = ["READER_BY_SUFFIX", "LoadVolumed"]

# The one reader that reads each format (reader=None): no fallback to another reader when it fails.
READER_BY_SUFFIX = {
    **{suffix: "NibabelReader" for suffix in NIFTI_SUFFIXES},
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
        try:
            return self.loader(filename, reader if reader is not None else self._reader_for(filename))
        except Exception as err:  # readers raise anything from EOFError (truncated .gz) to ITK's RuntimeError
            raise DatasetError(f"{filename}: cannot read the volume ({type(err).__name__}: {err})") from err


class LoadVolumed(ReportsLastFailure, LoadImaged):
    """MONAI's :class:`~monai.transforms.LoadImaged` whose read errors name the file.

    A file whose header is fine but whose voxel data cannot be decoded (a truncated ``.nii.gz``, a disk error)
    passes the header checks of :func:`transforms.load_msd_datalist` and fails only here, when the volume is
    decoded. MONAI's readers then raise errors such as ``EOFError: Compressed file ended before the
    end-of-stream marker was reached`` that do not say which file. This transform raises
    :class:`~transforms.DatasetError` starting with the file name instead (the reader's error is its
    ``__cause__``), and, like :class:`~transforms.CheckVolumed`, keeps the message in ``str()`` so that it shows
    in the ``RuntimeError("applying transform ...")`` of MONAI's ``Compose``.

    One difference in behaviour: each file is read by one reader only. ``LoadImaged`` falls back to every other
    installed reader when the designated one fails, and ITK, for one, "reads" a ``.nii.gz`` truncated inside its
    header without an error, returning mostly zeros. Given one ``reader``, only that reader is used; with
    ``reader=None`` the reader is chosen by suffix (:data:`READER_BY_SUFFIX`):

    - ``.nii``, ``.nii.gz``: MONAI's ``NibabelReader`` (nibabel);
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
            return super().__call__(data, reader)
        except DatasetError as err:
            self._record_failure(str(err))
            raise
