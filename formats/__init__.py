"""Data formats as plug-ins: one folder per on-disk layout, each with the same parts, registered once in
:data:`FORMATS` (see :mod:`formats.registry` and docs/adding_a_data_format.md)."""

from formats.registry import FORMATS, DataFormat, DatasetSpec, FormatRegistry
import formats.nnunet_v2  # noqa: F401,E402  (registers the plug-in)

__all__ = ["FORMATS", "DataFormat", "DatasetSpec", "FormatRegistry"]
