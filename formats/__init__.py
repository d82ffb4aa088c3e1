"""Data formats as plug-ins: one folder per on-disk layout, each with the same parts, registered once in
:data:`FORMATS` (see :mod:`formats.registry` and docs/adding_a_data_format.md)."""

from formats.registry import FORMATS, DataFormat, DatasetSpec, FormatRegistry
import formats.nnunet_v2  # noqa: F401,E402  (registers the plug-in)

# one line per format: importing the folder registers its plug-in
import formats.brats2020  # noqa: E402,F401  isort: skip
import formats.figshare  # noqa: E402,F401  isort: skip
import formats.isbi2012  # noqa: E402,F401  isort: skip
import formats.msd  # noqa: E402,F401  isort: skip
import formats.png_pairs  # noqa: E402,F401  isort: skip

__all__ = ["FORMATS", "DataFormat", "DatasetSpec", "FormatRegistry"]
